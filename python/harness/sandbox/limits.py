"""What one sandboxed run may use: time, memory, processes, files, output."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Per-run limits. The wall-clock deadline is enforced by the parent; the rest by the kernel."""

    wall_seconds: float = 10.0
    """Deadline from fork to exit; past it the whole sample (every process of it) is killed."""
    cpu_seconds: int = 10
    """RLIMIT_CPU of each process (SIGXCPU, then SIGKILL one second later)."""
    memory_bytes: int = 2 << 30
    """RLIMIT_AS of each process (address space: allocations beyond it fail with MemoryError)."""
    file_size_bytes: int = 16 << 20
    """RLIMIT_FSIZE: the largest file a process may write."""
    open_files: int = 64
    """RLIMIT_NOFILE."""
    processes: int = 32
    """RLIMIT_NPROC of the sample's own uid: a fork bomb stops here (needs a non-root uid)."""
    output_bytes: int = 64 << 10
    """Tail of stdout and of stderr kept (each); the rest is drained and counted."""
    output_kill_bytes: int = 64 << 20
    """A sample writing more than this to stdout+stderr is killed (status `output_limit`)."""
    result_bytes: int = 32 << 20
    """The trusted results channel (fd 3) may carry at most this much; beyond it: `output_limit`."""

    def with_(self, **changes: Any) -> Limits:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # all scalars: no deep copy
