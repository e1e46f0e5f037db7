"""A click group with a default subcommand: `harness train FILES -o DIR` is `harness train sft
FILES -o DIR`, `harness doctor EPISODES -o OUT` is `harness doctor episodes EPISODES -o OUT`."""

from __future__ import annotations

from typing import Any

import click


class DefaultGroup(click.Group):
    """A group whose first argument, when it is not one of its subcommands (nor --help), is the
    first argument of `default_command`."""

    def __init__(self, *args: Any, default_command: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_command = default_command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)
