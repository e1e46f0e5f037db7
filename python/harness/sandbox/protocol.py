"""Frames between the parent and a worker: an 8-byte big-endian length, then the bytes."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

_HEADER = struct.Struct(">Q")


def write_frame(fd: int, data: bytes) -> None:
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, n: int) -> bytes | None:
    """`n` bytes, or None at end of file."""
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> bytes | None:
    header = read_exact(fd, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    return read_exact(fd, length) if length else b""


def write_json(fd: int, obj: Any) -> None:
    write_frame(fd, json.dumps(obj).encode())


def read_json(fd: int) -> Any:
    frame = read_frame(fd)
    return None if frame is None else json.loads(frame)
