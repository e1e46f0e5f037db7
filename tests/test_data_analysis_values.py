"""Normalisation and hashing of values (seed 000 rules), pinned with golden texts and hashes."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from harness_data_analysis.values import answers_match, dumps, normalise, value_hash

# (value, normalised form, JSON text hashed, first 16 hex of its sha256): the hex digests were
# computed from the JSON texts with hashlib alone, independently of the code under test.
GOLDEN = [
    pytest.param(np.float64(13.09), 13.09, "13.09", "027ac2397a1853b8", id="numpy-float"),
    pytest.param(np.int64(42), 42, "42", "73475cb40a568e8d", id="numpy-int"),
    pytest.param(np.bool_(True), True, "true", "b5bea41b6c623f7c", id="numpy-bool"),
    pytest.param(pd.DataFrame({"a": [42]}), 42, "42", "73475cb40a568e8d", id="frame-1x1"),
    pytest.param(
        pd.DataFrame({"a": [1, 2, 3]}), [1, 2, 3], "[1, 2, 3]", "a36b1f2c3f84522d",
        id="frame-one-column-range-index",
    ),
    pytest.param(
        pd.DataFrame({"v": [1, 2]}, index=["a", "b"]), {"a": 1, "b": 2}, '{"a": 1, "b": 2}',
        "d8497d9d82770a70", id="frame-one-column-labelled-index",
    ),
    pytest.param(
        pd.DataFrame({"v": [1, 2, 3]}, index=pd.RangeIndex(1, 4)),
        {"1": 1, "2": 2, "3": 3}, '{"1": 1, "2": 2, "3": 3}', None,
        id="frame-one-column-range-not-from-zero",
    ),
    pytest.param(
        pd.DataFrame({"k": ["x", "y"], "v": [10, 20]}), {"x": 10, "y": 20}, '{"x": 10, "y": 20}',
        "63d720a1793110c0", id="frame-two-columns",
    ),
    pytest.param(
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [2.5, np.nan]}),
        [{"a": 1, "b": "x", "c": 2.5}, {"a": 2, "b": "y", "c": None}],
        '[{"a": 1, "b": "x", "c": 2.5}, {"a": 2, "b": "y", "c": null}]',
        "c5715e4c4f384e23", id="frame-records",
    ),
    pytest.param(
        pd.Series(["setosa"]), "setosa", '"setosa"', "1d3ffeffd4b2230e", id="series-size-1"
    ),
    pytest.param(
        pd.Series({"setosa": 0.246, "versicolor": 1.326, "virginica": 2.026}),
        {"setosa": 0.246, "versicolor": 1.326, "virginica": 2.026},
        '{"setosa": 0.246, "versicolor": 1.326, "virginica": 2.026}',
        "520c1bf2eb701422", id="series-dict",
    ),
    pytest.param(
        pd.Series([235, 207], index=pd.Index([1, 2], dtype="int64")),
        {"1": 235, "2": 207}, '{"1": 235, "2": 207}', "4193ed190c0c99ff",
        id="series-numpy-int-keys",
    ),
    pytest.param(
        pd.Series([5.1, 4.9]).to_numpy(), [5.1, 4.9], "[5.1, 4.9]", "c8875df57a99cd89",
        id="numpy-array",
    ),
    pytest.param(
        {"x": (1.5, float("nan")), None: 1, True: np.int32(2)},
        {"x": [1.5, None], "null": 1, "true": 2},
        '{"null": 1, "true": 2, "x": [1.5, null]}', "33d206e12fb529c8",
        id="dict-keys-as-json-writes-them",
    ),
    pytest.param(float("inf"), None, "null", "74234e98afe7498f", id="infinity-is-null"),
    pytest.param(pd.NA, None, "null", "74234e98afe7498f", id="pd-NA-is-null"),
    pytest.param(
        {"café": "漢"}, {"café": "漢"}, '{"caf\\u00e9": "\\u6f22"}', "b3fa8ae13e7cbf31",
        id="non-ascii-escaped-as-json-dumps-does",
    ),
]


@pytest.mark.parametrize(("value", "normalised", "text", "digest"), GOLDEN)
def test_golden_normalisation_and_hash(value, normalised, text, digest):
    assert normalise(value) == normalised
    assert dumps(value) == text
    expected = hashlib.sha256(text.encode()).hexdigest()[:16]
    assert value_hash(value) == expected
    if digest is not None:
        assert expected == digest


def test_normalised_values_survive_a_json_round_trip_with_the_same_hash():
    value = pd.DataFrame({"g": ["a", "b"], "m": [np.float32(0.5), np.float64(1.25)]})
    normalised = normalise(value)
    assert json.loads(json.dumps(normalised)) == normalised
    assert value_hash(json.loads(json.dumps(normalised))) == value_hash(value)


def test_series_of_size_one_and_frame_of_one_cell_become_the_scalar():
    grouped = pd.DataFrame({"k": ["a"], "v": [3]}).groupby("k")["v"].sum()
    assert normalise(grouped) == 3
    assert normalise(pd.DataFrame({"v": [np.float64(2.5)]}, index=["only"])) == 2.5


def test_timestamps_sets_and_tuples():
    assert normalise(pd.Timestamp("2024-03-01T12:00:00")) == "2024-03-01T12:00:00"
    assert normalise({3, 1, 2}) == [1, 2, 3]
    assert normalise((np.int8(1), "a")) == [1, "a"]
    assert normalise({("a", 1): 5}) == {"['a', 1]": 5}


def test_unsupported_values_are_a_type_error_naming_the_type():
    class Opaque:
        pass

    with pytest.raises(TypeError, match="Opaque"):
        normalise(Opaque())


@pytest.mark.parametrize(
    ("submitted", "truth", "decimals", "match"),
    [
        (13.09, 13.09, 2, True),
        (13, 13.0, None, True),  # an integer that equals a float
        (13.094, 13.09, 2, True),  # within half a unit of the last requested decimal
        (13.096, 13.09, 2, False),
        (13.09 + 1e-12, 13.09, None, True),
        (13.1, 13.09, None, False),
        ("setosa", "setosa", None, True),
        ("Setosa", "setosa", None, False),
        (True, 1, None, False),  # booleans are not numbers
        ([1.0, 2.0], [1, 2], None, True),
        ([1, 2], [1, 2, 3], None, False),
        ({"a": 0.2461}, {"a": 0.246}, 3, True),
        ({"a": 0.246}, {"b": 0.246}, 3, False),
        (None, 0, None, False),
    ],
)
def test_answers_match_tolerance(submitted, truth, decimals, match):
    assert answers_match(submitted, truth, decimals) is match
