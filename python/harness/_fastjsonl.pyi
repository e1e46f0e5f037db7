"""Type stubs for the Rust extension; `harness.jsonl` is the documented API over it.

Paths may name streams (pipes, FIFOs, `/proc` files); `"-"` is standard input, named `<stdin>`
in reports and errors. `allow_empty=False` leaves an output that would hold no record unwritten.
"""

from typing import Any, final

class JsonlError(ValueError):
    path: str
    line: int
    field: str
    column: int
    byte_offset: int
    reason: str
    snippet: str

def scan(paths: list[str], threads: int = 0, max_errors: int = 1000) -> dict[str, Any]: ...
def dedup(
    inputs: list[str],
    output: str,
    key: str,
    scores: list[str],
    keep: str,
    missing: str,
    errors: str,
    threads: int = 0,
    max_errors: int = 1000,
    allow_empty: bool = True,
) -> dict[str, Any]: ...
def split(
    inputs: list[str],
    output: str,
    steps: str,
    on_pointer: str,
    on_value: object,
    carry: list[tuple[str, str]],
    keep_empty: bool,
    missing: str,
    errors: str,
    threads: int = 0,
    max_errors: int = 1000,
    allow_empty: bool = True,
) -> dict[str, Any]: ...
def filter(
    inputs: list[str],
    output: str,
    conditions: list[tuple[str, str, object]],
    errors: str,
    threads: int = 0,
    max_errors: int = 1000,
    allow_empty: bool = True,
) -> dict[str, Any]: ...
def count_by(
    inputs: list[str], key: str, errors: str, threads: int = 0, max_errors: int = 1000
) -> dict[str, Any]: ...
@final
class Reader:
    def __init__(
        self,
        paths: list[str],
        fields: list[str] | None,
        errors: str,
        locations: bool,
        batch_size: int,
        max_errors: int = 1000,
    ) -> None: ...
    def next_batch(self) -> list[Any] | None: ...
    @property
    def malformed(self) -> int: ...
    @property
    def errors(self) -> list[JsonlError]: ...
