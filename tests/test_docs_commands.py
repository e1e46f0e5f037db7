"""Every `harness …` and `luigi --module …` command line shown in the README and docs/ names a
command, options and Luigi parameters that exist: docs that match the code. (What the commands
do is tested where each stage is; this catches a renamed option or task left behind in a page.)"""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import click
import luigi
import pytest

from harness.cli import cli
from harness.cli.default_group import DefaultGroup

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
INLINE = re.compile(r"`((?:harness|luigi --module) [^`]+)`")
SHELL = {"", "bash", "sh", "shell", "console"}


def command_lines(page: Path) -> list[tuple[int, str]]:
    """(line number, command) of every shell command in the page: in shell code blocks (fenced or
    indented), continuation lines joined, a leading `$ `, `.venv/bin/` or `python -m` dropped, and
    in inline code spans. A line with an ellipsis is a sketch, not a command."""
    found = []
    fence: str | None = None
    pending: tuple[int, str] | None = None
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fence = line.strip()[3:].strip() if fence is None else None
            continue
        in_block = (fence is not None and fence in SHELL) or (fence is None and line.startswith("    "))
        if pending is not None:
            start, text = pending
            text += " " + line.strip()
            pending = (start, text[:-1]) if text.endswith("\\") else None
            if pending is None:
                found.append((start, text))
            continue
        if in_block:
            command = re.sub(r"^(\$ )?(\S*\.venv/bin/)?(\S*python3? -m )?", "", line.strip())
            if re.match(r"(harness|luigi) ", command):
                if command.endswith("\\"):
                    pending = (number, command[:-1])
                else:
                    found.append((number, command))
        elif fence is None:
            found += [(number, m.group(1)) for m in INLINE.finditer(line)]
    return [(n, c.split(" #")[0].strip()) for n, c in found if "…" not in c and "..." not in c]


CASES = [pytest.param(page, number, command, id=f"{page.name}:{number}")
         for page in PAGES for number, command in command_lines(page)]


def options_of(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        names.update(param.opts)
        names.update(param.secondary_opts)
    return names


def check_harness(words: list[str]) -> None:
    command: click.Command = cli
    rest = words[1:]
    ctx = click.Context(cli)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        if rest[0].isupper():  # a placeholder: `harness COMMAND --help`
            return
        if "|" in rest[0]:  # alternatives: `harness import seed000|seed001`
            for alternative in rest[0].split("|"):
                check_harness([words[0], *words[1:len(words) - len(rest)], alternative, *rest[1:]])
            return
        sub = command.get_command(ctx, rest[0])
        if sub is None and isinstance(command, DefaultGroup):  # `harness train FILES` is `train sft FILES`
            sub, rest = command.get_command(ctx, command.default_command), ["", *rest]
        assert sub is not None, f"no command `{rest[0]}` under `{command.name}`"
        command, rest = sub, rest[1:]
    if isinstance(command, click.Group):
        assert not rest or rest[0] in ("--help", "-h"), f"`{command.name}` needs a subcommand"
        return
    known = options_of(command)
    for word in rest:
        if word.startswith("-") and word != "-":
            name = word.split("=", 1)[0]
            assert name in known, f"`{command.name}` has no option {name} (it has {sorted(known)})"


def check_luigi(words: list[str]) -> None:
    assert words[1] == "--module", "a Luigi command line starts `luigi --module MODULE TASK`"
    module = importlib.import_module(words[2])
    task = getattr(module, words[3], None)
    assert isinstance(task, type) and issubclass(task, luigi.Task), f"{words[2]} has no task {words[3]}"
    known = {"--" + name.replace("_", "-") for name, _ in task.get_params()}
    known |= {"--local-scheduler", "--workers", "--scheduler-host", "--scheduler-port", "--help", "--no-lock",
              "--log-level", "--logging-conf-file", "--help-all", "--assistant"}
    for word in words[4:]:
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            if re.match(r"--[A-Z]\w*-", name):  # --TaskFamily-param: a parameter of another task
                continue
            assert name in known, f"{words[3]} has no parameter {name}"


@pytest.mark.parametrize(("page", "number", "command"), CASES)
def test_the_command_exists(page: Path, number: int, command: str) -> None:
    words = shlex.split(command)
    (check_harness if words[0] == "harness" else check_luigi)(words)


def test_the_pages_show_commands() -> None:
    assert len(CASES) > 120  # the parser finds the pages' commands (a broken regex finds none)
