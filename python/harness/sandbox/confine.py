"""Confining a process that runs untrusted code, from inside it: kernel resource limits, no new
privileges, a uid of its own.

Both runners of untrusted code call it on themselves: the child the sandbox worker forks per
sample (`harness.sandbox.worker`) and the data-analysis interpreter's worker process, so a
limit means the same in both. It imports only the standard library: it is staged into the
sandbox's view and runs there (`harness.sandbox.view`).
"""

from __future__ import annotations

import ctypes
import os
import resource
from collections.abc import Mapping
from typing import Any

PR_SET_NO_NEW_PRIVS = 38


def set_resource_limits(limits: Mapping[str, Any], *, cpu_hard_seconds: int | None = None) -> None:
    """The kernel's part of a `harness.sandbox.Limits` (given as `Limits.to_dict()`, which is what
    crosses to a worker): RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NOFILE, and no core dumps.

    The CPU limit is soft at `cpu_seconds` (SIGXCPU) and hard one second later (SIGKILL), unless
    `cpu_hard_seconds` sets the hard limit (a persistent interpreter caps its whole session there
    and re-arms the soft limit before each run)."""
    cpu = int(limits["cpu_seconds"])
    hard = cpu + 1 if cpu_hard_seconds is None else int(cpu_hard_seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (min(cpu, hard), hard))
    resource.setrlimit(resource.RLIMIT_AS, (int(limits["memory_bytes"]),) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["file_size_bytes"]),) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(limits["open_files"]),) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def drop_privileges(uid: int | None, processes: int, libc: Any = None) -> None:
    """Set no-new-privs (no setuid binary or file capability gives anything back), then, given a
    uid, cap the processes of that uid (RLIMIT_NPROC, which counts per uid and has no effect for
    root: hence only with a uid of its own) and switch to it for good: groups, gid, uid. From
    here on the process holds no capability. `libc`: a loaded `ctypes.CDLL(None)`, to save
    loading it again in a hot path."""
    (libc or ctypes.CDLL(None, use_errno=True)).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if uid is None:
        return
    resource.setrlimit(resource.RLIMIT_NPROC, (int(processes),) * 2)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
