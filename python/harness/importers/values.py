"""Seed values that JSON cannot hold, kept inside episode records.

Seed 000 files were written by Python's `json.dumps`, which writes bare `NaN`, `Infinity` and
`-Infinity`. An episode record is strict JSON (`harness.jsonl` reads no bare NaN), so an import
adapter stores each non-finite float as `{"$json": "NaN"}`: an object whose only key is `$json`
stands for the value Python's `json` reads from its text. An original object that has a `$json`
key of its own is stored the same way (`{"$json": "{\\"$json\\": …}"}`), so `decode(encode(v))`
is `v` for every value Python's `json` can read, and the formatters see exactly what the seed's
did.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MARK", "decode", "encode", "needs_encoding"]

MARK = "$json"


def encode(value: Any) -> Any:
    """`value` with every non-finite float (and every object holding a `$json` key) stored as
    `{"$json": TEXT}`."""
    if isinstance(value, float) and not math.isfinite(value):
        return {MARK: json.dumps(value)}
    if isinstance(value, dict):
        if MARK in value:
            return {MARK: json.dumps(value, ensure_ascii=False)}
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """The inverse of `encode`."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(MARK), str):
            return json.loads(value[MARK])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def needs_encoding(value: Any) -> bool:
    """Whether `encode` changes `value` (a non-finite float or a `$json` key somewhere in it);
    records that need none are stored, and read, without the walk."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return MARK in value or any(needs_encoding(v) for v in value.values())
    if isinstance(value, list):
        return any(needs_encoding(v) for v in value)
    return False
