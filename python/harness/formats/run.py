"""Run a formatter over JSONL files into one training file, streaming, in constant memory.

    from harness.formats import get_formatter, format_file
    report = format_file(get_formatter("sft-standard"), ["episodes.jsonl"], "train.parquet")

Input lines are read by `harness.jsonl.read` (Rust); each record goes through the formatter;
each row it yields is passed to the `training_record` lifecycle hook (plugins may inspect or
amend it in place; one that raises is reported by the registry, and the row is written as it
left it) and then written. The output format follows the extension (`.jsonl` or
`.parquet`) and the file is written atomically: it appears complete or not at all.

Errors: a malformed line, or a record the formatter cannot read, stops the run with an error
naming the file, line and field (`errors="raise"`, the default); `errors="skip"` leaves such
lines out and counts them in the report.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.episode import EpisodeError
from harness.formats.base import FormatError, Formatter, RecordError
from harness.formats.writers import open_writer

__all__ = ["FormatReport", "format_file", "format_records"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class FormatReport:
    """What `format_file` did: input `records` read, output `rows` written, input lines left
    out as `malformed` (not JSON objects) or `invalid` (the formatter could not read them)."""

    formatter: str
    output: str
    records: int
    rows: int
    malformed: int
    invalid: int
    seconds: float


def format_records(formatter: Formatter, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The rows of in-memory records, each passed to the `training_record` hook first."""
    from harness.plugins import registry

    hook = registry().hook
    for record in records:
        for row in formatter.format(record):
            hook.training_record(record=row, formatter=formatter.name)
            yield row


def format_file(
    formatter: Formatter,
    inputs: PathLike | Sequence[PathLike],
    output: PathLike,
    *,
    schema: Any = None,
    errors: Literal["raise", "skip"] = "raise",
    row_group_size: int = 1000,
) -> FormatReport:
    """Format every record of `inputs` (in file and line order) into `output`."""
    from harness.jsonl import read
    from harness.plugins import registry

    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', not {errors!r}")
    hook = registry().hook
    started = time.perf_counter()
    records = rows = invalid = 0
    reader = read(inputs, errors=errors, locations=True)
    if schema is None:
        schema = formatter.parquet_schema()
    with open_writer(output, schema=schema, json_columns=formatter.json_columns,
                     row_group_size=row_group_size) as writer:
        for path, line, record in reader:
            records += 1
            try:
                produced = list(formatter.format(record))  # one record's rows: bounded
            except (RecordError, EpisodeError) as err:
                if errors == "raise":
                    raise FormatError(str(path), line, err.field, err.reason) from None
                invalid += 1
                continue
            for row in produced:
                hook.training_record(record=row, formatter=formatter.name)
                writer.write(row)
                rows += 1
    return FormatReport(formatter.name, os.fspath(output), records, rows, reader.malformed,
                        invalid, time.perf_counter() - started)
