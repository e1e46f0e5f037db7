"""The process-wide sandboxes of code verification: one for candidates, one for judges.

Judges run in their own workers so that a judge process is never a fork of a process that ran
candidate code, and a candidate's worker never holds tests or expected values in its memory.

What sandboxed code can import is the standard library, a copy of the runner (the only modules
of ours a worker imports) and the packages a role declares: none for HumanEval and MBPP, pytest
for the pytest verifier, plus whatever a verifier is given with `packages=`. The problem files,
the dataset packages and the checkout are not in the sandbox (see `harness.sandbox.view`).
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterable

from harness.sandbox import IsolationLevel, Sandbox

PRELOAD = ["harness_code.runner", "harness_code.values"]
ROLE_PACKAGES = {"candidate": [], "judge": [], "pytest": ["pytest"]}
"""The packages each role needs itself (pytest runs the pytest verifier's tests)."""
_lock = threading.Lock()
_sandboxes: dict[tuple[str, str | None, int | None, tuple[str, ...]], Sandbox] = {}


def shared(role: str, level: str | IsolationLevel | None = None, workers: int | None = None,
           packages: Iterable[str] = ()) -> Sandbox:
    """The sandbox for `role` ("candidate", "judge" or "pytest") at `level` whose code may also
    import `packages`, created on first use."""
    wanted = tuple(dict.fromkeys([*ROLE_PACKAGES[role], *packages]))
    key = (role, None if level is None else IsolationLevel.parse(level).label, workers, wanted)
    with _lock:
        sandbox = _sandboxes.get(key)
        if sandbox is None:
            preload = PRELOAD + (["pytest"] if role == "pytest" else [])
            sandbox = _sandboxes[key] = Sandbox(level, workers=workers, preload=preload,
                                                packages=wanted)
        return sandbox


def ready(*boxes: Sandbox) -> None:
    """Start the workers of `boxes` all at once, then wait for one of each: raises
    `SandboxSetupError` here, where a verifier is made, when their workers cannot start."""
    for box in boxes:
        box.start()
    for box in boxes:
        box.check()


@atexit.register
def close_all() -> None:
    with _lock:
        for sandbox in _sandboxes.values():
            sandbox.close()
        _sandboxes.clear()
