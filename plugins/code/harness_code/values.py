"""Plain data across the sandbox boundary: a tagged JSON encoding of Python values.

What crosses is data, never code, and it arrives as a value of the same type, so that the test
compares it with its own semantics (`Fraction(1, 2) == 0.5`, `Counter` equality, an aware
datetime against another time zone's), as it would in the candidate's process:

- built-in value types: None, bool, int, float, str, bytes, bytearray, complex, list, tuple,
  dict, set, frozenset, range, dict views, and built-in types themselves (MBPP passes `int`);
- standard-library value types: `fractions.Fraction`, `decimal.Decimal`, `datetime`'s date,
  datetime, time, timedelta and timezone (other time zones cross as their fixed offset),
  `collections`' OrderedDict, Counter, defaultdict (of a built-in factory) and deque;
- subclasses of built-in scalars and containers as their base type (an `IntEnum` member as its
  int, a namedtuple as a tuple: equal to what they stand for); numpy values as their Python
  value;
- objects of classes the receiving side also defines by name (MBPP's `Pair`, `Node`), rebuilt
  field by field.

Anything else arrives as an `Opaque` placeholder that equals nothing but itself, so an object
whose `__eq__` always returns True cannot cross.

Encoded forms: JSON null/bool/str and finite-or-not floats as themselves; ints as JSON numbers
(or {"i": hex} when large); {"l": [...]} list, {"t": [...]} tuple, {"d": [[k, v], ...]} dict,
{"s": [...]} set and {"f": [...]} frozenset (items sorted by their encoding, so the encoding of
a value does not depend on hash order), {"b": hex} bytes, {"ba": hex} bytearray, {"c": [re, im]}
complex, {"r": [start, stop, step]} range, {"dk"|"dv"|"di": [...]} dict keys/values/items view,
{"y": name} built-in type, {"fr": [num, den]} Fraction, {"dec": text} Decimal, {"date"|
"datetime"|"time": [fields]}, {"timedelta": [days, seconds, us]}, {"tz": [offset, name]},
{"od"|"ctr": [[k, v], ...]} OrderedDict/Counter, {"dd": [factory, [[k, v], ...]]} defaultdict,
{"dq": [[...], maxlen]} deque, {"o": class name, "a": {field: value}} object, {"x": description}
opaque.
"""

from __future__ import annotations

import builtins
import collections
import datetime
import decimal
import fractions
import json
from typing import Any

MAX_DEPTH = 100


class Opaque:
    """A value the encoding cannot carry; it equals only itself."""

    def __init__(self, description: str) -> None:
        self.description = description

    def __repr__(self) -> str:
        return f"<unencodable {self.description}>"


_DICT_VIEWS = {type({}.keys()): "dk", type({}.values()): "dv", type({}.items()): "di"}


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
    d = depth + 1
    special = _STDLIB_ENCODERS.get(kind)
    if special is not None:
        return special(value, d)
    if kind in _DICT_VIEWS:
        tag = _DICT_VIEWS[kind]
        return {tag: _items(value, d) if tag == "di" else [encode(v, d) for v in value]}
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):  # int subclasses (IntEnum...) carry their plain value
        return encode(int.__index__(value), depth)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        # The built-in type's own __iter__ runs: a subclass's override must not.
        base: Any = next(t for t in (list, tuple, frozenset, set) if isinstance(value, t))
        items = [encode(v, d) for v in base.__iter__(value)]
        tag = {list: "l", tuple: "t", set: "s", frozenset: "f"}[base]
        if tag in ("s", "f"):
            items.sort(key=_sort_key)
        return {tag: items}
    if isinstance(value, dict):
        return {"d": _items(dict.items(value), d)}
    if isinstance(value, bytearray):
        return {"ba": bytes(value).hex()}
    if isinstance(value, bytes):
        return {"b": bytes(value).hex()}
    if isinstance(value, complex):
        return {"c": [complex.__complex__(value).real, complex.__complex__(value).imag]}
    if isinstance(value, type) and _is_builtin_type(value):
        return {"y": value.__name__}  # int, str, list... (MBPP passes types as arguments)
    if hasattr(type(value), "tolist") and type(value).__module__.startswith("numpy"):
        return encode(value.tolist(), d)  # numpy scalars and arrays: their Python value
    state = _state(value)
    if state is not None:
        return {"o": type(value).__name__, "a": {str(k): encode(v, d) for k, v in state.items()}}
    return {"x": f"{type(value).__name__} object"}


def _state(value: Any) -> dict[str, Any] | None:
    """The fields of an object of a plain class (its `__dict__`, or its `__slots__`)."""
    if callable(value) or isinstance(value, type):
        return None
    state = getattr(value, "__dict__", None)
    if isinstance(state, dict):
        return dict(state)
    slots = [s for cls in type(value).__mro__ for s in getattr(cls, "__slots__", ())
             if isinstance(s, str) and s not in ("__dict__", "__weakref__")]
    if slots:
        return {s: getattr(value, s) for s in slots if hasattr(value, s)}
    return None


def _items(pairs: Any, depth: int) -> list[list[Any]]:
    return [[encode(k, depth), encode(v, depth)] for k, v in pairs]


def _tz(tz: datetime.tzinfo | None, moment: datetime.datetime | None) -> Any:
    """A time zone as its offset at `moment` (and its name when it is a fixed `timezone`)."""
    if tz is None:
        return None
    offset = tz.utcoffset(moment)
    if offset is None:
        return None
    name = tz.tzname(moment) if isinstance(tz, datetime.timezone) else None
    return [_timedelta(offset), name]


def _timedelta(value: datetime.timedelta) -> list[int]:
    return [value.days, value.seconds, value.microseconds]


_STDLIB_ENCODERS: dict[type, Any] = {
    fractions.Fraction: lambda v, d: {"fr": [encode(v.numerator, d), encode(v.denominator, d)]},
    decimal.Decimal: lambda v, d: {"dec": str(v)},
    range: lambda v, d: {"r": [encode(v.start, d), encode(v.stop, d), encode(v.step, d)]},
    datetime.date: lambda v, d: {"date": [v.year, v.month, v.day]},
    datetime.datetime: lambda v, d: {"datetime": [
        v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, v.fold,
        _tz(v.tzinfo, v)]},
    datetime.time: lambda v, d: {"time": [
        v.hour, v.minute, v.second, v.microsecond, v.fold, _tz(v.tzinfo, None)]},
    datetime.timedelta: lambda v, d: {"timedelta": _timedelta(v)},
    datetime.timezone: lambda v, d: {"tz": _tz(v, None)},
    collections.OrderedDict: lambda v, d: {"od": _items(v.items(), d)},
    collections.Counter: lambda v, d: {"ctr": _items(v.items(), d)},
    collections.defaultdict: lambda v, d: {"dd": [encode(v.default_factory, d), _items(v.items(), d)]},
    collections.deque: lambda v, d: {"dq": [[encode(x, d) for x in v], v.maxlen]},
}


def _is_builtin_type(cls: type) -> bool:
    """int, str, list... themselves (not a class of the same name)."""
    return getattr(builtins, cls.__name__, None) is cls


def _sort_key(encoded: Any) -> str:
    return json.dumps(encoded, sort_keys=True)


def dumps(value: Any) -> str:
    """Canonical text of an encoded value (what call keys and comparisons use)."""
    return json.dumps(value, sort_keys=True, allow_nan=True)


def decode(data: Any, classes: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """The value an encoding stands for. `classes` maps class names to the receiving side's
    classes (its own `Pair`); unknown names become `Opaque`. Raises ValueError (or the value
    type's own error, such as ZeroDivisionError for a fraction) on a malformed encoding."""
    if depth > MAX_DEPTH:
        raise ValueError("encoded value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise ValueError(f"not an encoded value: {str(data)[:80]}")
    d = depth + 1
    tag = next(iter(data)) if len(data) == 1 else "o"
    if tag == "o":
        cls = (classes or {}).get(data.get("o", ""))
        if not isinstance(cls, type) or not isinstance(data.get("a"), dict):
            return Opaque(f"{data.get('o')} object")
        obj: Any = object.__new__(cls)
        for name, value in data["a"].items():
            object.__setattr__(obj, name, decode(value, classes, d))
        return obj
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise ValueError(f"unknown tag in encoded value: {sorted(data)}")
    return decoder(data[tag], lambda v: decode(v, classes, d))


def _pairs(items: Any, inner: Any) -> list[tuple[Any, Any]]:
    return [(inner(k), inner(v)) for k, v in items]


def _decode_tz(data: Any) -> datetime.timezone | None:
    if data is None:
        return None
    offset, name = data
    delta = datetime.timedelta(*offset)
    return datetime.timezone(delta) if name is None else datetime.timezone(delta, name)


def _decode_factory(encoded: Any, inner: Any) -> Any:
    factory = inner(encoded)
    return factory if factory is None or isinstance(factory, type) else None


_DECODERS: dict[str, Any] = {
    "l": lambda v, inner: [inner(x) for x in v],
    "t": lambda v, inner: tuple(inner(x) for x in v),
    "s": lambda v, inner: {inner(x) for x in v},
    "f": lambda v, inner: frozenset(inner(x) for x in v),
    "d": lambda v, inner: dict(_pairs(v, inner)),
    "i": lambda v, inner: int(v, 16),
    "b": lambda v, inner: bytes.fromhex(v),
    "ba": lambda v, inner: bytearray.fromhex(v),
    "c": lambda v, inner: complex(*v),
    "r": lambda v, inner: range(*(inner(x) for x in v)),
    "dk": lambda v, inner: dict.fromkeys(inner(x) for x in v).keys(),
    "dv": lambda v, inner: {i: inner(x) for i, x in enumerate(v)}.values(),
    "di": lambda v, inner: dict(_pairs(v, inner)).items(),
    "fr": lambda v, inner: fractions.Fraction(inner(v[0]), inner(v[1])),
    "dec": lambda v, inner: decimal.Decimal(str(v)),
    "date": lambda v, inner: datetime.date(*v),
    "datetime": lambda v, inner: datetime.datetime(*v[:7]).replace(fold=v[7], tzinfo=_decode_tz(v[8])),
    "time": lambda v, inner: datetime.time(*v[:4]).replace(fold=v[4], tzinfo=_decode_tz(v[5])),
    "timedelta": lambda v, inner: datetime.timedelta(*v),
    "tz": lambda v, inner: _decode_tz(v),
    "od": lambda v, inner: collections.OrderedDict(_pairs(v, inner)),
    "ctr": lambda v, inner: collections.Counter(dict(_pairs(v, inner))),
    "dd": lambda v, inner: collections.defaultdict(_decode_factory(v[0], inner), _pairs(v[1], inner)),
    "dq": lambda v, inner: collections.deque((inner(x) for x in v[0]), v[1]),
    "y": lambda v, inner: _builtin_type(v),
    "x": lambda v, inner: Opaque(str(v)),
}


def _builtin_type(name: Any) -> Any:
    cls = getattr(builtins, str(name), None)
    return cls if isinstance(cls, type) else Opaque(f"type {name}")
