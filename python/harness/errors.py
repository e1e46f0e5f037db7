"""The one base of every error about a user's input that the harness can locate.

    except LocatedError as err:
        err.path, err.line, err.field, err.reason     # episodes.jsonl, 12, /steps/0/action, ...
        str(err)                                      # episodes.jsonl:12: /steps/0/action: ...

Malformed JSONL lines (`harness.jsonl.JsonlError`, raised by the Rust core), invalid episodes,
records a formatter or the trainer cannot read, bad corpus files: each names the file, the line
(1-based; None when the input is not line-based) and the field (a JSON pointer; "" for the whole
record), so a user finds the problem without a traceback, and a caller catches all of them at
once. The Rust core's `JsonlError` is registered as a virtual subclass (it is made in Rust, with
`column`, `byte_offset` and `snippet` besides), hence the ABC metaclass.
"""

from __future__ import annotations

import abc
from typing import Any

__all__ = ["LocatedError", "located"]


def located(path: str | None, line: int | None, field: str, reason: str, *, what: str = "record") -> str:
    """`path:line: field: reason`, leaving out what is unknown."""
    where = "" if path is None else (f"{path}:{line}: " if line is not None else f"{path}: ")
    return f"{where}{field or f'({what})'}: {reason}"


class LocatedError(ValueError, metaclass=abc.ABCMeta):
    """Input that cannot be used, with where it is: `path`, `line`, `field` and `reason`."""

    what = "record"
    """What `field` "" names in the message: `(record)`, `(row)`, …"""

    def __init__(self, path: str | None, line: int | None, field: str, reason: str) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason
        super().__init__(located(path, line, field, reason, what=self.what))

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (Luigi workers, multiprocessing)
        return (type(self), (self.path, self.line, self.field, self.reason))
