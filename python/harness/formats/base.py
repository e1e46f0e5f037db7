"""The formatter shape: one input record in, zero or more training rows out.

A formatter is a class with a `name` (what the registry, the CLI and the Luigi tasks call it)
and a `format(record)` method that turns one parsed JSON record (a dict) into an iterable of
output rows (dicts). Options are constructor keyword arguments. Formatters hold no state
between records, so a file of any size streams through one in constant memory
(`harness.formats.run.format_file` does the reading, hooking and writing).

A record a formatter cannot read raises `RecordError(field, reason)`; the runner adds the file
and line, so the user sees `episodes.jsonl:12: /gold_trace/turns/0/code: expected a string`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = ["Formatter", "RecordError", "FormatError", "require", "optional_text", "optional_objects"]


class RecordError(ValueError):
    """An input record a formatter cannot turn into rows; `field` is a JSON pointer."""

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field or '(record)'}: {reason}")


class FormatError(ValueError):
    """A `RecordError` (or an invalid episode) located in its input file."""

    def __init__(self, path: str, line: int | None, field: str, reason: str):
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {field or '(record)'}: {reason}")

    def __reduce__(self):  # picklable across Luigi worker processes despite the custom __init__
        return (type(self), (self.path, self.line, self.field, self.reason))


class Formatter(ABC):
    """Subclasses set `name` (and `description`), take options as keyword arguments, and
    implement `format`.

    `json_columns` names output fields whose values have no fixed type (a hook's value may be
    a number, a list or an object): the Parquet writer stores them as JSON text, since a Parquet
    column has one type. JSONL output keeps them as they are.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    json_columns: ClassVar[tuple[str, ...]] = ()

    def parquet_schema(self) -> Any:
        """The pyarrow schema of the rows, or None to infer it from the first row group."""
        return None

    @abstractmethod
    def format(self, record: dict[str, Any]) -> Iterable[dict[str, Any]]:
        """The training rows made from one input record (possibly none)."""


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
