"""Example-based tests of the Python API `harness.jsonl`, against docs/jsonl.md."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jsonl_reference as ref
from harness import jsonl
from harness.jsonl import JsonlError

OK_LINE = b'{"ok":1}\n'  # 9 bytes


def write(d, name: str, data: bytes) -> str:
    p = os.path.join(str(d), name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def lines_of(p: str) -> list[bytes]:
    with open(p, "rb") as f:
        data = f.read()
    assert data == b"" or data.endswith(b"\n"), data
    return data.split(b"\n")[:-1]


@pytest.fixture
def dirs(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    return tmp_path / "in", tmp_path / "out"


# --------------------------------------------------------------------------------------------
# JsonlError
# --------------------------------------------------------------------------------------------


def test_jsonl_error_is_value_error():
    assert issubclass(JsonlError, ValueError)


def _only_error(p: str) -> JsonlError:
    rep = jsonl.scan([p])
    assert rep.malformed == 1 and len(rep.errors) == 1, rep.errors
    e = rep.errors[0]
    # raise mode of read reports the same error
    with pytest.raises(JsonlError) as ei:
        list(jsonl.read([p]))
    r = ei.value
    assert (r.path, r.line, r.column, r.byte_offset, r.reason) == (
        e.path, e.line, e.column, e.byte_offset, e.reason)
    return e


# (bad line, words one of which the reason must contain, acceptable columns, byte in line)
# Columns are 1-based characters; the byte offset is of the offending character in the file.
# Where a parser may reasonably point at the offending character or just after it, both
# columns are accepted.
ERROR_CASES = {
    "utf8": (b'{"a": "\xff"}', ("utf-8", "utf8"), (8, 8)),
    "utf8-after-multibyte": ('{"é": "'.encode() + b'\xff"}', ("utf-8", "utf8"), (8, 8)),
    "utf8-surrogate": (b'{"a": "\xed\xa0\x80"}', ("utf-8", "utf8"), (8, 8)),
    "utf8-overlong": (b'{"a": "\xc0\xaf"}', ("utf-8", "utf8"), (8, 8)),
    "nan": (b'{"a": NaN}', ("nan",), (7, 7)),
    "nan-after-multibyte": ('{"é": NaN}'.encode(), ("nan",), (7, 7)),
    "infinity": (b'{"a": Infinity}', ("infinity",), (7, 7)),
    "minus-infinity": (b'{"a": -Infinity}', ("infinity",), (7, 8)),
    "nan-nested": (b'{"a": [1, {"b": NaN}]}', ("nan",), (17, 17)),
    "dup": (b'{"a":1,"a":2}', ("duplicate",), (8, 13)),
    "dup-nested": (b'{"x":{"b":1,"b":2}}', ("duplicate",), (13, 19)),
    "dup-in-array": (b'{"x":[{"c":1,"c":1}]}', ("duplicate",), (14, 20)),
    "dup-escaped": (b'{"a":1,"\\u0061":2}', ("duplicate",), (8, 18)),
    "not-object-array": (b'[1]', ("object",), (1, 1)),
    "not-object-number": (b'3', ("object",), (1, 1)),
    "not-object-string": (b'"s"', ("object",), (1, 1)),
    "not-object-null": (b'null', ("object",), (1, 1)),
    "not-object-indented": (b'  [{"a":1}]', ("object",), (1, 3)),
    "trailing-comma": (b'{"a": 1,}', (), (8, 9)),
    "control-char": (b'{"a": "x\ty"}', (), (9, 10)),
    "single-quotes": (b"{'a': 1}", (), (2, 2)),
    "leading-zero": (b'{"a": 01}', (), (7, 8)),
    "comment": (b'{"a": 1} // c', (), (10, 10)),
    "trailing-garbage": (b'{"a":1}x', (), (8, 8)),
    "bom-not-at-file-start": (b'\xef\xbb\xbf{"a":1}', (), (1, 1)),
    "bad-escape": (b'{"a": "\\x"}', (), (8, 10)),
    "unterminated-mid-file": (b'{"a": 1', (), (7, 8)),
}


@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_malformed_line_error(dirs, name):
    bad, words, (lo, hi) = ERROR_CASES[name]
    d, _ = dirs
    p = write(d, "f.jsonl", OK_LINE + bad + b"\n" + OK_LINE)
    e = _only_error(p)
    assert isinstance(e, JsonlError) and isinstance(e, ValueError)
    assert os.fspath(e.path) == p
    assert e.line == 2
    assert lo <= e.column <= hi, f"column {e.column} not in [{lo}, {hi}] for {bad!r}"
    prefix = ref.classify(p, 2, 9, bad, False).error
    if prefix.kind == ref.UTF8:
        assert e.byte_offset == 9 + prefix.err_byte
    else:
        text = bad.decode("utf-8")
        assert e.byte_offset == 9 + len(text[: e.column - 1].encode()), (e.column, e.byte_offset)
    if words:
        assert any(w in e.reason.lower() for w in words), e.reason
    assert e.reason != "truncated last line"
    assert str(e) == f"{p}:2:{e.column}: {e.reason}"
    assert isinstance(e.snippet, str) and e.snippet
    # the snippet shows the line around the error
    visible = bad.decode("utf-8", "replace")
    near = [visible[:6], visible[max(0, e.column - 4): e.column + 2],
            visible.lstrip("\ufeff \t")[:5]]
    assert any(c and c in e.snippet for c in near), (e.snippet, visible)


def test_truncated_last_line(dirs):
    d, _ = dirs
    p = write(d, "f.jsonl", OK_LINE + b'{"a": [1, "x')
    e = _only_error(p)
    assert (e.line, e.reason) == (2, "truncated last line")
    assert 12 <= e.column <= 13
    assert e.byte_offset == 9 + e.column - 1
    assert str(e) == f"{p}:2:{e.column}: truncated last line"


@pytest.mark.parametrize("tail", [b'{"a": 1', b'{"a":', b'{', b'{"a": tr', b'{"a": "ab\\',
                                  b'{"a": -', b'{"a": 1.5e', b'{"a": "\\u00'])
def test_truncated_last_line_variants(dirs, tail):
    d, _ = dirs
    p = write(d, "f.jsonl", OK_LINE + OK_LINE + tail)
    e = _only_error(p)
    # the exact wording is pinned by test_truncated_last_line
    assert e.line == 3 and e.reason.startswith("truncated last line"), e.reason


def test_complete_last_line_without_newline_is_fine(dirs):
    d, _ = dirs
    p = write(d, "f.jsonl", OK_LINE + b'{"a": 1}')
    rep = jsonl.scan([p])
    assert (rep.records, rep.malformed) == (2, 0)
    assert list(jsonl.read([p])) == [{"ok": 1}, {"a": 1}]


def test_last_line_with_other_error_is_not_truncated(dirs):
    d, _ = dirs
    p = write(d, "f.jsonl", OK_LINE + b'{"a": NaN')
    e = _only_error(p)
    assert e.line == 2 and e.reason != "truncated last line" and "nan" in e.reason.lower()


def test_error_after_bom_and_crlf(dirs):
    d, _ = dirs
    # the BOM is skipped: it is not a character of line 1, but its bytes are in the file
    p = write(d, "a.jsonl", ref.BOM + b'{"a": NaN}\r\n')
    e = _only_error(p)
    assert (e.line, e.column, e.byte_offset) == (1, 7, 9)
    p = write(d, "b.jsonl", b'{"ok":1}\r\n\r\n  \r\n{"a": NaN}\r\n')
    e = _only_error(p)
    assert (e.line, e.column, e.byte_offset) == (4, 7, 22)


def test_error_offsets_in_second_file_and_unicode_lines(dirs):
    d, _ = dirs
    a = write(d, "a.jsonl", OK_LINE)
    line1 = '{"t":"😀😀é"}\n'.encode()
    b = write(d, "b.jsonl", line1 + '{"😀": 1, "k": Infinity}\n'.encode())
    rep = jsonl.scan([a, b])
    (e,) = rep.errors
    assert (os.fspath(e.path), e.line) == (b, 2)
    assert e.column == 15  # {"😀": 1, "k":  is 14 characters
    assert e.byte_offset == len(line1) + len('{"😀": 1, "k": '.encode())


def test_snippet_of_a_long_line_is_short(dirs):
    d, _ = dirs
    bad = b'{"pad": "' + b"x" * 100_000 + b'", "a": NaN}'
    p = write(d, "f.jsonl", bad + b"\n")
    e = _only_error(p)
    assert e.column == 100_018
    assert "NaN" in e.snippet
    assert len(e.snippet) < 1000


def test_wrong_type_reason_names_pointer(dirs):
    d, _out = dirs
    p = write(d, "f.jsonl", b'{"id":{"x":1}}\n')
    with pytest.raises(JsonlError) as ei:
        jsonl.count_by([p], "/id")
    assert ei.value.line == 1 and "/id" in ei.value.reason


# --------------------------------------------------------------------------------------------
# Atomic outputs
# --------------------------------------------------------------------------------------------

BAD_INPUT = b'{"id":1,"s":1,"steps":[{"type":"r"},{"type":"x"}]}\n{"id": NaN}\n'
GOOD_INPUT = b'{"id":1,"s":1,"steps":[{"type":"r"},{"type":"x"}]}\n'
OPS = {
    "dedup": lambda i, o, **kw: jsonl.dedup(i, o, "/id", keep="first", **kw),
    "dedup-best": lambda i, o, **kw: jsonl.dedup(i, o, "/id", score="/s", **kw),
    "split": lambda i, o, **kw: jsonl.split(i, o, "/steps", on=("/type", "r"), **kw),
    "filter": lambda i, o, **kw: jsonl.filter(i, o, [("/id", "exists", None)], **kw),
}


@pytest.mark.parametrize("op", list(OPS))
def test_raise_mode_writes_no_output(dirs, op):
    d, out = dirs
    p = write(d, "in.jsonl", BAD_INPUT)
    o = os.path.join(out, "o.jsonl")
    with pytest.raises(JsonlError) as ei:
        OPS[op]([p], o)
    assert ei.value.line == 2
    assert os.listdir(out) == []


@pytest.mark.parametrize("op", list(OPS))
def test_failed_op_leaves_existing_output_untouched(dirs, op):
    d, out = dirs
    p = write(d, "in.jsonl", BAD_INPUT)
    o = write(out, "o.jsonl", b"OLD CONTENT\n" * 1000)
    with pytest.raises(JsonlError):
        OPS[op]([p], o)
    with open(o, "rb") as f:
        assert f.read() == b"OLD CONTENT\n" * 1000
    assert os.listdir(out) == ["o.jsonl"]


@pytest.mark.parametrize("op", list(OPS))
def test_success_replaces_output_and_leaves_no_temp_files(dirs, op):
    d, out = dirs
    p = write(d, "in.jsonl", GOOD_INPUT)
    o = write(out, "o.jsonl", b"OLD CONTENT\n" * 1000)
    rep = OPS[op]([p], o)
    assert rep.written == 1
    assert len(lines_of(o)) == 1 and b"OLD" not in Path(o).read_bytes()
    assert os.listdir(out) == ["o.jsonl"]


@pytest.mark.parametrize("op", list(OPS))
def test_skip_mode_writes_output(dirs, op):
    d, out = dirs
    p = write(d, "in.jsonl", BAD_INPUT)
    o = os.path.join(out, "o.jsonl")
    rep = OPS[op]([p], o, errors="skip")
    assert rep.malformed == 1 and rep.written == 1 and list(rep.errors) == []
    assert os.listdir(out) == ["o.jsonl"]
    rep = OPS[op]([p], o, errors="collect")
    assert rep.malformed == 1 and [e.line for e in rep.errors] == [2]


def test_missing_key_error_writes_no_output(dirs):
    d, out = dirs
    p = write(d, "in.jsonl", b'{"id":1}\n{"other":2}\n')
    o = os.path.join(out, "o.jsonl")
    with pytest.raises(JsonlError) as ei:
        jsonl.dedup([p], o, "/id", keep="first")
    assert (os.fspath(ei.value.path), ei.value.line) == (p, 2)
    assert os.listdir(out) == []


# --------------------------------------------------------------------------------------------
# read
# --------------------------------------------------------------------------------------------


def test_read_locations_count_every_line(dirs):
    d, _ = dirs
    a = write(d, "a.jsonl", ref.BOM + b'{"a":1}\r\n\n  \t\r\n{"a":2}\n')
    b = write(d, "b.jsonl", b'\n{"b":[1,2.5,-0,"\\u00e9\\ud83d\\ude00"]}')
    got = list(jsonl.read([a, b], locations=True))
    assert [(os.fspath(p), n, r) for p, n, r in got] == [
        (a, 1, {"a": 1}), (a, 4, {"a": 2}), (b, 2, {"b": [1, 2.5, 0, "é😀"]})]
    assert list(jsonl.read([a, b])) == [{"a": 1}, {"a": 2}, {"b": [1, 2.5, 0, "é😀"]}]


def test_read_values_exact(dirs):
    d, _ = dirs
    p = write(d, "a.jsonl",
              b'{"big": 123456789012345678901234567890, "neg": -9223372036854775809, '
              b'"f": 0.1, "e": 1E2, "z": -0.0, "i": -0, "t": true, "n": null, '
              b'"tiny": 5e-324, "s": "\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000", "x": 1.7976931348623157e308,'
              b' "r": 12345e-2, "p": 0.30000000000000004}\n')
    (r,) = list(jsonl.read([p]))
    want = json.loads(Path(p).read_bytes())
    assert ref.same_value(r, want), (r, want)
    assert type(r["big"]) is int and type(r["e"]) is float and repr(r["z"]) == "-0.0"
    assert type(r["i"]) is int and r["r"] == 123.45


def test_read_fields_pointers(dirs):
    d, _ = dirs
    p = write(d, "a.jsonl",
              b'{"info": {"puzzle_id": 7}, "messages": [{"content": "hi"}], "a/b": 1, '
              b'"m~n": 2, "top": 3, "nul": null, "": 9}\n{"top": 4}\n')
    fields = ["/info/puzzle_id", "/messages/0/content", "/a~1b", "/m~0n", "top", "nul",
              "/nope", "/messages/5/content", "/messages/00/content", "/"]
    got = list(jsonl.read([p], fields=fields))
    assert got == [
        {"/info/puzzle_id": 7, "/messages/0/content": "hi", "/a~1b": 1, "/m~0n": 2, "top": 3,
         "nul": None, "/": 9},
        {"top": 4},
    ]


def test_read_raise_mode(dirs):
    d, _ = dirs
    p = write(d, "a.jsonl", b'{"a":1}\n{"a":2}\n{"a":\n{"a":4}\n')
    got = []
    with pytest.raises(JsonlError) as ei:
        for r in jsonl.read([p]):
            got.append(r)
    assert ei.value.line == 3
    assert got in ([], [{"a": 1}], [{"a": 1}, {"a": 2}])


@pytest.mark.parametrize("mode", ["skip", "collect"])
def test_read_skip_warns_with_count(dirs, mode):
    d, _ = dirs
    p = write(d, "a.jsonl", b'{"a":1}\n[2]\n{"a":3}\n{"a":NaN}\n{"a":5}\n{"a":1,"a":1}\n')
    reader = jsonl.read([p], errors=mode, batch_size=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = list(reader)
    assert got == [{"a": 1}, {"a": 3}, {"a": 5}]
    assert reader.malformed == 3
    msgs = [str(w.message) for w in caught]
    assert any("3" in m for m in msgs), msgs
    if mode == "collect":
        assert [e.line for e in reader.errors] == [2, 4, 6]
        assert all(isinstance(e, JsonlError) for e in reader.errors)
    else:
        assert list(reader.errors) == []


def test_read_no_warning_when_clean(dirs):
    d, _ = dirs
    p = write(d, "a.jsonl", b'{"a":1}\n\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(jsonl.read([p], errors="skip")) == [{"a": 1}]


# --------------------------------------------------------------------------------------------
# dedup
# --------------------------------------------------------------------------------------------

L1 = b'{ "id" : "a" , "s":1 ,"x":"\\u00e9\\/\\ud83d\\ude00" }'
L2 = b'{"id":"b",\t"s":  5e0}'
L3 = b'{"id":"a","s":3, "y" : [ 1 ,2 ]}'
L4 = b'{"id":"b","s":5}'


@pytest.fixture
def dedup_input(dirs):
    d, out = dirs
    p = write(d, "in.jsonl", L1 + b"\r\n" + L2 + b"\n\n" + L3 + b"\r\n" + L4)
    return p, os.path.join(out, "o.jsonl")


def test_dedup_best_byte_exact(dedup_input):
    p, o = dedup_input
    rep = jsonl.dedup([p], o, "/id", score="/s")
    assert Path(o).read_bytes() == L2 + b"\n" + L3 + b"\n"  # b: tie 5e0 vs 5 -> first
    assert (rep.records, rep.written, rep.unique_keys, rep.missing, rep.malformed) == (
        4, 2, 2, 0, 0)
    assert list(rep.errors) == []


def test_dedup_negated_score(dedup_input):
    p, o = dedup_input
    jsonl.dedup([p], o, "/id", score="-/s")
    assert Path(o).read_bytes() == L1 + b"\n" + L2 + b"\n"


def test_dedup_first_last(dedup_input):
    p, o = dedup_input
    jsonl.dedup([p], o, "/id", keep="first")
    assert Path(o).read_bytes() == L1 + b"\n" + L2 + b"\n"
    jsonl.dedup([p], o, "/id", keep="last")
    assert Path(o).read_bytes() == L3 + b"\n" + L4 + b"\n"


def test_dedup_best_needs_score(dedup_input):
    p, o = dedup_input
    with pytest.raises((ValueError, TypeError)):
        jsonl.dedup([p], o, "/id")
    assert not os.path.exists(o)


def test_dedup_multiple_scores_and_ties(dirs):
    d, out = dirs
    lines = [b'{"k":1,"a":1,"b":5}', b'{"k":1,"a":2,"b":9}', b'{"k":1,"a":2,"b":3}',
             b'{"k":1,"a":2.0,"b":3.0}', b'{"k":2,"a":0,"b":0}', b'{"k":2,"a":0,"b":0}']
    p = write(d, "in.jsonl", b"\n".join(lines) + b"\n")
    o = os.path.join(out, "o.jsonl")
    jsonl.dedup([p], o, "/k", score=["/a", "-/b"])
    assert lines_of(o) == [lines[2], lines[4]]
    jsonl.dedup([p], o, "/k", score=["/a", "/b"])
    assert lines_of(o) == [lines[1], lines[4]]
    jsonl.dedup([p], o, "/k", score=["-/a"])
    assert lines_of(o) == [lines[0], lines[4]]


def test_dedup_across_files_in_order(dirs):
    d, out = dirs
    a = write(d, "a.jsonl", b'{"k":"x","s":1,"f":"a1"}\n{"k":"y","s":2,"f":"a2"}\n')
    b = write(d, "b.jsonl", b'{"k":"y","s":2,"f":"b1"}\n{"k":"x","s":3,"f":"b2"}\n')
    o = os.path.join(out, "o.jsonl")
    jsonl.dedup([a, b], o, "/k", score="/s")
    assert lines_of(o) == [b'{"k":"y","s":2,"f":"a2"}', b'{"k":"x","s":3,"f":"b2"}']
    jsonl.dedup([b, a], o, "/k", keep="first")
    assert lines_of(o) == [b'{"k":"y","s":2,"f":"b1"}', b'{"k":"x","s":3,"f":"b2"}']
    jsonl.dedup([a, b], o, "/k", keep="last")
    assert lines_of(o) == [b'{"k":"y","s":2,"f":"b1"}', b'{"k":"x","s":3,"f":"b2"}']


# (JSON key text, expected key) -- the `key` column of docs/jsonl.md
KEY_CASES = [
    ('"abc"', "abc"), ('"\\u00e9\\n"', "é\n"), ("7", "7"), ("-0", "0"), ("0", "0"),
    ("123456789012345678901234567890", "123456789012345678901234567890"),
    ("-123456789012345678901234567891", "-123456789012345678901234567891"),
    ("1.0", "1.0"), ("1e2", "100.0"), ("1E2", "100.0"), ("1.5e20", "1.5e+20"),
    ("1e-5", "1e-05"), ("0.0001", "0.0001"), ("1e16", "1e+16"), ("1e15", "1000000000000000.0"),
    ("123456789012345678.0", "1.2345678901234568e+17"), ("-0.0", "-0.0"), ("0.1", "0.1"),
    ("1.10", "1.1"), ("5e-324", "5e-324"), ("1.7976931348623157e308", "1.7976931348623157e+308"),
    ("3.0e0", "3.0"), ("12345e-2", "123.45"), ("0.30000000000000004", "0.30000000000000004"),
    ("true", "True"), ("false", "False"), ("2.5E-3", "0.0025"),
]


def test_count_by_key_semantics(dirs):
    d, _ = dirs
    p = write(d, "in.jsonl", b"".join(b'{"k": %s}\n' % t.encode() for t, _ in KEY_CASES))
    rep = jsonl.count_by([p], "/k")
    want: dict = {}
    for _, k in KEY_CASES:
        want[k] = want.get(k, 0) + 1
    assert dict(rep.counts) == want
    assert rep.records == len(KEY_CASES)


def test_dedup_key_collisions(dirs):
    d, out = dirs
    pairs = [("1.5e20", '"1.5e+20"'), ("1e-5", '"1e-05"'), ("true", '"True"'), ("7", '"7"'),
             ("1.0", '"1.0"'), ("-0", '"0"'), ("1e2", '"100.0"'),
             ("123456789012345678901234567890", '"123456789012345678901234567890"')]
    lines = []
    for i, (a, b) in enumerate(pairs):
        lines.append(b'{"k":%s,"i":%d}' % (a.encode(), 2 * i))
        lines.append(b'{"k":%s,"i":%d}' % (b.encode(), 2 * i + 1))
    distinct = [b'{"k":1,"i":100}', b'{"k":100,"i":101}', b'{"k":"true","i":102}',
                b'{"k":123456789012345678901234567891,"i":103}', b'{"k":"-0","i":104}']
    p = write(d, "in.jsonl", b"\n".join(lines + distinct) + b"\n")
    o = os.path.join(out, "o.jsonl")
    rep = jsonl.dedup([p], o, "/k", keep="first")
    assert lines_of(o) == lines[0::2] + distinct
    assert (rep.records, rep.written, rep.unique_keys) == (21, 13, 13)
    rep = jsonl.dedup([p], o, "/k", keep="last")
    assert lines_of(o) == lines[1::2] + distinct


@pytest.mark.parametrize("key", [b'{"x":1}', b'[1]', b'{}', b'[]'])
def test_dedup_key_object_is_error(dirs, key):
    d, out = dirs
    p = write(d, "in.jsonl", b'{"k":1}\n{"k":%s}\n{"k":2}\n' % key)
    o = os.path.join(out, "o.jsonl")
    with pytest.raises(JsonlError) as ei:
        jsonl.dedup([p], o, "/k", keep="first")
    assert ei.value.line == 2 and "/k" in ei.value.reason
    assert not os.path.exists(o)
    rep = jsonl.dedup([p], o, "/k", keep="first", errors="collect")
    assert (rep.records, rep.written, rep.malformed) == (2, 2, 1)
    assert [e.line for e in rep.errors] == [2] and "/k" in rep.errors[0].reason
    rep = jsonl.count_by([p], "/k", errors="skip")
    assert dict(rep.counts) == {"1": 1, "2": 1} and rep.malformed == 1


@pytest.mark.parametrize("score", [b'"9"', b'[9]', b'{"v":9}'])
def test_dedup_score_wrong_type_is_error(dirs, score):
    d, out = dirs
    p = write(d, "in.jsonl", b'{"k":1,"t":{"s":1}}\n{"k":1,"t":{"s":%s}}\n' % score)
    o = os.path.join(out, "o.jsonl")
    with pytest.raises(JsonlError) as ei:
        jsonl.dedup([p], o, "/k", score="-/t/s")
    assert ei.value.line == 2 and "/t/s" in ei.value.reason
    rep = jsonl.dedup([p], o, "/k", score="-/t/s", errors="skip")
    assert (rep.records, rep.written, rep.malformed) == (1, 1, 1)


def test_dedup_big_integer_scores_compare_exactly(dirs):
    """"Higher wins": 2**53 + 1 is higher than 2**53 (a float64 comparison calls it a tie)."""
    d, out = dirs
    lo, hi = b'{"k":1,"s":9007199254740992}', b'{"k":1,"s":9007199254740993}'
    p = write(d, "in.jsonl", lo + b"\n" + hi + b"\n")
    o = os.path.join(out, "o.jsonl")
    jsonl.dedup([p], o, "/k", score="/s")
    assert lines_of(o) == [hi]
    jsonl.dedup([p], o, "/k", score="-/s")
    assert lines_of(o) == [lo]
    big = [b'{"k":1,"s":123456789012345678901234567890}',
           b'{"k":1,"s":123456789012345678901234567891}']
    q = write(d, "in2.jsonl", b"\n".join(big) + b"\n")
    jsonl.dedup([q], o, "/k", score="/s")
    assert lines_of(o) == [big[1]]


MISSING_INPUT = [b'{"k":1,"s":1}', b'{"s":9}', b'{"k":null,"s":9}', b'{"k":1}',
                 b'{"k":1,"s":null}', b'{"k":2}', b'{"k":1,"s":0}']


def test_dedup_missing_error(dirs):
    d, out = dirs
    p = write(d, "in.jsonl", b"\n".join(MISSING_INPUT) + b"\n")
    o = os.path.join(out, "o.jsonl")
    with pytest.raises(JsonlError) as ei:
        jsonl.dedup([p], o, "/k", score="/s")
    assert (os.fspath(ei.value.path), ei.value.line) == (p, 2)
    assert not os.path.exists(o)
    p2 = write(d, "in2.jsonl", b'{"k":1,"s":1}\n{"k":1}\n')
    with pytest.raises(JsonlError) as ei:
        jsonl.dedup([p2], o, "/k", score="/s")
    assert ei.value.line == 2


def test_dedup_missing_skip(dirs):
    d, out = dirs
    p = write(d, "in.jsonl", b"\n".join(MISSING_INPUT) + b"\n")
    o = os.path.join(out, "o.jsonl")
    rep = jsonl.dedup([p], o, "/k", score="/s", missing="skip")
    assert lines_of(o) == [MISSING_INPUT[0]]
    assert (rep.records, rep.written, rep.unique_keys, rep.missing) == (7, 1, 1, 5)
    rep = jsonl.dedup([p], o, "/k", keep="first", missing="skip")
    assert lines_of(o) == [MISSING_INPUT[0], MISSING_INPUT[5]]
    assert (rep.written, rep.unique_keys, rep.missing) == (2, 2, 2)


def test_dedup_missing_keep(dirs):
    d, out = dirs
    p = write(d, "in.jsonl", b"\n".join(MISSING_INPUT) + b"\n")
    o = os.path.join(out, "o.jsonl")
    rep = jsonl.dedup([p], o, "/k", score="/s", missing="keep")
    # keyless records are written as they are; k=1: s=1 beats the unscored and s=0 ones;
    # k=2 has only an unscored record
    assert lines_of(o) == [MISSING_INPUT[0], MISSING_INPUT[1], MISSING_INPUT[2],
                           MISSING_INPUT[5]]
    assert (rep.records, rep.written, rep.unique_keys) == (7, 4, 2)
    # ranked below every scored one, even a negated score
    q = write(d, "in2.jsonl", b'{"k":1}\n{"k":1,"s":1000}\n{"k":1,"s":null}\n')
    jsonl.dedup([q], o, "/k", score="-/s", missing="keep")
    assert lines_of(o) == [b'{"k":1,"s":1000}']


# --------------------------------------------------------------------------------------------
# split
# --------------------------------------------------------------------------------------------

STEPS = [b'{"type":"user","text":"Q?"}', b'{"type":"call","q":"a"}',
         b'{ "type" : "search_result", "r":"\\u00e9" }', b'{"type":"think"}',
         b'{"type":"call"}', b'{"type":"search_result","r":2}', b'{"type":"answer","t":"A"}']
TRACE = (b'{"question": "Q\\u0021", "meta": {"id": 5, "n": 1.50}, "steps": [ '
         + b" , ".join(STEPS) + b' ]}')


def _split_items(o: str) -> list[dict]:
    return [ref.parse_split_output_line(line) for line in lines_of(o)]


def test_split_search_trace(dirs):
    d, out = dirs
    p = write(d, "in.jsonl", TRACE + b"\r\n")
    o = os.path.join(out, "o.jsonl")
    rep = jsonl.split([p], o, "/steps", on=("/type", "search_result"), carry=["/question"])
    assert (rep.records, rep.written, rep.missing, rep.malformed) == (1, 2, 0, 0)
    items = _split_items(o)
    assert items == [
        dict(carried=[("question", b'"Q\\u0021"')], split_index=0, total_splits=2,
             context=STEPS[:3], response=STEPS[3:5]),
        dict(carried=[("question", b'"Q\\u0021"')], split_index=1, total_splits=2,
             context=STEPS[:6], response=STEPS[6:]),
    ]
    first = json.loads(lines_of(o)[0])
    assert list(first) == ["question", "split_index", "total_splits", "context", "response"]
    assert first["question"] == "Q!" and first["context"][2]["r"] == "é"


def test_split_carry_mapping_and_absent(dirs):
    d, out = dirs
    p = write(d, "in.jsonl", TRACE + b"\n")
    o = os.path.join(out, "o.jsonl")
    jsonl.split([p], o, "/steps", on=("/type", "search_result"),
                carry={"q": "/question", "n": "/meta/n", "gone": "/nope"})
    items = _split_items(o)
    assert [i["carried"] for i in items] == [[("q", b'"Q\\u0021"'), ("n", b"1.50")]] * 2
    jsonl.split([p], o, "/steps", on=("/type", "search_result"), carry=["/meta/id", "/nope"])
    assert [i["carried"] for i in _split_items(o)] == [[("id", b"5")]] * 2


def test_split_keep_empty(dirs):
    d, out = dirs
    steps = [b'{"t":"r"}', b'{"t":"r"}', b'{"t":"x"}', b'{"t":"r"}']
    p = write(d, "in.jsonl", b'{"s":[' + b",".join(steps) + b"]}\n")
    o = os.path.join(out, "o.jsonl")
    rep = jsonl.split([p], o, "/s", on=("/t", "r"), keep_empty=True)
    items = _split_items(o)
    assert [(i["split_index"], i["total_splits"], len(i["context"]), i["response"])
            for i in items] == [(0, 3, 1, []), (1, 3, 2, [steps[2]]), (2, 3, 4, [])]
    assert rep.written == 3
    rep = jsonl.split([p], o, "/s", on=("/t", "r"))
    items = _split_items(o)
    assert rep.written == 1 and len(items) == 1
    assert (items[0]["context"], items[0]["response"]) == (steps[:2], [steps[2]])
    # AMBIGUITY: the doc does not say whether skipped split points still count in
    # split_index/total_splits; either (1, 3) or (0, 1) is accepted.
    assert (items[0]["split_index"], items[0]["total_splits"]) in ((1, 3), (0, 1))


def test_split_no_split_point_and_numeric_on(dirs):
    d, out = dirs
    p = write(d, "in.jsonl", b'{"s":[{"n":2},{"n":"1"},{"n":true}]}\n'
                             b'{"s":[{"n":1.0},{"n":3},{"n":1},{"n":4}]}\n{"s":[]}\n')
    o = os.path.join(out, "o.jsonl")
    rep = jsonl.split([p], o, "/s", on=("/n", 1))
    items = _split_items(o)
    assert [(i["context"], i["response"]) for i in items] == [
        ([b'{"n":1.0}'], [b'{"n":3}']), ([b'{"n":1.0}', b'{"n":3}', b'{"n":1}'], [b'{"n":4}'])]
    assert (rep.records, rep.written) == (3, 2)


def test_split_missing_and_wrong_type(dirs):
    d, out = dirs
    p = write(d, "in.jsonl", b'{"s":[{"t":"r"},{"t":"x"}]}\n{"q":1}\n{"s":"nope"}\n'
                             b'{"s":null}\n{"s":{"0":{"t":"r"}}}\n')
    o = os.path.join(out, "o.jsonl")
    with pytest.raises(JsonlError) as ei:
        jsonl.split([p], o, "/s", on=("/t", "r"))
    assert ei.value.line == 2
    assert not os.path.exists(o)
    with pytest.raises(JsonlError) as ei:
        jsonl.split([p], o, "/s", on=("/t", "r"), missing="skip")
    assert ei.value.line == 3 and "/s" in ei.value.reason
    rep = jsonl.split([p], o, "/s", on=("/t", "r"), missing="skip", errors="collect")
    assert (rep.records, rep.written, rep.missing, rep.malformed) == (3, 1, 2, 2)
    assert [e.line for e in rep.errors] == [3, 5]


# --------------------------------------------------------------------------------------------
# filter
# --------------------------------------------------------------------------------------------

FILTER_LINES = [
    b'{"id":1, "score":0.5, "name":"alice", "tags":["a"], "flag":true, "z":null}',
    b'{"id":2,"score":1,"name":"bob","flag":false}',
    b'{"id":3,"score":"high","name":"\\u00c9mile","flag":1}',
    '{"id":4,"name":"😀","score":1.0}'.encode(),
    b'{"id":5,"score":12345678901234567891}',
    b'{ "id" : 6 }',
]

FILTER_CASES = [
    ([("/score", "==", 1)], [2, 4]),
    ([("/score", "==", 1.0)], [2, 4]),
    ([("/flag", "==", True)], [1]),
    ([("/flag", "==", 1)], [3]),
    ([("/flag", "!=", False)], [1, 3]),
    ([("/z", "==", None)], [1]),
    ([("/flag", "==", None)], []),
    ([("/score", "!=", 1)], [1, 3, 5]),
    ([("/score", "<", 1)], [1]),
    ([("/score", "<=", 1)], [1, 2, 4]),
    ([("/score", ">", 1)], [5]),
    ([("/score", ">=", 0.5)], [1, 2, 4, 5]),
    ([("/flag", ">=", 0)], [3]),
    ([("/name", "<", "b")], [1]),
    ([("/name", ">", "bob")], [3, 4]),
    ([("/name", "<", "\uffff")], [1, 2, 3]),
    ([("/name", ">=", "\ufb01")], [4]),
    ([("/score", "<", "z")], [3]),
    ([("/name", "in", ["alice", "bob"])], [1, 2]),
    ([("/score", "in", [1, "high"])], [2, 3, 4]),
    ([("/flag", "in", [1])], [3]),
    ([("/score", "not in", [1])], [1, 3, 5]),
    ([("/score", "not in", [])], [1, 2, 3, 4, 5]),
    ([("/z", "exists", None)], [1]),
    ([("/z", "missing", None)], [2, 3, 4, 5, 6]),
    ([("/tags/0", "==", "a")], [1]),
    ([("/tags/1", "missing", None)], [1, 2, 3, 4, 5, 6]),
    ([("/score", "==", 12345678901234567890)], []),
    ([("/score", "==", 12345678901234567891)], [5]),
    ([("/score", ">", 12345678901234567890)], [5]),
    ([("/score", ">=", 0.5), ("/name", "!=", "bob")], [1, 4]),
    ([("/name", "==", "Émile")], [3]),
    ([("", "exists", None)], [1, 2, 3, 4, 5, 6]),
]


@pytest.mark.parametrize("where,ids", FILTER_CASES, ids=[repr(c[0]) for c in FILTER_CASES])
def test_filter_ops(dirs, where, ids):
    d, out = dirs
    p = write(d, "in.jsonl", b"\n".join(FILTER_LINES) + b"\n")
    o = os.path.join(out, "o.jsonl")
    rep = jsonl.filter([p], o, where)
    assert lines_of(o) == [FILTER_LINES[i - 1] for i in ids]
    assert (rep.records, rep.written, rep.malformed) == (6, len(ids), 0)
    assert list(rep.errors) == []
    # the reference agrees with the expectations of this table
    assert ref.filter([p], where)["lines"] == [FILTER_LINES[i - 1] for i in ids]


def test_filter_report_and_crlf(dirs):
    d, out = dirs
    p = write(d, "in.jsonl", b'{"a":1}\r\n[1]\r\n\r\n{"a":2}\r\n{"a" : 3 }\r\n')
    o = os.path.join(out, "o.jsonl")
    rep = jsonl.filter([p], o, [("/a", ">=", 2)], errors="collect")
    assert Path(o).read_bytes() == b'{"a":2}\n{"a" : 3 }\n'
    assert (rep.records, rep.written, rep.malformed) == (3, 2, 1)
    assert [(e.line, e.column) for e in rep.errors] == [(2, 1)]


# --------------------------------------------------------------------------------------------
# count_by
# --------------------------------------------------------------------------------------------


def test_count_by_counts_order_and_none(dirs):
    d, _ = dirs
    p = write(d, "in.jsonl", b'{"k":"b"}\n{"k":"a"}\n{}\n{"k":null}\n{"k":"c"}\n{"k":"c"}\n'
                             b'{"k":"b"}\n{"k":7}\n{"k":"7"}\n{"k":"a"}\n{"k":"B"}\n[1]\n')
    rep = jsonl.count_by([p], "/k", errors="skip", threads=1)
    assert dict(rep.counts) == {"7": 2, "a": 2, "b": 2, "c": 2, None: 2, "B": 1}
    assert [k for k in rep.counts if k is not None] == ["7", "a", "b", "c", "B"]
    assert list(rep.counts.values()) == [2, 2, 2, 2, 2, 1]
    assert (rep.records, rep.malformed) == (11, 1)
    assert list(rep.errors) == []
    rep = jsonl.count_by([p], "/k", errors="collect")
    assert [e.line for e in rep.errors] == [12]
    with pytest.raises(JsonlError) as ei:
        jsonl.count_by([p], "/k")
    assert ei.value.line == 12


# --------------------------------------------------------------------------------------------
# scan
# --------------------------------------------------------------------------------------------


def test_scan_report(dirs):
    d, _ = dirs
    a_data = ref.BOM + b'{"a":1}\r\n\r\n \t\n{"a":2}\n[1]\r\n{"b":'
    b_data = b'{"c":3}\n\n'
    a = write(d, "a.jsonl", a_data)
    b = write(d, "b.jsonl", b_data)
    c = write(d, "c.jsonl", b"")
    rep = jsonl.scan([a, b, c], threads=2)
    assert (rep.records, rep.bytes, rep.blank_lines, rep.malformed) == (
        3, len(a_data) + len(b_data), 3, 2)
    assert [(e.line, e.reason.startswith("truncated last line")) for e in rep.errors] == [
        (5, False), (6, True)]
    fa, fb, fc = rep.files
    assert (os.fspath(fa.path), fa.records, fa.bytes, fa.blank_lines, fa.malformed, fa.bom,
            fa.crlf_lines) == (a, 2, len(a_data), 2, 2, True, 3)
    assert (os.fspath(fb.path), fb.records, fb.bytes, fb.blank_lines, fb.malformed, fb.bom,
            fb.crlf_lines) == (b, 1, len(b_data), 1, 0, False, 0)
    assert (fc.records, fc.bytes, fc.blank_lines, fc.malformed, fc.bom) == (0, 0, 0, 0, False)
    rep = jsonl.scan([a, b], max_errors=1)
    assert rep.malformed == 2 and [e.line for e in rep.errors] == [5]


def test_scan_max_errors_keeps_first(dirs):
    d, _ = dirs
    data = b"".join(b'{"i":%d}\n' % i if i % 3 else b"[%d]\n" % i for i in range(3000))
    p = write(d, "a.jsonl", data)
    rep = jsonl.scan([p], threads=4)
    assert rep.malformed == 1000 and rep.records == 2000
    assert [e.line for e in rep.errors] == [i + 1 for i in range(0, 3000, 3)]
    rep = jsonl.scan([p], threads=4, max_errors=10)
    assert [e.line for e in rep.errors] == [i + 1 for i in range(0, 30, 3)]
    rep = jsonl.scan([p], threads=4, max_errors=1500)
    assert len(rep.errors) == 1000 and rep.malformed == 1000


# --------------------------------------------------------------------------------------------
# missing input files
# --------------------------------------------------------------------------------------------

CALLS = {
    "scan": lambda i, o: jsonl.scan(i),
    "read": lambda i, o: list(jsonl.read(i)),
    "dedup": lambda i, o: jsonl.dedup(i, o, "/id", keep="first"),
    "split": lambda i, o: jsonl.split(i, o, "/steps", on=("/t", "r")),
    "filter": lambda i, o: jsonl.filter(i, o, [("/id", "exists", None)]),
    "count_by": lambda i, o: jsonl.count_by(i, "/id"),
}


@pytest.mark.parametrize("op", list(CALLS))
def test_missing_input_file(dirs, op):
    d, out = dirs
    good = write(d, "good.jsonl", b'{"id":1}\n')
    gone = os.path.join(str(d), "does-not-exist.jsonl")
    o = os.path.join(out, "o.jsonl")
    with pytest.raises(FileNotFoundError) as ei:
        CALLS[op]([good, gone], o)
    assert "does-not-exist.jsonl" in str(ei.value)
    assert os.listdir(out) == []
