"""Training-file writers: JSONL or Parquet, chosen by the file extension, written atomically.

`open_writer(path)` returns a context manager with `write(row)`; the file appears complete when
the block ends without an error and not at all otherwise (`harness.atomic.atomic_write`).

Parquet is written in row groups of `row_group_size` rows with pyarrow's `ParquetWriter`, so
memory stays bounded by one group whatever the file's size. The column types come from the
`schema` given, or are inferred from the first row group; a later row that does not fit them
is an error naming the column. Fields named in `json_columns` are stored as JSON text (Python's
`json.dumps`, so a NaN value reads `NaN`). A column the given schema declares as text also
takes numbers, written as their text (ids that are integers in some records and strings in
others: 7 reads "7").

JSON has no NaN or Infinity. A JSONL row holding one is an error by default; with
`non_finite="allow"` (seed 000's files, whose values came from `json.dumps`) they are written
bare, as `json.dumps` writes them (`NaN`, `Infinity`, `-Infinity`: pyarrow, `datasets` and
Python's `json` read them, strict JSON readers do not), and the rows holding them are counted
in `non_finite_rows` and reported in a warning.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Literal

from harness.atomic import atomic_write

__all__ = ["EXTENSIONS", "JsonlWriter", "ParquetWriter", "open_writer", "output_kind"]

EXTENSIONS = {".jsonl": "jsonl", ".parquet": "parquet"}


def output_kind(path: str | os.PathLike[str]) -> str:
    """`jsonl` or `parquet` from the extension; anything else is an error."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in EXTENSIONS:
        raise ValueError(
            f"{os.fspath(path)}: unknown output format {ext or '(no extension)'!r}; "
            "name the file *.jsonl or *.parquet"
        )
    return EXTENSIONS[ext]


NonFinite = Literal["error", "allow"]


class JsonlWriter(AbstractContextManager["JsonlWriter"]):
    """One JSON object per line (`json.dumps` separators), non-ASCII kept; see the module
    docstring for `non_finite`."""

    def __init__(self, path: str | os.PathLike[str], *, non_finite: NonFinite = "error"):
        if non_finite not in ("error", "allow"):
            raise ValueError(f"non_finite must be 'error' or 'allow', not {non_finite!r}")
        self.path = os.fspath(path)
        self.rows = 0
        self.non_finite_rows = 0
        self.non_finite = non_finite
        self._cm = atomic_write(self.path)
        self._file: Any = None

    def __enter__(self) -> JsonlWriter:
        self._file = self._cm.__enter__()
        return self

    def write(self, row: dict[str, Any]) -> None:
        try:
            line = json.dumps(row, ensure_ascii=False, allow_nan=False)
        except ValueError:
            if not _has_non_finite(row):
                raise
            if self.non_finite == "error":
                raise ValueError(f"{self.path}: row {self.rows + 1} holds NaN or Infinity, which JSON "
                                 "cannot hold") from None
            line = json.dumps(row, ensure_ascii=False)
            self.non_finite_rows += 1
        self._file.write(line + "\n")
        self.rows += 1

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool | None:
        if exc_type is None and self.non_finite_rows:
            warnings.warn(f"{self.path}: {self.non_finite_rows} row(s) hold a bare NaN or Infinity "
                          "(as json.dumps writes them; not strict JSON)", stacklevel=2)
        return self._cm.__exit__(exc_type, exc, tb)


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_non_finite(v) for v in value)
    return False


class ParquetWriter(AbstractContextManager["ParquetWriter"]):
    """Rows buffered into row groups; one group in memory at a time."""

    def __init__(self, path: str | os.PathLike[str], *, schema: Any = None,
                 json_columns: tuple[str, ...] = (), row_group_size: int = 1000):
        if row_group_size < 1:
            raise ValueError(f"row_group_size must be at least 1, not {row_group_size}")
        self.path = os.fspath(path)
        self.rows = 0
        self.schema = schema
        self.json_columns = json_columns
        self.row_group_size = row_group_size
        self._cm = atomic_write(self.path, binary=True)
        self._file: Any = None
        self._writer: Any = None
        self._buffer: list[dict[str, Any]] = []
        self._text_columns = _text_columns(schema)

    def __enter__(self) -> ParquetWriter:
        self._file = self._cm.__enter__()
        return self

    def write(self, row: dict[str, Any]) -> None:
        if self.json_columns:
            row = {k: json.dumps(v, ensure_ascii=False) if k in self.json_columns else v
                   for k, v in row.items()}
        if any(_is_number(row.get(k)) for k in self._text_columns):
            row = {k: str(v) if k in self._text_columns and _is_number(v) else v for k, v in row.items()}
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= self.row_group_size:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._buffer:
            return
        first_row = self.rows - len(self._buffer) + 1
        try:
            table = pa.Table.from_pylist(self._buffer, schema=self.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValueError(
                f"{self.path}: rows {first_row}-{self.rows} do not fit the Parquet columns "
                f"{_columns(self.schema)}: {exc}"
            ) from None
        if self.schema is None:
            self.schema = table.schema
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._file, self.schema)
        self._writer.write_table(table)
        self._buffer = []

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool | None:
        try:
            if exc_type is None:
                self._flush()
                if self._writer is None:  # no rows at all: still a valid, empty Parquet file
                    import pyarrow as pa
                    import pyarrow.parquet as pq

                    schema = self.schema if self.schema is not None else pa.schema([])
                    self._writer = pq.ParquetWriter(self._file, schema)
            if self._writer is not None:
                self._writer.close()
        except BaseException as err:
            self._cm.__exit__(type(err), err, err.__traceback__)  # removes the temporary file
            raise
        return self._cm.__exit__(exc_type, exc, tb)


def _text_columns(schema: Any) -> frozenset[str]:
    if schema is None:
        return frozenset()
    import pyarrow as pa

    return frozenset(f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _columns(schema: Any) -> str:
    return "(inferred from the first row group)" if schema is None else ", ".join(
        f"{f.name}: {f.type}" for f in schema)


def open_writer(path: str | os.PathLike[str], *, schema: Any = None,
                json_columns: tuple[str, ...] = (),
                row_group_size: int = 1000,
                non_finite: NonFinite = "error") -> JsonlWriter | ParquetWriter:
    """A writer for `path`, JSONL or Parquet by its extension (`schema` and `json_columns`
    apply to Parquet only, `non_finite` to JSONL only)."""
    if output_kind(path) == "parquet":
        return ParquetWriter(path, schema=schema, json_columns=json_columns,
                             row_group_size=row_group_size)
    return JsonlWriter(path, non_finite=non_finite)
