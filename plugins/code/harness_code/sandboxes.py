"""The process-wide sandboxes of code verification: one for candidates, one for judges.

Judges run in their own workers so that a judge process is never a fork of a process that ran
candidate code, and a candidate's worker never holds tests or expected values in its memory.
"""

from __future__ import annotations

import atexit
import threading

from harness.sandbox import IsolationLevel, Sandbox

PRELOAD = ["harness_code.runner", "harness_code.values"]
_lock = threading.Lock()
_sandboxes: dict[tuple[str, str | None, int | None], Sandbox] = {}


def shared(role: str, level: str | IsolationLevel | None = None, workers: int | None = None) -> Sandbox:
    """The sandbox for `role` ("candidate", "judge" or "pytest") at `level`, created on first use."""
    key = (role, None if level is None else IsolationLevel.parse(level).label, workers)
    with _lock:
        sandbox = _sandboxes.get(key)
        if sandbox is None:
            preload = PRELOAD + (["pytest"] if role == "pytest" else [])
            sandbox = _sandboxes[key] = Sandbox(level, workers=workers, preload=preload)
        return sandbox


@atexit.register
def close_all() -> None:
    with _lock:
        for sandbox in _sandboxes.values():
            sandbox.close()
        _sandboxes.clear()
