"""The `harness` command line: one group, with a subcommand (or subgroup) per part of the harness.

Subcommands are imported only when called, so `harness --help` stays fast and a command whose
optional dependencies are missing cannot break the others.
"""

from __future__ import annotations

import importlib

import click

from harness import __version__

# name -> "module:attribute" of the click command. Add a line here when adding a command.
COMMANDS = {
    "check": "harness.cli.check:check",
    "doctor": "harness.cli.doctor:doctor",
    "format": "harness.cli.format:format_",
    "import": "harness.cli.import_:import_",
    "jsonl": "harness.cli.jsonl:jsonl",
    "model": "harness.cli.model:model",
    "new": "harness.cli.new:new",
    "plugins": "harness.cli.plugins:plugins",
    "raft": "harness.cli.raft:raft",
    "rlvr": "harness.cli.rlvr:rlvr",
    "rollouts": "harness.cli.rollouts:rollouts",
    "sandbox": "harness.cli.sandbox:sandbox",
    "schema": "harness.cli.schema:schema",
    "train": "harness.cli.train:train",
    "verify": "harness.cli.verify:verify",
    "view": "harness.cli.view:view",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="harness")
def cli() -> None:
    """rollout-harness: generate, verify, doctor and format multi-turn agent rollouts.

    Every bulk JSONL job (scan, dedup, split, filter, count) runs in Rust: see
    `harness jsonl --help`. Environments, verifiers, formatters and backends come from
    plugins: see `harness plugins`.
    """


def main() -> None:
    cli()
