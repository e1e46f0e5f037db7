"""`--where` of `harness format run` means what `harness jsonl filter --where` means: the Python
evaluation (harness.formats.where) keeps exactly the records the Rust filter keeps, for every
operator on every kind of value, absent fields and JSON pointers included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import jsonl
from harness.formats.where import matches, parse_where

RECORDS = [
    {"a": 1, "b": "x", "c": True, "d": None, "e": [1, 2], "f": {"g": 1, "h/i": 2, "j~k": 3}, "h": 1.0, "i": "1"},
    {"a": 2.5, "b": "y", "c": False, "e": [], "f": {}, "h": -1, "i": 1},
    {"a": "1", "b": 3, "c": 0, "d": "null", "e": {"0": 1}, "f": [1], "h": True},
    {},
    {"a": None, "b": ["x"], "c": "true", "e": [None, {"k": "v"}], "f": {"g": "1"}},
]
CONDITIONS = [
    "/a == 1", "/a == 1.0", "/a != 1", "/a == \"1\"", "/a > 1", "/a <= 2.5", "/a >= 0", "/a < 1.5",
    "/a in [1, 2.5]", "/a not in [1]", "/a exists", "/a missing", "/a == null", "/a != null",
    "/b == x", "/b < y", "/b >= x", "/b in [\"x\", 3]", "/b != x",
    "/c == true", "/c == 1", "/c != false", "/c in [true, 0]", "/c > 0",
    "/d == null", "/d exists", "/d missing", "/d != 1", "/d in [null]",
    "/e/0 == 1", "/e/1 exists", "/e/0 missing", "/e/01 exists", "/e/1/k == v", "/e == 1", "/e != 1",
    "/f/g == 1", "/f/h~1i == 2", "/f/j~0k == 3", "/f/0 == 1", "/f/g != 1",
    "/h == 1", "/h < 0", "/h == true", "/i == 1", "/i == \"1\"", "/zz != 1", "/zz not in [1]", "/zz missing",
]


@pytest.mark.parametrize("text", CONDITIONS)
def test_python_and_rust_keep_the_same_records(text, tmp_path: Path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    condition = parse_where(text)
    jsonl.filter(source, out, [condition], allow_empty=True)
    kept_by_rust = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r for r in RECORDS if matches(r, [condition])] == kept_by_rust


@pytest.mark.parametrize("text, message", [
    ("a == 1", "starts with a JSON pointer"),
    ("/a", "expected 'POINTER OP VALUE'"),
    ("/a ==", "needs a value"),
    ("/a exists 1", "takes no value"),
    ("/a in 1", "must be a list"),
    ("/a == [1]", "must be null, a boolean, a number or a string"),
    ("/a in [[1]]", "list items must be"),
])
def test_bad_conditions_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_where(text)
