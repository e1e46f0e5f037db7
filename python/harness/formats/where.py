"""`--where` conditions on episode records: the filter expressions of `harness jsonl filter`.

    condition = parse_where("/reward >= 0.5")         # ("/reward", ">=", 0.5)
    matches(record, [condition])                      # True / False

The grammar and the meaning are those of `harness.jsonl.filter` (docs/jsonl.md), evaluated here
on each record as the formatter reads it (a test runs both on the same records): `POINTER OP
VALUE` with OP one of `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `not in`, `exists`, `missing`;
VALUE is read as JSON when it parses, as text otherwise, and must be null, a boolean, a number
or a string (a list of them for `in` / `not in`). Numbers compare numerically, booleans only
equal booleans, `<`… need two numbers or two strings (code-point order); a condition on an
absent field is false, except `missing`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from harness.pointer import ABSENT, resolve

__all__ = ["OPS", "Condition", "describe", "matches", "parse_where"]

Condition = tuple[str, str, Any]

OPS = ("not in", "exists", "missing", "==", "!=", "<=", ">=", "<", ">", "in")


def _literal(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def parse_where(text: str) -> Condition:
    """`'/reward >= 0.5'` → `('/reward', '>=', 0.5)`; a ValueError says what is wrong."""
    pointer, _, rest = text.strip().partition(" ")
    rest = rest.strip()
    if not pointer.startswith("/"):
        raise ValueError(f"--where {text!r}: the condition starts with a JSON pointer such as /outcome/success")
    for op in OPS:
        if rest == op or rest.startswith(op + " "):
            raw = rest[len(op):].strip()
            if op in ("exists", "missing"):
                if raw:
                    raise ValueError(f"--where {text!r}: '{op}' takes no value")
                return pointer, op, None
            if not raw:
                raise ValueError(f"--where {text!r}: '{op}' needs a value")
            value = _literal(raw)
            if op in ("in", "not in"):
                if not isinstance(value, list):
                    raise ValueError(f"--where {text!r}: the value of an '{op}' condition must be a list")
                if not all(_scalar(v) for v in value):
                    raise ValueError(f"--where {text!r}: list items must be null, booleans, numbers or strings")
            elif not _scalar(value):
                raise ValueError(f"--where {text!r}: the value must be null, a boolean, a number or a string")
            return pointer, op, value
    raise ValueError(f"--where {text!r}: expected 'POINTER OP VALUE' with OP one of {', '.join(OPS)}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _number(a) and _number(b):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    return isinstance(a, str) and isinstance(b, str) and a == b


def _holds(value: Any, op: str, expected: Any) -> bool:
    if op == "exists":
        return value is not ABSENT
    if op == "missing":
        return value is ABSENT
    if value is ABSENT:
        return False
    if op == "==":
        return _equal(value, expected)
    if op == "!=":
        return not _equal(value, expected)
    if op == "in":
        return any(_equal(value, item) for item in expected)
    if op == "not in":
        return not any(_equal(value, item) for item in expected)
    if (_number(value) and _number(expected)) or (isinstance(value, str) and isinstance(expected, str)):
        return {"<": value < expected, "<=": value <= expected,
                ">": value > expected, ">=": value >= expected}[op]
    return False


def matches(record: Any, conditions: Iterable[Condition]) -> bool:
    """Whether `record` meets every condition."""
    return all(_holds(resolve(record, pointer), op, value) for pointer, op, value in conditions)


def describe(condition: Condition) -> str:
    """The condition as it is written on the command line."""
    pointer, op, value = condition
    return (
        f"{pointer} {op}" if op in ("exists", "missing") else f"{pointer} {op} {json.dumps(value, ensure_ascii=False)}"
    )
