"""Values as seed 000 records and compares them: normalised to plain JSON, then hashed.

`normalise(value)` turns what a model's code produces (pandas objects, numpy scalars) into plain
JSON values, with the seed's rules:

- a 1×1 DataFrame → its single value; a one-column DataFrame → list of its values (a dict keyed
  by the index when the index is not a plain 0..n-1 range); a two-column DataFrame →
  `{col0 value: col1 value}`; any other DataFrame → list of row records;
- a Series of size 1 → its single value; any other Series → `{index: value}`;
- numpy scalars → Python scalars.

What the seed leaves open, decided here: numpy arrays, tuples and sets → lists (sets sorted by
their JSON text); NaN, ±inf, None, pd.NA and NaT → null (so every value is valid JSON);
timestamps → ISO strings; dict keys → strings exactly as `json.dumps` writes them (`1` →
`"1"`, `True` → `"true"`, `None` → `"null"`), other keys (tuples of a MultiIndex) → `str()` of
their normalised form. Anything else is a TypeError naming the type.

`value_hash(value)` = first 16 hex characters of sha256 of `json.dumps(normalise(value),
sort_keys=True)` (Python's default separators and ASCII escaping), as the seed computes it.

`answers_match(submitted, truth, decimals)` decides the reward: equal hashes, or the numeric
tolerance below (see docs/data_analysis.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from typing import Any

import numpy as np
import pandas as pd

JsonValue = Any  # None | bool | int | float | str | list[JsonValue] | dict[str, JsonValue]

RELATIVE_TOLERANCE = 1e-9  # numbers compared without a requested rounding


def normalise(value: Any) -> JsonValue:
    """The plain-JSON form of a value (see the module docstring for the rules)."""
    if isinstance(value, pd.DataFrame):
        return _frame(value)
    if isinstance(value, pd.Series):
        if value.size == 1:
            return normalise(value.iloc[0])
        return {_key(k): normalise(v) for k, v in value.items()}
    if isinstance(value, pd.Index):
        return [normalise(v) for v in value]
    if isinstance(value, np.ndarray):
        return [normalise(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return normalise(value.item())
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_key(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    if isinstance(value, set | frozenset):
        items = [normalise(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dt.datetime | dt.date | dt.time):  # pd.Timestamp is a datetime
        return value.isoformat()
    if isinstance(value, pd.Timedelta | dt.timedelta):
        return str(value)
    raise TypeError(f"cannot turn a value of type {type(value).__name__} into JSON")


def _frame(frame: pd.DataFrame) -> JsonValue:
    rows, cols = frame.shape
    if (rows, cols) == (1, 1):
        return normalise(frame.iat[0, 0])
    if cols == 1:
        column = frame.iloc[:, 0]
        if _plain_range(frame.index):
            return [normalise(v) for v in column]
        return {_key(k): normalise(v) for k, v in column.items()}
    if cols == 2:
        return {_key(k): normalise(v) for k, v in zip(frame.iloc[:, 0], frame.iloc[:, 1])}
    return [
        {_key(k): normalise(v) for k, v in zip(frame.columns, row)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _plain_range(index: pd.Index) -> bool:
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def _key(key: Any) -> str:
    """A dict key as JSON writes it, so a value and its JSON round trip hash the same."""
    key = normalise(key)
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    return str(key)


def dumps(value: Any) -> str:
    """The JSON text that is hashed: sorted keys, Python's default separators."""
    return json.dumps(normalise(value), sort_keys=True)


def value_hash(value: Any) -> str:
    """First 16 hex characters of sha256 of `dumps(value)`."""
    return hashlib.sha256(dumps(value).encode("utf-8")).hexdigest()[:16]


def answers_match(submitted: JsonValue, truth: JsonValue, decimals: int | None = None) -> bool:
    """True when two normalised answers are equal up to the numeric tolerance.

    Numbers (never booleans) match when |a − b| ≤ 0.5·10^−decimals (+1e-12 for float noise)
    if the question asked for `decimals` decimals, else when they agree to 1e-9 relative; so 13.0
    matches 13 and 13.094 matches 13.09 at 2 decimals. Strings, booleans and null match exactly;
    lists match item by item, dicts key by key (same keys).
    """
    if _is_number(submitted) and _is_number(truth):
        if decimals is not None:
            return abs(submitted - truth) <= 0.5 * 10.0**-decimals + 1e-12
        return math.isclose(submitted, truth, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)
    if isinstance(submitted, list) and isinstance(truth, list):
        return len(submitted) == len(truth) and all(
            answers_match(a, b, decimals) for a, b in zip(submitted, truth)
        )
    if isinstance(submitted, dict) and isinstance(truth, dict):
        return submitted.keys() == truth.keys() and all(
            answers_match(submitted[k], truth[k], decimals) for k in truth
        )
    return type(submitted) is type(truth) and submitted == truth


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
