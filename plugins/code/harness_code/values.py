"""Plain data across the sandbox boundary: a tagged JSON encoding of Python values.

Only built-in value types survive: None, bool, int, float, str, bytes, complex, list, tuple,
dict, set, frozenset, and objects of classes the receiving side also defines by name (MBPP's
`Pair`, `Node`), rebuilt field by field. Anything else arrives as an `Opaque` placeholder that
equals nothing but itself, so an object whose `__eq__` always returns True cannot cross.

Encoded forms: JSON null/bool/str and finite-or-not floats as themselves; ints as JSON numbers
(or {"i": hex} when large); {"l": [...]} list, {"t": [...]} tuple, {"d": [[k, v], ...]} dict,
{"s": [...]} set and {"f": [...]} frozenset (items sorted by their encoding, so the encoding of
a value does not depend on hash order), {"b": hex} bytes, {"c": [re, im]} complex, {"y": name} built-in type,
{"o": class name, "a": {field: value}} object, {"x": description} opaque.
"""

from __future__ import annotations

import builtins
import json
from typing import Any

MAX_DEPTH = 100


class Opaque:
    """A value the encoding cannot carry; it equals only itself."""

    def __init__(self, description: str) -> None:
        self.description = description

    def __repr__(self) -> str:
        return f"<unencodable {self.description}>"


def encode(value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return {"x": "nested too deeply"}
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -(1 << 53) < value < (1 << 53) else {"i": hex(value)}
    if kind is float:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):  # int subclasses (IntEnum...) carry their plain value
        return encode(int.__index__(value), depth)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        base = next(t for t in (list, tuple, frozenset, set) if isinstance(value, t))
        items = [encode(v, depth + 1) for v in base.__iter__(value)]
        tag = {list: "l", tuple: "t", set: "s", frozenset: "f"}[base]
        if tag in ("s", "f"):
            items.sort(key=_sort_key)
        return {tag: items}
    if isinstance(value, dict):
        return {"d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in dict.items(value)]}
    if isinstance(value, (bytes, bytearray)):
        return {"b": bytes(value).hex()}
    if isinstance(value, complex):
        return {"c": [complex.__complex__(value).real, complex.__complex__(value).imag]}
    if isinstance(value, type) and getattr(builtins, value.__name__, None) is value:
        return {"y": value.__name__}  # int, str, list... (MBPP passes types as arguments)
    if hasattr(type(value), "tolist") and type(value).__module__.startswith("numpy"):
        return encode(value.tolist(), depth + 1)  # numpy scalars and arrays: their Python value
    state = getattr(value, "__dict__", None)
    if isinstance(state, dict) and not callable(value) and not isinstance(value, type):
        return {"o": type(value).__name__,
                "a": {str(k): encode(v, depth + 1) for k, v in dict.items(state)}}
    return {"x": f"{type(value).__name__} object"}


def _sort_key(encoded: Any) -> str:
    return json.dumps(encoded, sort_keys=True)


def dumps(value: Any) -> str:
    """Canonical text of an encoded value (what call keys and comparisons use)."""
    return json.dumps(value, sort_keys=True, allow_nan=True)


def decode(data: Any, classes: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """The value an encoding stands for. `classes` maps class names to the receiving side's
    classes (its own `Pair`); unknown names become `Opaque`."""
    if depth > MAX_DEPTH:
        raise ValueError("encoded value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise ValueError(f"not an encoded value: {str(data)[:80]}")
    d = depth + 1
    if "l" in data:
        return [decode(v, classes, d) for v in data["l"]]
    if "t" in data:
        return tuple(decode(v, classes, d) for v in data["t"])
    if "s" in data:
        return {decode(v, classes, d) for v in data["s"]}
    if "f" in data:
        return frozenset(decode(v, classes, d) for v in data["f"])
    if "d" in data:
        return {decode(k, classes, d): decode(v, classes, d) for k, v in data["d"]}
    if "i" in data:
        return int(data["i"], 16)
    if "b" in data:
        return bytes.fromhex(data["b"])
    if "c" in data:
        return complex(*data["c"])
    if "o" in data:
        cls = (classes or {}).get(data["o"])
        if not isinstance(cls, type):
            return Opaque(f"{data['o']} object")
        obj = object.__new__(cls)
        obj.__dict__.update({k: decode(v, classes, d) for k, v in data["a"].items()})
        return obj
    if "y" in data:
        cls = getattr(builtins, str(data["y"]), None)
        return cls if isinstance(cls, type) else Opaque(f"type {data['y']}")
    if "x" in data:
        return Opaque(str(data["x"]))
    raise ValueError(f"unknown tag in encoded value: {sorted(data)}")
