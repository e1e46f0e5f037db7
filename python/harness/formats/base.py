"""The formatter shape: one episode in, zero or more training rows out.

A formatter is a class with a `name` (what the registry, the CLI and the Luigi tasks call it)
and a `format(episode)` method that turns one `harness.episode.Episode` into an iterable of
output rows (dicts). Options are constructor keyword arguments (`--formatter-arg KEY=VALUE`).
Formatters hold no state between episodes, so a file of any size streams through one in
constant memory (`harness.formats.run.format_file` does the reading, filtering, hooking and
writing).

What a formatter declares, besides `format`:

- `env`: the environment whose episodes it reads (`data-analysis`, `search`), or None for any;
  `reads_env(episode)` decides it (a formatter may accept more than one name). Episodes of
  another environment are counted and named, never silently dropped: "0 of 4 episodes are
  data-analysis episodes (4 connections)".
- `applies(episode)`: None, or why this episode gives no row although its environment is right
  ("failed with an error"); counted by reason.
- `success_only`: whether a run leaves out, by default, episodes that did not succeed
  (`outcome.success` is not true). True for supervised data (a losing game is not worth
  imitating); False for RL data, which needs failures too. `--include-failed` turns it off.
- `reads = "rows"` for the one kind of input that is no episode: seed 004's student-code rows
  (see harness.formats.student_code for why they are not imported as episodes). Such a
  formatter gets the parsed JSON record.

A record a formatter cannot read raises `RecordError(field, reason)`; the runner adds the file
and line, so the user sees `shard-00000.jsonl:12: /steps/0/info/code: expected a string`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from harness.errors import LocatedError

if TYPE_CHECKING:
    from harness.episode import Episode

__all__ = ["FormatError", "Formatter", "RecordError", "optional_objects", "optional_text", "require"]


class RecordError(LocatedError):
    """An input record a formatter cannot turn into rows; `field` is a JSON pointer. The runner
    re-raises it as a `FormatError` with the file and line."""

    def __init__(self, field: str, reason: str):
        super().__init__(None, None, field, reason)

    def __reduce__(self):
        return (type(self), (self.field, self.reason))


class FormatError(LocatedError):
    """A `RecordError` (or an invalid episode) located in its input file."""


class Formatter(ABC):
    """Subclasses set `name` (and `description`), take options as keyword arguments, and
    implement `format`; see the module docstring for `env`, `applies`, `success_only`, `reads`.

    `json_columns` names output fields whose values have no fixed type (a hook's value may be
    a number, a list or an object): the Parquet writer stores them as JSON text, since a Parquet
    column has one type. JSONL output keeps them as they are. `non_finite = "allow"` lets JSONL
    rows hold bare NaN/Infinity (seed 000's values, which `json.dumps` wrote so).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    json_columns: ClassVar[tuple[str, ...]] = ()
    env: ClassVar[str | None] = None
    success_only: ClassVar[bool] = True
    reads: ClassVar[Literal["episodes", "rows"]] = "episodes"
    non_finite: ClassVar[Literal["error", "allow"]] = "error"

    def parquet_schema(self) -> Any:
        """The pyarrow schema of the rows, or None to infer it from the first row group."""
        return None

    def reads_env(self, episode: Episode) -> bool:
        """Whether `episode` comes from an environment this formatter reads."""
        return self.env is None or episode.env.name == self.env

    def applies(self, episode: Episode) -> str | None:
        """None, or why `episode` (of the right environment) gives no row."""
        return None

    @abstractmethod
    def format(self, episode: Any) -> Iterable[dict[str, Any]]:
        """The training rows made from one episode (a row formatter: one record), possibly none."""


def require(record: dict[str, Any], key: str, kind: type | tuple[type, ...], pointer: str) -> Any:
    """`record[key]`, checked to be of `kind`; a `RecordError` at `pointer/key` otherwise."""
    field = f"{pointer}/{key}"
    if not isinstance(record, dict):
        raise RecordError(pointer, f"expected an object, got {type(record).__name__}")
    if key not in record:
        raise RecordError(field, "required field is missing")
    value = record[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise RecordError(field, f"expected {_describe(kind)}, got {type(value).__name__}")
    return value


def optional_text(obj: dict[str, Any], key: str, pointer: str) -> str:
    """A string field where absent and null read as empty; a `RecordError` for any other type."""
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordError(f"{pointer}/{key}", f"expected a string, got {type(value).__name__}")
    return value


def optional_objects(obj: dict[str, Any], key: str, pointer: str) -> list[dict[str, Any]]:
    """An array of objects where absent and null read as empty; a `RecordError` naming the
    offending element otherwise."""
    items = obj.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise RecordError(f"{pointer}/{key}", f"expected an array, got {type(items).__name__}")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise RecordError(f"{pointer}/{key}/{i}", f"expected an object, got {type(item).__name__}")
    return items


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
          list: "an array", dict: "an object", type(None): "null"}


def _describe(kind: type | tuple[type, ...]) -> str:
    return " or ".join(_NAMES.get(k, k.__name__) for k in _as_tuple(kind))
