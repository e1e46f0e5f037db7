"""`harness import seed000|seed001|seed002 FILES… -o DIR`: the seeds' own files → episode shards."""

from __future__ import annotations

from typing import Any

import click

from harness.importers.run import ImportConfig
from harness.options import click_options, from_cli

WHAT = {
    "seed000": "seed 000 data-analysis episode records (episodes.jsonl)",
    "seed001": "seed 001 Connections rollout records (results_*.jsonl)",
    "seed002": "seed 002 search-agent traces ({question, trace})",
}


@click.group(name="import")
def import_() -> None:
    """Import the seeds' own files as episode records, which every other stage reads.

    Each input file gives the episode shard of the same name in the output directory, then
    manifest.json. Nothing the formatters need is lost: what the episode has no place for is
    kept in its `info` (see docs/formats.md).
    """


def _command(seed: str) -> click.Command:
    @click.argument("files", nargs=-1, required=True, type=click.Path(exists=True))
    @click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
                  help="Directory for the episode shards and manifest.json.")
    @click_options(ImportConfig, exclude=["importer"])
    def command(files: tuple[str, ...], output: str, **values: Any) -> None:
        from harness.formats import FormatError
        from harness.importers.run import import_files
        from harness.jsonl import JsonlError

        try:
            report = import_files(list(files), output, from_cli(ImportConfig, values, importer=seed))
        except (FormatError, JsonlError, ValueError, OSError, RuntimeError) as err:
            raise click.ClickException(str(err)) from None
        click.echo(f"{report.summary()} -> {output}", err=True)

    command.__doc__ = f"Import FILES of {WHAT[seed]} into OUTPUT."
    return import_.command(name=seed)(command)


for _seed in WHAT:
    _command(_seed)
