"""`harness new environment NAME`: a plugin package to start an environment from.

    from harness.scaffold import new_environment
    files = new_environment("word-guess", "harness-word-guess")

writes a package ready for `pip install -e`: a pyproject with the `harness` entry point, the
environment module (a small working game: unscramble a word), the plugin module registering
it, a test running the conformance check and one scripted episode through the engine, and a
README. The templates are package data (`harness/scaffold/environment/`, shipped in the
wheel); `PACKAGE` in a path becomes the package's name, `gitignore` becomes `.gitignore`, and
`${...}` in a file is one of the `Names` fields. The output appears whole or not at all.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from harness import __version__

__all__ = ["Names", "ScaffoldError", "names_for", "new_environment"]

NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
TAKEN = {"Environment", "Session", "Summary", "Message", "Outcome", "Step", "StepStatus", "Task"}
"""Class names the environment module imports already."""


class ScaffoldError(ValueError):
    """A name that cannot be an environment's, or an output directory in the way."""


@dataclass(frozen=True)
class Names:
    """Every name the templates use, derived from the environment's name (`word-guess`)."""

    env_name: str  # word-guess: what `--env` and the registry call it
    distribution: str  # harness-word-guess: what pip calls it
    package: str  # harness_word_guess: what Python imports
    entry_point: str  # word_guess: the entry point in the `harness` group
    class_name: str  # WordGuess: the Environment subclass
    directory: str  # where the package is written, as given
    harness_version: str
    summary: str = "unscramble a word, with feedback after each answer."


def names_for(name: str, directory: str | None = None) -> Names:
    if not NAME.fullmatch(name):
        raise ScaffoldError(f"{name!r} cannot name an environment: use lowercase letters, digits and "
                            "single hyphens, starting with a letter (e.g. word-guess)")
    snake = name.replace("-", "_")
    class_name = "".join(part.capitalize() for part in name.split("-"))
    if class_name in TAKEN:
        class_name += "Game"
    return Names(env_name=name, distribution=f"harness-{name}", package=f"harness_{snake}",
                 entry_point=snake, class_name=class_name,
                 directory=directory or f"harness-{name}", harness_version=__version__)


def templates() -> Traversable:
    return files("harness.scaffold") / "environment"


def _walk(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            out += _walk(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".tmpl"):
            out.append((prefix + entry.name.removesuffix(".tmpl"), entry))
    return out


def new_environment(name: str, output: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write the package for environment `name` into `output` (default `harness-NAME`), which
    must not exist or be empty; return the files written."""
    names = names_for(name, None if output is None else os.fspath(output))
    target = Path(names.directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not an empty directory; choose another "
                            "with -o DIR")
    target.parent.mkdir(parents=True, exist_ok=True)
    values = asdict(names)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    written = []
    try:
        for relative, template in _walk(templates()):
            relative = relative.replace("PACKAGE", names.package)
            if relative == "gitignore":
                relative = ".gitignore"
            try:
                text = Template(template.read_text(encoding="utf-8")).substitute(values)
            except (KeyError, ValueError) as exc:  # a template bug, named with its file
                raise RuntimeError(f"scaffold template {relative}: {exc!r}") from None
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(target / relative)
        staging.chmod(0o777 & ~_umask())
        if target.exists():
            target.rmdir()  # empty, checked above
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
