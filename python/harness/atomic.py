"""Files that appear complete or not at all: written beside their target, renamed into place.

The temporary file is created with mode 0666 and the process's umask applied (as `open()` does
for a new file), so an output gets the same mode it would get written directly, and the same
as the Rust writers' outputs; `mkstemp`'s 0600 would hide outputs from the user's group.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any


def new_file_mode() -> int:
    """The permission bits a file created now with mode 0666 gets: 0666 less the umask."""
    return 0o666 & ~_umask()


def new_dir_mode() -> int:
    """The permission bits a directory created now with mode 0777 gets: 0777 less the umask
    (for a directory made private by `mkdtemp` and renamed into place)."""
    return 0o777 & ~_umask()


def _umask() -> int:
    try:  # Linux >= 4.7 shows it; reading it there leaves the process's umask untouched
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return mask


def leftovers(path: str | os.PathLike[str]) -> list[str]:
    """The temporary files of writes to `path` that never finished (the writer was killed):
    `.<name>.<8 characters>.tmp` beside it, as this module (and `mkstemp` before it) names
    them. Only a writer that knows no other write to `path` is under way (it holds the lock
    of that output) may remove them."""
    directory, name = os.path.split(os.path.abspath(os.fspath(path)))
    pattern = re.compile(rf"\.{re.escape(name)}\.[0-9a-z_]{{8}}\.tmp")
    try:
        return sorted(os.path.join(directory, n) for n in os.listdir(directory) if pattern.fullmatch(n))
    except FileNotFoundError:
        return []


@contextmanager
def atomic_write(path: str | os.PathLike[str], *, binary: bool = False, sync: bool = True) -> Iterator[IO[Any]]:
    """Yield a file to write; on success it is synced and renamed onto `path`, on any error
    (or interrupt) it is removed and `path` is left as it was. Missing parent directories are
    created. An error of the file system names `path`, not the temporary file. `sync=False`
    skips the fsync, for caches: one that a crash leaves torn fails to parse and is rebuilt."""
    path = os.path.abspath(os.fspath(path))
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = _create_beside(path)
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        file = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with file as f:
            yield f
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, tmp):
            raise _naming(exc, path) from exc
        raise


def _create_beside(path: str) -> tuple[int, str]:
    directory, name = os.path.split(path)
    while True:
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), tmp
        except FileExistsError:
            continue


def _naming(exc: OSError, path: str) -> OSError:
    """The same kind of error, about `path` (the file the caller asked for)."""
    if exc.errno is None:
        return OSError(f"{path}: {exc}")
    return type(exc)(exc.errno, exc.strerror, path)


def write_text_if_changed(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` atomically unless the file holds it already, so a rerun that does nothing
    changes no file (nor its modification time)."""
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with atomic_write(path) as f:
        f.write(text)
