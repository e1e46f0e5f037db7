"""Training-file writers: JSONL or Parquet, chosen by the file extension, written atomically.

`open_writer(path)` returns a context manager with `write(row)`; the file appears complete when
the block ends without an error and not at all otherwise (`harness.atomic.atomic_write`).

Parquet is written in row groups of `row_group_size` rows with pyarrow's `ParquetWriter`, so
memory stays bounded by one group whatever the file's size. The column types come from the
`schema` given, or are inferred from the first row group; a later row that does not fit them
is an error naming the column. Fields named in `json_columns` are stored as JSON text.
"""

from __future__ import annotations

import json
import os
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from harness.atomic import atomic_write

__all__ = ["EXTENSIONS", "output_kind", "open_writer", "JsonlWriter", "ParquetWriter"]

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


class JsonlWriter(AbstractContextManager["JsonlWriter"]):
    """One compact JSON object per line, non-ASCII kept."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        self.rows = 0
        self._cm = atomic_write(self.path)
        self._file: Any = None

    def __enter__(self) -> JsonlWriter:
        self._file = self._cm.__enter__()
        return self

    def write(self, row: dict[str, Any]) -> None:
        self._file.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
        self.rows += 1

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool | None:
        return self._cm.__exit__(exc_type, exc, tb)


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

    def __enter__(self) -> ParquetWriter:
        self._file = self._cm.__enter__()
        return self

    def write(self, row: dict[str, Any]) -> None:
        if self.json_columns:
            row = {k: json.dumps(v, ensure_ascii=False) if k in self.json_columns else v
                   for k, v in row.items()}
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


def _columns(schema: Any) -> str:
    return "(inferred from the first row group)" if schema is None else ", ".join(
        f"{f.name}: {f.type}" for f in schema)


def open_writer(path: str | os.PathLike[str], *, schema: Any = None,
                json_columns: tuple[str, ...] = (),
                row_group_size: int = 1000) -> JsonlWriter | ParquetWriter:
    """A writer for `path`, JSONL or Parquet by its extension (`schema` and `json_columns`
    apply to Parquet only)."""
    if output_kind(path) == "parquet":
        return ParquetWriter(path, schema=schema, json_columns=json_columns,
                             row_group_size=row_group_size)
    return JsonlWriter(path)
