"""JSON pointers (RFC 6901) on the Python side: `/steps/3/status/valid`.

The Rust core parses its own (rust/fastjsonl/src/pointer.rs); this module is the one place the
Python code builds, splits and follows them, so `~` and `/` inside keys are escaped the same
way everywhere (`~0`, `~1`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ABSENT", "escape", "join", "parts", "resolve", "unescape"]

ABSENT = object()
"""What `resolve` returns when the pointer leads nowhere (distinct from a present null)."""


def escape(key: str) -> str:
    """One key as a pointer token: `a/b~c` → `a~1b~0c`."""
    return key.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """One pointer token as the key it names: `a~1b~0c` → `a/b~c`."""
    return token.replace("~1", "/").replace("~0", "~")


def join(*keys: object) -> str:
    """The pointer of a path of keys and indexes: `join("steps", 3, "status")` → `/steps/3/status`."""
    return "".join("/" + escape(str(k)) for k in keys)


def parts(pointer: str) -> list[str]:
    """The keys a pointer names, unescaped (`""` → `[]`). A pointer starts with `/`."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/': {pointer!r}")
    return [unescape(t) for t in pointer.split("/")[1:]]


def resolve(document: Any, pointer: str) -> Any:
    """The value `pointer` names in `document`, or `ABSENT`. Array indexes are decimal without
    leading zeros, as RFC 6901 says."""
    current = document
    for part in parts(pointer):
        if isinstance(current, dict):
            if part not in current:
                return ABSENT
            current = current[part]
        elif isinstance(current, list):
            if not part.isdigit() or (len(part) > 1 and part[0] == "0") or int(part) >= len(current):
                return ABSENT
            current = current[int(part)]
        else:
            return ABSENT
    return current
