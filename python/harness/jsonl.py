"""Fast JSONL operations, run in Rust: scan, read, columns (and columns_at), dedup, split, filter, count_by.

Inputs are regular files or streams (pipes, FIFOs, `<(…)`, `/proc` files; `"-"` is standard
input). See docs/jsonl.md for the line format, key semantics and every option.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness import _fastjsonl
from harness._fastjsonl import JsonlError
from harness.errors import LocatedError
from harness.pointer import unescape

LocatedError.register(JsonlError)  # made in Rust: a virtual subclass (see harness.errors)

__all__ = [
    "ColumnsReport",
    "CountReport",
    "DedupReport",
    "EmptyOutputError",
    "FileColumns",
    "FileScan",
    "FilterReport",
    "JsonlError",
    "Reader",
    "ScanReport",
    "SplitReport",
    "columns",
    "columns_at",
    "count_by",
    "dedup",
    "filter",
    "read",
    "scan",
    "split",
]

Errors = Literal["raise", "skip", "collect"]
PathLike = str | os.PathLike[str]
Paths = PathLike | Sequence[PathLike]


def _paths(paths: Paths) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    out = [os.fspath(p) for p in paths]
    if not out:
        raise ValueError("no input files given")
    return out


class EmptyOutputError(ValueError):
    """An operation would have written an output holding no record, and `allow_empty=False`
    said not to: the output was not written (a file already there is left as it was).
    `report` is what the operation found."""

    def __init__(self, operation: str, output: str, report: Any) -> None:
        self.operation = operation
        self.output = output
        self.report = report
        self.found = _found(report)  # what was read, in words
        super().__init__(
            f"{operation} wrote no record ({self.found}); {output} was not written "
            "(allow_empty=True writes an empty file)"
        )


def _found(report: Any) -> str:
    """What an operation read, in words: '3 records read, 1 malformed line left out'."""
    parts = [f"{report.records:,} record(s) read"]
    if getattr(report, "missing", 0):
        parts.append(f"{report.missing:,} without the field(s) asked for")
    if report.malformed:
        parts.append(f"{report.malformed:,} malformed line(s) left out")
    return ", ".join(parts)


def _written(operation: str, output: PathLike, report: Any, allow_empty: bool) -> Any:
    if not allow_empty and report.written == 0:
        raise EmptyOutputError(operation, os.fspath(output), report)
    return report


def _threads(threads: int | None) -> int:
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    return threads or 0


@dataclass(frozen=True)
class FileScan:
    path: str
    records: int
    bytes: int
    blank_lines: int
    malformed: int
    bom: bool
    crlf_lines: int


@dataclass(frozen=True)
class ScanReport:
    records: int
    bytes: int
    blank_lines: int
    malformed: int
    errors: list[JsonlError] = field(repr=False)
    files: list[FileScan] = field(repr=False)


@dataclass(frozen=True)
class FileColumns:
    """The records of one file as columns: item `i` of each list is about its `i`-th record."""

    path: str
    line: list[int]
    """1-based line number (empty from `columns_at`, which reads records by place)."""
    offset: list[int]
    """Byte offset of the record in its file."""
    length: list[int]
    """Bytes of the record, without its line terminator."""
    values: dict[str, list[Any]] = field(repr=False)
    """One list per field asked for; None where a record has no value there (or null)."""


@dataclass(frozen=True)
class ColumnsReport:
    records: int
    bytes: int
    malformed: int
    errors: list[JsonlError] = field(repr=False)
    files: list[FileColumns] = field(repr=False)


@dataclass(frozen=True)
class DedupReport:
    records: int
    bytes: int
    written: int
    unique_keys: int
    missing: int
    malformed: int
    errors: list[JsonlError] = field(repr=False)


@dataclass(frozen=True)
class SplitReport:
    records: int
    bytes: int
    written: int
    missing: int
    malformed: int
    errors: list[JsonlError] = field(repr=False)


@dataclass(frozen=True)
class FilterReport:
    records: int
    bytes: int
    written: int
    malformed: int
    errors: list[JsonlError] = field(repr=False)


@dataclass(frozen=True)
class CountReport:
    counts: dict[str | None, int]
    records: int
    bytes: int
    malformed: int
    errors: list[JsonlError] = field(repr=False)


def scan(paths: Paths, *, threads: int | None = None, max_errors: int = 1000) -> ScanReport:
    """Validate every line of `paths`; malformed lines are counted, never raised."""
    raw = _fastjsonl.scan(_paths(paths), _threads(threads), max_errors)
    return ScanReport(
        records=raw["records"], bytes=raw["bytes"], blank_lines=raw["blank_lines"], malformed=raw["malformed"],
        errors=raw["errors"], files=[FileScan(**f) for f in raw["files"]],
    )


class Reader(Iterator[Any]):
    """Iterator over records; `malformed` and `errors` fill as it goes."""

    def __init__(
        self,
        paths: Paths,
        *,
        fields: Sequence[str] | None = None,
        errors: Errors = "raise",
        locations: bool = False,
        batch_size: int = 1024,
        max_errors: int = 1000,
    ) -> None:
        self._paths = _paths(paths)
        self._errors_mode = errors
        self._inner = _fastjsonl.Reader(
            self._paths, list(fields) if fields is not None else None, errors, locations, batch_size, max_errors
        )
        self._batch: list[Any] = []
        self._pos = 0
        self._finished = False

    @property
    def malformed(self) -> int:
        return self._inner.malformed

    @property
    def errors(self) -> list[JsonlError]:
        return self._inner.errors

    def __iter__(self) -> Reader:
        return self

    def __next__(self) -> Any:
        if self._pos == len(self._batch):
            batch = None if self._finished else self._inner.next_batch()
            if batch is None:
                self._finish()
                raise StopIteration
            self._batch, self._pos = batch, 0
        item = self._batch[self._pos]
        self._pos += 1
        return item

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        if self.malformed:
            warnings.warn(
                f"left out {self.malformed} malformed line(s) of {', '.join(self._paths)}"
                f" (errors={self._errors_mode!r})",
                stacklevel=3,
            )


def read(
    paths: Paths,
    *,
    fields: Sequence[str] | None = None,
    errors: Errors = "raise",
    locations: bool = False,
    batch_size: int = 1024,
) -> Reader:
    """Iterate the records of `paths` as dicts (or `(path, line, record)` with `locations`)."""
    return Reader(paths, fields=fields, errors=errors, locations=locations, batch_size=batch_size)


def columns(
    paths: Paths,
    fields: Sequence[str],
    *,
    errors: Errors = "raise",
    threads: int | None = None,
    max_errors: int = 1000,
) -> ColumnsReport:
    """Where every record of `paths` is and the values of `fields`, one `FileColumns` per path.
    A field is a JSON pointer where one segment may be `*`: the list of the values inside every
    element of the array there (`/guess_history/*/status`). Files are parsed on every core."""
    raw = _fastjsonl.columns(_paths(paths), list(fields), errors, _threads(threads), max_errors)
    return ColumnsReport(
        records=raw["records"], bytes=raw["bytes"], malformed=raw["malformed"], errors=raw["errors"],
        files=[FileColumns(**f) for f in raw["files"]],
    )


def columns_at(path: PathLike, places: Iterable[tuple[int, int]], fields: Sequence[str], *,
               words: Sequence[str] = ()) -> FileColumns:
    """`columns` of the records at `places` (byte offset, length: as `columns` gave them) of
    one regular file, in that order: to read a few records again, and only what is needed.
    A field also named in `words` has the number of whitespace-separated words of each string
    (`len(text.split())`, counted in Rust: no Python string is made) and None for any other value."""
    return FileColumns(**_fastjsonl.columns_at(os.fspath(path), list(places), list(fields), list(words)))


def dedup(
    inputs: Paths,
    output: PathLike,
    key: str,
    *,
    score: str | Sequence[str] | None = None,
    keep: Literal["best", "first", "last"] = "best",
    missing: Literal["error", "skip", "keep"] = "error",
    errors: Errors = "raise",
    threads: int | None = None,
    max_errors: int = 1000,
    allow_empty: bool = True,
) -> DedupReport:
    """Write one record per `key` across `inputs`; see docs/jsonl.md for the ranking rules.
    With `allow_empty=False`, an output that would hold no record is not written and
    `EmptyOutputError` is raised."""
    scores = [] if score is None else [score] if isinstance(score, str) else list(score)
    if keep == "best" and not scores:
        raise ValueError("keep='best' needs a score pointer; use keep='first' or 'last' without one")
    raw = _fastjsonl.dedup(
        _paths(inputs), os.fspath(output), key, scores, keep, missing, errors, _threads(threads), max_errors,
        allow_empty,
    )
    return _written("dedup", output, DedupReport(**raw), allow_empty)


def split(
    inputs: Paths,
    output: PathLike,
    steps: str,
    *,
    on: tuple[str, Any],
    carry: Sequence[str] | Mapping[str, str] = (),
    keep_empty: bool = False,
    missing: Literal["error", "skip"] = "error",
    errors: Errors = "raise",
    threads: int | None = None,
    max_errors: int = 1000,
    allow_empty: bool = True,
) -> SplitReport:
    """Write one record per split point of each trace at `steps` (see docs/jsonl.md).
    With `allow_empty=False`, an output that would hold no record is not written and
    `EmptyOutputError` is raised."""
    on_pointer, on_value = on
    raw = _fastjsonl.split(
        _paths(inputs),
        os.fspath(output),
        steps,
        on_pointer,
        on_value,
        _carry(carry),
        keep_empty,
        missing,
        errors,
        _threads(threads),
        max_errors,
        allow_empty,
    )
    return _written("split", output, SplitReport(**raw), allow_empty)


def _carry(carry: Sequence[str] | Mapping[str, str]) -> list[tuple[str, str]]:
    if isinstance(carry, Mapping):
        pairs = list(carry.items())
    else:
        pairs = []
        for pointer in carry:
            if not pointer.startswith("/"):
                raise ValueError(f"carry pointers start with '/': {pointer!r}")
            name = unescape(pointer.rsplit("/", 1)[1])
            pairs.append((name, pointer))
    names = [n for n, _ in pairs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"carried fields share a name: {duplicates}; pass a mapping {{name: pointer}}")
    return pairs


def filter(  # shadows the builtin: the operation's name in the CLI and the docs
    inputs: Paths,
    output: PathLike,
    where: Iterable[tuple[str, str, Any] | tuple[str, str]],
    *,
    errors: Errors = "raise",
    threads: int | None = None,
    max_errors: int = 1000,
    allow_empty: bool = True,
) -> FilterReport:
    """Write the records meeting every `(pointer, op, value)` condition, byte for byte.
    With `allow_empty=False`, an output that would hold no record is not written and
    `EmptyOutputError` is raised."""
    conditions = [(c[0], c[1], c[2] if len(c) > 2 else None) for c in where]
    raw = _fastjsonl.filter(
        _paths(inputs), os.fspath(output), conditions, errors, _threads(threads), max_errors, allow_empty
    )
    return _written("filter", output, FilterReport(**raw), allow_empty)


def count_by(
    inputs: Paths,
    key: str,
    *,
    errors: Errors = "raise",
    threads: int | None = None,
    max_errors: int = 1000,
) -> CountReport:
    """Count records per key (`None`: missing or null), largest count first."""
    raw = _fastjsonl.count_by(_paths(inputs), key, errors, _threads(threads), max_errors)
    return CountReport(
        counts=dict(raw["counts"]), records=raw["records"], bytes=raw["bytes"], malformed=raw["malformed"],
        errors=raw["errors"],
    )
