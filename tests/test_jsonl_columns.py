"""harness.jsonl.columns: the place and the asked-for values of every record, as columns, with
`*` standing for every element of an array; checked against json.loads of the same bytes."""

from __future__ import annotations

import json

import pytest

from harness import jsonl

RECORDS = [
    {"id": 1, "h": [{"s": "correct"}, {"s": "one_away"}, {"n": 1}, "bare"], "c": [{"g": "A"}, {"g": "B \u00e9"}]},
    {"id": "two", "h": {"s": "an object, not an array"}},
    {"id": None, "h": [], "c": "not a list"},
    {"h": [{"s": ["nested", {"deep": True}]}]},
]
FIELDS = ["/id", "/h/*/s", "/c/*/g", "/missing/*"]


def expected(record: dict, field: str):
    _, top, *rest = field.split("/")
    value = record.get(top)
    if rest != ["*"] and rest:
        if not isinstance(value, list):
            return None
        key = rest[1]
        return [item.get(key) if isinstance(item, dict) else None for item in value]
    return value


def test_places_and_values_match_the_records_bytes(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n\n".join(json.dumps(r) for r in RECORDS).encode() + b"\n")
    report = jsonl.columns([path, path], FIELDS, threads=2)
    assert report.records == 2 * len(RECORDS) and len(report.files) == 2
    found = report.files[0]
    data = path.read_bytes()
    assert found.line == [1, 3, 5, 7]
    assert [json.loads(data[o:o + n]) for o, n in zip(found.offset, found.length)] == RECORDS
    for field in FIELDS:
        assert found.values[field] == [expected(r, field) for r in RECORDS], field
    assert report.files[1].values == found.values


def test_malformed_lines_are_raised_with_their_place_or_left_out(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": 1}\n{"id": \n{"id": 3}\n')
    with pytest.raises(jsonl.JsonlError, match=r"r.jsonl:2"):
        jsonl.columns(path, ["/id"])
    report = jsonl.columns(path, ["/id"], errors="collect")
    assert (report.records, report.malformed, report.files[0].line) == (2, 1, [1, 3])
    assert report.files[0].values["/id"] == [1, 3] and report.errors[0].line == 2


def test_bad_fields_are_value_errors():
    with pytest.raises(ValueError, match="at most one"):
        jsonl.columns("-", ["/a/*/b/*"])
    with pytest.raises(ValueError, match="start with '/'"):
        jsonl.columns("-", ["a"])


def test_records_are_read_again_by_place(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    found = jsonl.columns(path, FIELDS).files[0]
    places = list(zip(found.offset, found.length))[::-1]
    again = jsonl.columns_at(path, places, FIELDS)
    assert again.line == [] and again.offset == found.offset[::-1] and again.length == found.length[::-1]
    assert again.values == {f: v[::-1] for f, v in found.values.items()}
    with pytest.raises(ValueError, match=r"r.jsonl: the 5 bytes at offset 1 are not one record"):
        jsonl.columns_at(path, [(1, 5)], FIELDS)


def test_words_are_counted_as_str_split_counts_them(tmp_path):
    texts = [f"a{chr(c)}b" for c in range(0x3100) if not 0xD800 <= c < 0xE000]  # every space is below U+3100
    texts += ["", "  ", " one  two\n\nthree ", "caf\u00e9 na\u00efve \U0001f389 \u00a0x\u3000y", "a\u200bb"]
    record = {"m": [{"c": t} for t in texts] + [{"c": 7}, {"c": ["a b"]}, {}]}
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record) + "\n")
    whole = jsonl.columns(path, ["/m"]).files[0]
    place = (whole.offset[0], whole.length[0])
    found = jsonl.columns_at(path, [place], ["/m/*/c"], words=["/m/*/c"])
    assert found.values["/m/*/c"] == [[len(t.split()) for t in texts] + [None, None, None]]
    with pytest.raises(ValueError, match="not one of the fields"):
        jsonl.columns_at(path, [place], ["/m"], words=["/m/*/c"])
