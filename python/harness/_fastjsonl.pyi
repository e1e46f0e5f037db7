"""Type stubs for the Rust extension; `harness.jsonl` is the documented API over it.

Paths may name streams (pipes, FIFOs, `/proc` files); `"-"` is standard input, named `<stdin>`
in reports and errors. `allow_empty=False` leaves an output that would hold no record unwritten.
"""

from typing import Any, Literal, Self, TypedDict, final

__all__ = ["JsonlError", "Reader", "columns", "columns_at", "count_by", "dedup", "filter", "scan", "split"]

# The modes, as the Rust core parses them (anything else is a ValueError naming the choices).
_Errors = Literal["raise", "skip", "collect"]
_Keep = Literal["best", "first", "last"]
_DedupMissing = Literal["error", "skip", "keep"]
_SplitMissing = Literal["error", "skip"]

# The reports, as dicts; `harness.jsonl` turns each into its frozen dataclass of the same name
# (`ScanReport`, `DedupReport`, ...). Stub-only names: nothing of them exists at run time.
class _FileScan(TypedDict):
    path: str
    records: int
    bytes: int
    blank_lines: int
    malformed: int
    bom: bool
    crlf_lines: int

class _ScanReport(TypedDict):
    records: int
    bytes: int
    blank_lines: int
    malformed: int
    errors: list[JsonlError]
    files: list[_FileScan]

class _DedupReport(TypedDict):
    records: int
    bytes: int
    written: int
    unique_keys: int
    missing: int
    malformed: int
    errors: list[JsonlError]

class _SplitReport(TypedDict):
    records: int
    bytes: int
    written: int
    missing: int
    malformed: int
    errors: list[JsonlError]

class _FilterReport(TypedDict):
    records: int
    bytes: int
    written: int
    malformed: int
    errors: list[JsonlError]

class _CountReport(TypedDict):
    records: int
    bytes: int
    malformed: int
    errors: list[JsonlError]
    counts: list[tuple[str | None, int]]
    """(key, count), largest count first; None: the key is missing or null."""

class _FileColumns(TypedDict):
    path: str
    line: list[int]
    offset: list[int]
    length: list[int]
    values: dict[str, list[Any]]

class _ColumnsReport(TypedDict):
    records: int
    bytes: int
    malformed: int
    errors: list[JsonlError]
    files: list[_FileColumns]

class JsonlError(ValueError):
    path: str
    line: int
    field: str
    column: int
    byte_offset: int
    reason: str
    snippet: str

def scan(paths: list[str], threads: int = 0, max_errors: int = 1000) -> _ScanReport: ...
def dedup(
    inputs: list[str],
    output: str,
    key: str,
    scores: list[str],
    keep: _Keep,
    missing: _DedupMissing,
    errors: _Errors,
    threads: int = 0,
    max_errors: int = 1000,
    allow_empty: bool = True,
) -> _DedupReport: ...
def split(
    inputs: list[str],
    output: str,
    steps: str,
    on_pointer: str,
    on_value: object,
    carry: list[tuple[str, str]],
    keep_empty: bool,
    missing: _SplitMissing,
    errors: _Errors,
    threads: int = 0,
    max_errors: int = 1000,
    allow_empty: bool = True,
) -> _SplitReport: ...
def filter(
    inputs: list[str],
    output: str,
    conditions: list[tuple[str, str, object]],
    errors: _Errors,
    threads: int = 0,
    max_errors: int = 1000,
    allow_empty: bool = True,
) -> _FilterReport: ...
def columns(
    paths: list[str], fields: list[str], errors: _Errors, threads: int = 0, max_errors: int = 1000
) -> _ColumnsReport: ...
def columns_at(
    path: str, places: list[tuple[int, int]], fields: list[str], words: list[str] = ...
) -> _FileColumns: ...
def count_by(
    inputs: list[str], key: str, errors: _Errors, threads: int = 0, max_errors: int = 1000
) -> _CountReport: ...
@final
class Reader:
    def __new__(
        cls,
        paths: list[str],
        fields: list[str] | None,
        errors: _Errors,
        locations: bool,
        batch_size: int,
        max_errors: int = 1000,
    ) -> Self: ...
    def next_batch(self) -> list[Any] | None: ...
    @property
    def malformed(self) -> int: ...
    @property
    def errors(self) -> list[JsonlError]: ...
