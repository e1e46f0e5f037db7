"""Stage settings, declared once.

Every stage of the harness (generate, verify, doctor, train, …) has one frozen dataclass holding
its settings. Each field is declared with `setting(...)`: its default, its help text and whether
it decides the stage's output (`content=True`, the default) or only how the work is run
(`content=False`: concurrency, progress, chunk sizes). From that one declaration come

- the `harness` command's options (`click_options`, read back with `from_cli`),
- the Luigi parameters of the stage's tasks (`luigi_parameters`, read back with `from_luigi`),
- the tables in the docs (`markdown_table`), checked against the code by a test,
- the settings a resumed stage must match and the hash of its output path
  (`content_settings`, `settings_digest`).

So one setting has one name (`samples_per_task`: `--samples-per-task` on both command lines),
one default and one help text everywhere. Plugin arguments (a `dict` field such as `env_args`)
are the one exception to the spelling, because a command-line option carries one value: the
`harness` command takes them as repeatable `--env-arg KEY=VALUE` (the value read as JSON when
it parses, as text otherwise), Luigi as one JSON object `--env-args '{"KEY": VALUE}'`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeVar

__all__ = [
    "Setting",
    "click_options",
    "content_settings",
    "from_cli",
    "from_luigi",
    "luigi_parameters",
    "markdown_table",
    "parse_plugin_args",
    "setting",
    "settings_digest",
    "settings_of",
    "sync_docs",
]

C = TypeVar("C")
F = TypeVar("F", bound=Callable[..., Any])

_NO_DEFAULT = dataclasses.MISSING


def setting(
    default: Any = _NO_DEFAULT,
    *,
    help: str,
    content: bool = True,
    factory: Callable[[], Any] | None = None,
    metavar: str | None = None,
) -> Any:
    """A dataclass field with what the command lines and docs need to know about it.

    `default` (or `factory` for a mutable default); no default makes the setting required.
    `content=False` marks settings that change how the work runs but never what it writes
    (they may differ between a run and its resume, and do not enter the output's hash)."""
    metadata = {"help": help, "content": content, "metavar": metavar}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting of a stage, as the generators see it."""

    name: str
    kind: str
    """`str`, `int`, `float`, `bool`, `list` (of strings), `dict` (plugin arguments) or `choice`."""
    optional: bool
    """`None` is a valid value (it means "not set": all tasks, the backend's default, …)."""
    required: bool
    default: Any
    help: str
    content: bool
    choices: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def cli_name(self) -> str:
        """The `harness` command's option: `--samples-per-task`, `--env-arg` for `env_args`."""
        if self.kind == "dict":
            return "--" + self.name.removesuffix("s").replace("_", "-")
        return "--" + self.name.replace("_", "-")

    @property
    def luigi_name(self) -> str:
        """The Luigi command line's option (Luigi turns `_` into `-` itself)."""
        return "--" + self.name.replace("_", "-")

    def default_text(self) -> str:
        """The default as the docs and `--help` show it."""
        if self.required:
            return "(required)"
        if self.default is None:
            return "none"
        if self.kind == "bool":
            return "true" if self.default else "false"
        if self.kind in ("list", "dict"):
            return json.dumps(self.default)
        return str(self.default)


def _kind(annotation: Any) -> tuple[str, bool, tuple[str, ...]]:
    """(kind, optional, choices) of a field's type annotation."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            raise TypeError(f"unsupported setting type {annotation!r}")
        annotation = args[0]
        origin = typing.get_origin(annotation)
    if origin is Literal:
        return "choice", optional, tuple(str(a) for a in typing.get_args(annotation))
    if annotation in (str, int, float, bool):
        return annotation.__name__, optional, ()
    if origin in (list, tuple):
        return "list", optional, ()
    if origin is dict:
        return "dict", optional, ()
    raise TypeError(f"unsupported setting type {annotation!r}")


def settings_of(cls: type) -> list[Setting]:
    """The settings of a stage's config dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with harness.options.setting()")
        kind, optional, choices = _kind(hints[f.name])
        required = f.default is _NO_DEFAULT and f.default_factory is _NO_DEFAULT
        default = None if required else (
            f.default_factory() if f.default_factory is not _NO_DEFAULT else f.default)
        out.append(Setting(f.name, kind, optional, required, default, f.metadata["help"],
                           f.metadata["content"], choices, f.metadata.get("metavar")))
    return out


# -- the harness command line ---------------------------------------------------------------


def parse_plugin_args(pairs: Iterable[str], option: str = "--arg") -> dict[str, Any]:
    """`KEY=VALUE` pairs → a dict; a value is read as JSON when it parses (`3`, `true`,
    `[1, 2]`, `"x"`), as text otherwise. `-` in keys becomes `_`."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{option}: expected KEY=VALUE, got {pair!r}")
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out


def click_options(cls: type, *, exclude: Iterable[str] = ()) -> Callable[[F], F]:
    """A decorator adding one click option per setting of `cls` (minus `exclude`)."""
    import click

    skip = set(exclude)

    def decorate(command: F) -> F:
        for s in reversed([s for s in settings_of(cls) if s.name not in skip]):
            command = _click_option(click, s)(command)
        return command

    return decorate


def _click_option(click: Any, s: Setting) -> Callable[[F], F]:
    kwargs: dict[str, Any] = {"help": s.help, "show_default": not s.required and s.default is not None}
    if s.kind == "bool":
        flag = s.cli_name.removeprefix("--")
        return click.option(f"--{flag}/--no-{flag}", s.name, default=bool(s.default), **kwargs)
    if s.kind == "list":
        kwargs.update(multiple=True, default=(), show_default=False, metavar=s.metavar or "TEXT")
        kwargs["help"] += " (repeatable)"
        return click.option(s.cli_name, s.name, **kwargs)
    if s.kind == "dict":
        kwargs.update(multiple=True, default=(), show_default=False, metavar="KEY=VALUE")
        kwargs["help"] += " (repeatable; VALUE is read as JSON when it parses)"
        return click.option(s.cli_name, s.name, **kwargs)
    types_ = {"str": str, "int": int, "float": float}
    kwargs["type"] = click.Choice(list(s.choices)) if s.kind == "choice" else types_[s.kind]
    if s.metavar:
        kwargs["metavar"] = s.metavar
    if s.required:
        kwargs["required"] = True
    else:
        kwargs["default"] = s.default
    return click.option(s.cli_name, s.name, **kwargs)


def from_cli(cls: type[C], values: dict[str, Any], **overrides: Any) -> C:
    """Build `cls` from a click command's keyword arguments: the settings' values are popped
    from `values` (what is left is the command's own options). Bad values raise ValueError."""
    kwargs: dict[str, Any] = {}
    for s in settings_of(cls):
        if s.name in overrides:
            values.pop(s.name, None)
            kwargs[s.name] = overrides[s.name]
            continue
        if s.name not in values:
            continue
        value = values.pop(s.name)
        if s.kind == "dict":
            value = parse_plugin_args(value, s.cli_name)
        elif s.kind == "list":
            value = list(value) if value else ([] if not s.optional else s.default)
        kwargs[s.name] = value
    return cls(**kwargs)


# -- Luigi ----------------------------------------------------------------------------------


def luigi_parameters(cls: type, *, exclude: Iterable[str] = (), defaults: Mapping[str, Any] | None = None) -> type:
    """A mixin class with one Luigi parameter per setting of `cls` (minus `exclude`).

    Settings that decide content are significant (they make the task's identity); the others
    are not. `defaults` overrides a default for this family of tasks only (a pipeline's demo
    size, say); the help text says so."""
    import luigi

    skip = set(exclude)
    attrs: dict[str, Any] = {"__doc__": f"Luigi parameters of {cls.__name__}."}
    for s in settings_of(cls):
        if s.name in skip:
            continue
        default = (defaults or {}).get(s.name, s.default)
        attrs[s.name] = _luigi_parameter(luigi, s, default, s.name in (defaults or {}))
    return type(f"{cls.__name__}Parameters", (), attrs)


def _luigi_parameter(luigi: Any, s: Setting, default: Any, overridden: bool) -> Any:
    kwargs: dict[str, Any] = {"description": s.help, "significant": s.content}
    if not s.required:
        kwargs["default"] = default
    base = {
        ("str", False): luigi.Parameter, ("str", True): luigi.OptionalParameter,
        ("int", False): luigi.IntParameter, ("int", True): luigi.OptionalIntParameter,
        ("float", False): luigi.FloatParameter, ("float", True): luigi.OptionalFloatParameter,
        ("list", False): luigi.ListParameter, ("list", True): luigi.OptionalListParameter,
        ("dict", False): luigi.DictParameter, ("dict", True): luigi.OptionalDictParameter,
    }
    if s.kind == "bool":
        return luigi.BoolParameter(parsing=luigi.BoolParameter.EXPLICIT_PARSING, **kwargs)
    if s.kind == "choice":
        cls = luigi.OptionalChoiceParameter if s.optional else luigi.ChoiceParameter
        return cls(choices=list(s.choices), var_type=str, **kwargs)
    return base[(s.kind, s.optional)](**kwargs)


def from_luigi(cls: type[C], task: Any, **overrides: Any) -> C:
    """Build `cls` from a Luigi task that has its parameters (frozen values thawed)."""
    from luigi.freezing import recursively_unfreeze

    kwargs: dict[str, Any] = {}
    for s in settings_of(cls):
        if s.name in overrides:
            kwargs[s.name] = overrides[s.name]
        elif hasattr(task, s.name):
            value = recursively_unfreeze(getattr(task, s.name))
            if s.kind == "list" and value is not None:
                value = [str(v) if not isinstance(v, (int, float, bool)) else v for v in value]
            kwargs[s.name] = value
    return cls(**kwargs)


# -- docs -----------------------------------------------------------------------------------


def markdown_table(cls: type, *, exclude: Iterable[str] = ()) -> str:
    """The docs table of a stage's settings: option (both command lines), default, meaning."""
    skip = set(exclude)
    rows = ["| setting | `harness` option | Luigi parameter | default | meaning |",
            "|---|---|---|---|---|"]
    for s in settings_of(cls):
        if s.name in skip:
            continue
        cli = f"`{s.cli_name} KEY=VALUE`" if s.kind == "dict" else f"`{s.cli_name}`"
        meaning = s.help + ("" if s.content else " (not part of the output's identity)")
        rows.append(f"| `{s.name}` | {cli} | `{s.luigi_name}` | `{s.default_text()}` | {meaning} |")
    return "\n".join(rows) + "\n"


# -- identity of an output ------------------------------------------------------------------


def content_settings(config: Any) -> dict[str, Any]:
    """The settings of `config` that decide what the stage writes, as plain JSON data."""
    values = {s.name: getattr(config, s.name) for s in settings_of(type(config)) if s.content}
    return json.loads(json.dumps(values, sort_keys=True, default=list))


def settings_digest(settings: Mapping[str, Any], *upstream: str, length: int = 10) -> str:
    """A short hash of content settings and the digests of the stages they read: the part of an
    output's path that changes whenever anything that decides its content changes."""
    text = json.dumps({"settings": settings, "upstream": list(upstream)}, sort_keys=True,
                      separators=(",", ":"), default=list)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


# -- the docs' tables, kept in step with the code --------------------------------------------

_DOCS_BLOCK = re.compile(r"(<!-- settings: (?P<cls>[\w.]+) -->\n)(?P<table>.*?)(<!-- /settings -->)", re.S)


def sync_docs(paths: Iterable[str], *, write: bool = False) -> list[str]:
    """The docs' settings tables that differ from the code, as `path: class` (rewritten when
    `write`). A table is written between `<!-- settings: module.Class -->` and
    `<!-- /settings -->`; `python -m harness.options docs/*.md` rewrites them all."""
    import importlib

    stale = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()

        def table(match: re.Match[str]) -> str:
            module, _, name = match["cls"].rpartition(".")
            expected = markdown_table(getattr(importlib.import_module(module), name))
            if match["table"] != expected:
                stale.append(f"{path}: {match['cls']}")  # noqa: B023 - re.sub calls it at once
            return match.group(1) + expected + match.group(4)

        updated = _DOCS_BLOCK.sub(table, text)
        if write and updated != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(updated)
    return stale


if __name__ == "__main__":
    import sys

    changed = sync_docs(sys.argv[1:], write=True)
    print("\n".join(f"rewrote {c}" for c in changed) or "every settings table is up to date")
