"""One writer at a time: an exclusive `flock` on a lock file beside the output it guards.

    lock = Lock(out / "shard-00000-of-00004.lock", what="shard-00000-of-00004.jsonl")
    lock.acquire()                  # or LockHeld naming the holder; acquire(wait=True) waits
    try:
        ...                         # no other process writes this shard meanwhile
    finally:
        lock.release()

    with Lock(out / "run.lock", what="the run's settings"):   # waits: for short holds
        ...

The kernel drops the lock when its process ends, however it ends (kill -9 included), so a lock
is never stale: a lock file that exists but is not locked is free. The holder writes its pid,
host and start time into the file, so a writer that finds the lock held can say who has it;
it stops with `LockHeld` (after at most `HOLDER_GRACE` to learn who holds it), or with
`wait=True` waits until the lock is free.

The holder removes the file when it lets go (a finished run leaves no lock files). A waiter may
then hold a lock on the removed file, so every locker checks, once it has the lock, that the
path still names the file it locked, and starts again if not.

On NFS, Linux implements `flock` with the server's byte-range locks: it works between nodes
when the NFS lock service runs (NFSv4, or lockd for NFSv3), and fails with `ENOLCK` otherwise,
which is reported. Mounts that lock on the local node only (NFS with `nolock`, Lustre with
`localflock`) do not let processes on different nodes see each other's locks.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from harness.episode import utc_now

log = logging.getLogger(__name__)

NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
"""What `flock` fails with on a file system without locks."""


class LockHeld(RuntimeError):
    """Another process writes the output this lock guards."""

    def __init__(self, path: Path, what: str, holder: dict[str, object]) -> None:
        self.path = path
        self.holder = holder
        super().__init__(
            f"{path}: another process is writing {what} ({_who(holder)}); wait for it to finish "
            f"(--wait, or wait=True), stop it, or write to another directory"
        )


def _who(holder: dict[str, object]) -> str:
    if not holder:
        return "a process that has not said who it is yet"
    return f"pid {holder.get('pid')} on host {holder.get('host')} since {holder.get('since')}"


class Lock:
    """The lock file `path`, guarding `what` (named in messages). A context manager, or
    `acquire()` (from any thread: a waiting acquire can run off an event loop) and `release()`."""

    def __init__(self, path: str | os.PathLike[str], *, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    def acquire(self, *, wait: bool = False) -> None:
        """Take the lock. Raises `LockHeld` when another process holds it; with `wait=True`
        waits for it to be free instead. Creates the lock's directory if need be."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                if not _try_lock(fd, self.path):
                    if not wait:
                        holder = _named_holder(fd, self.path)
                        if holder is not None:
                            raise LockHeld(self.path, self.what, holder)
                    else:
                        log.warning("%s: another process is writing %s (%s); waiting for it",
                                    self.path, self.what, _who(_holder(fd)))
                        fcntl.flock(fd, fcntl.LOCK_EX)
                if _still_named(fd, self.path):
                    _write_holder(fd)
                    self._fd = fd
                    return
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # the holder removed the file while we waited for it: lock the new one

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # still holding the lock: a waiter sees the file is gone
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> Lock:
        self.acquire(wait=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _try_lock(fd: int, path: Path) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in NO_LOCKS:
            raise OSError(exc.errno, f"the file system does not support locks ({exc.strerror}); "
                          "write to a local disk or an NFS mount with locking", str(path)) from None
        raise


def _still_named(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _write_holder(fd: int) -> None:
    data = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": utc_now()})
    os.ftruncate(fd, 0)
    os.pwrite(fd, (data + "\n").encode(), 0)


HOLDER_GRACE = 1.0
"""Seconds a locker that finds the lock held waits for the holder to say who it is: a holder
writes that right after taking the lock, so only one stopped in between stays unnamed."""


def _named_holder(fd: int, path: Path) -> dict[str, object] | None:
    """Who holds the lock on `fd` once it has said so (`{}` if it says nothing within
    `HOLDER_GRACE`), or None when the lock came free meanwhile and `fd` now holds it."""
    deadline = time.monotonic() + HOLDER_GRACE
    while not (holder := _holder(fd)) and time.monotonic() < deadline:
        time.sleep(0.01)  # a poll: nothing signals that another process wrote the file
        if _try_lock(fd, path):
            return None
    return holder


def _holder(fd: int) -> dict[str, object]:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:  # the holder is writing it right now
        return {}
    return holder if isinstance(holder, dict) else {}
