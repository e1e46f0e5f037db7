"""`harness schema`: print or write the published JSON Schema of the episode record."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write it here instead of stdout."
)
def schema(output: Path | None) -> None:
    """The JSON Schema of the episode record (docs/episode.schema.json)."""
    from harness.episode import episode_json_schema, write_schema

    if output is None:
        click.echo(json.dumps(episode_json_schema(), indent=2, ensure_ascii=False))
    else:
        write_schema(output)
        click.echo(f"wrote {output}", err=True)
