"""What the machine allows, and the isolation level that follows from it.

Levels, weakest to strongest:

- `none`: a fresh process per sample with resource limits and its own process group. A crash
  guard, not a sandbox: the program runs as the caller, on the caller's network and files.
- `process`: plus a non-root uid per worker (needs root to switch to it), so RLIMIT_NPROC bounds
  fork bombs and the host's files are protected by ordinary permissions. Host network.
- `namespaces`: plus bubblewrap-started workers: own network, pid, IPC and UTS namespaces, a
  read-only root holding only the interpreter, the standard library, the declared packages and
  a copy of the trusted modules (`harness.sandbox.view`), a private size-capped /tmp. Samples are
  forked from these pre-warmed workers. This is the default and the default minimum.
- `strict`: a fresh bubblewrap sandbox (new namespaces, fresh interpreter) for every sample.

`detect()` probes once per process (it runs bubblewrap once) and caches the answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache

MINIMUM_VAR = "HARNESS_SANDBOX_MINIMUM"
"""Environment variable that lowers or raises the configured minimum (a level name)."""


class IsolationLevel(IntEnum):
    NONE = 0
    PROCESS = 1
    NAMESPACES = 2
    STRICT = 3

    @classmethod
    def parse(cls, value: str | int | IsolationLevel) -> IsolationLevel:
        if isinstance(value, IsolationLevel):
            return value
        if isinstance(value, int):
            return cls(value)
        try:
            return cls[value.strip().upper()]
        except KeyError:
            names = ", ".join(level.label for level in cls)
            raise ValueError(f"unknown isolation level {value!r} (known: {names})") from None

    @property
    def label(self) -> str:
        return self.name.lower()


class SandboxUnavailable(RuntimeError):
    """The machine cannot provide the isolation level asked for (or the configured minimum)."""


@dataclass(frozen=True)
class Capabilities:
    """What `detect()` found. `best` is the strongest level these allow."""

    root: bool
    bwrap: str | None
    bwrap_works: bool
    pidfd: bool
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> IsolationLevel:
        if self.bwrap_works and self.root:
            return IsolationLevel.STRICT
        if self.root:
            return IsolationLevel.PROCESS
        return IsolationLevel.NONE

    def to_dict(self) -> dict[str, object]:
        return {
            "root": self.root,
            "bwrap": self.bwrap,
            "bwrap_works": self.bwrap_works,
            "pidfd": self.pidfd,
            "best": self.best.label,
            "notes": list(self.notes),
        }


def bwrap_namespace_args() -> list[str]:
    """Namespaces every bubblewrap sandbox of ours gets (no user namespace: the worker needs real
    root to switch samples to their own host uid)."""
    return [
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try", "--die-with-parent", "--new-session",
    ]


@lru_cache(maxsize=1)
def detect() -> Capabilities:
    notes: list[str] = []
    root = os.geteuid() == 0
    if not root:
        notes.append("not root: samples cannot be given their own uid (no process limit)")
    bwrap = shutil.which("bwrap")
    works = False
    if bwrap is None:
        notes.append("bubblewrap (bwrap) not found: install it (apt-get install -y bubblewrap)")
    elif root:
        probe = [bwrap, *bwrap_namespace_args(), "--ro-bind", "/", "/", "--tmpfs", "/tmp",
                 "--proc", "/proc", "--dev", "/dev", os.path.realpath(sys.executable), "-I", "-c", "pass"]
        try:
            done = subprocess.run(probe, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
            works = done.returncode == 0
            if not works:
                err = done.stderr.decode(errors="replace").strip()
                notes.append(f"bubblewrap is installed but cannot create namespaces here: {err}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            notes.append(f"bubblewrap probe failed: {exc}")
    pidfd = hasattr(os, "pidfd_open")
    if not pidfd:
        notes.append("os.pidfd_open missing (Linux >= 5.3 and Python >= 3.9 needed)")
    return Capabilities(root=root, bwrap=bwrap, bwrap_works=works, pidfd=pidfd, notes=notes)


def default_level(best: IsolationLevel, minimum: IsolationLevel) -> IsolationLevel:
    """The level used when none is asked for: `namespaces` (fast, pre-warmed workers), or the
    minimum when that is higher (and the machine allows it)."""
    return max(min(best, IsolationLevel.NAMESPACES), min(minimum, best))


def configured_minimum(default: str | IsolationLevel = IsolationLevel.NAMESPACES) -> IsolationLevel:
    """The minimum level: `HARNESS_SANDBOX_MINIMUM` when set, else `default`."""
    raw = os.environ.get(MINIMUM_VAR)
    return IsolationLevel.parse(raw) if raw else IsolationLevel.parse(default)


def choose_level(
    level: str | IsolationLevel | None = None, minimum: str | IsolationLevel | None = None
) -> tuple[IsolationLevel, IsolationLevel]:
    """The level to run untrusted code at and the minimum in force (`configured_minimum()` when
    None): `level`, or `default_level` when None. Raises `SandboxUnavailable` when the machine
    cannot provide it or it is below the minimum."""
    capabilities = detect()
    best = capabilities.best
    floor = configured_minimum() if minimum is None else IsolationLevel.parse(minimum)
    wanted = default_level(best, floor) if level is None else IsolationLevel.parse(level)
    if wanted > best:
        raise SandboxUnavailable(
            f"isolation level {wanted.label!r} asked for, but this machine allows at most "
            f"{best.label!r}: " + "; ".join(capabilities.notes)
        )
    if wanted < floor:
        raise SandboxUnavailable(
            f"refusing to run untrusted code at isolation level {wanted.label!r}: the "
            f"configured minimum is {floor.label!r} (set HARNESS_SANDBOX_MINIMUM to "
            "change it); " + ("; ".join(capabilities.notes) or "asked for explicitly")
        )
    if not capabilities.pidfd:
        raise SandboxUnavailable("; ".join(capabilities.notes))
    return wanted, floor
