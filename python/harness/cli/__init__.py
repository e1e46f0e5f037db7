"""The `harness` command line: one group, with a subgroup per part of the harness."""

from __future__ import annotations

import click

from harness import __version__
from harness.cli.demo import demo
from harness.cli.jsonl import jsonl
from harness.cli.schema import schema


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="harness")
def cli() -> None:
    """rollout-harness: generate, verify, doctor and format multi-turn agent rollouts.

    Every bulk JSONL job (scan, dedup, split, filter, count) runs in Rust: see
    `harness jsonl --help`.
    """


cli.add_command(jsonl)
cli.add_command(demo)
cli.add_command(schema)


def main() -> None:
    cli()
