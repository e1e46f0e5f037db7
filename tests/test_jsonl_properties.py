"""Property tests: `harness.jsonl` must agree with the plain-Python reference of docs/jsonl.md.

Files are generated as bytes: nested records with escapes, unicode, big ints and floats in many
spellings, blank lines, CRLF, BOM, a missing final newline, and malformed lines (invalid UTF-8,
invalid JSON, NaN/Infinity, non-objects, duplicate keys, truncated records).  Each malformed
line has exactly one defect, so its reason is well defined.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import warnings
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jsonl_reference as ref
from harness import jsonl

SETTINGS = settings(
    # JSONL_PROP_EXAMPLES=2000 for a longer hunt
    max_examples=int(os.environ.get("JSONL_PROP_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)

# --------------------------------------------------------------------------------------------
# Serialising with random (but valid) formatting
# --------------------------------------------------------------------------------------------


class Pairs(list):
    """A JSON object given as a list of (key, value) pairs, possibly with duplicate keys."""


def _ws(rnd: random.Random) -> str:
    return rnd.choice(["", "", "", "", " ", "  ", "\t", " \t"])


_SHORT = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}


def enc_str(s: str, rnd: random.Random) -> str:
    out = ['"']
    p_escape = rnd.choice([0.0, 0.0, 0.15, 0.8])
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"' if rnd.random() < 0.8 else "\\u0022")
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20:
            out.append(_SHORT[o] if o in _SHORT and rnd.random() < 0.6 else f"\\u{o:04x}")
        elif rnd.random() < p_escape:
            if ch == "/":
                out.append("\\/")
            elif o > 0xFFFF:
                v = o - 0x10000
                hi, lo = 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)
                fmt = rnd.choice(["\\u%04x\\u%04x", "\\u%04X\\u%04X"])
                out.append(fmt % (hi, lo))
            else:
                out.append(rnd.choice(["\\u%04x", "\\u%04X"]) % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def fmt_float(f: float, rnd: random.Random) -> str:
    """A JSON number literal (with a fraction or exponent) denoting exactly repr(f)."""
    s = repr(f)
    choice = rnd.randrange(4)
    if choice == 0:
        return s
    d = Decimal(s)
    sign, digits, exp = d.as_tuple()
    ds = "".join(map(str, digits))
    neg = "-" if sign else ""
    if choice == 1:  # integer mantissa and an exponent: 12345e-2
        if ds.strip("0"):  # (no leading zeros: 0.0 stays "0e0")
            ds = ds + "0" * rnd.randrange(3)
        exp -= len(ds) - len("".join(map(str, digits)))
        e = rnd.choice(["e", "E"])
        es = str(exp) if exp < 0 else rnd.choice(["", "+"]) + str(exp)
        return f"{neg}{ds}{e}{es}"
    if choice == 2 and -25 < d.adjusted() < 25:  # positional with a fraction: 150000.0
        p = format(d, "f")
        if "." not in p:
            p += "." + "0" * (1 + rnd.randrange(2))
        return p
    # one digit before the point: 1.5E+20, exponent possibly padded with zeros
    mant = ds[0] + "." + (ds[1:] or "0") + "0" * rnd.randrange(2)
    e10 = d.adjusted()
    es = ("-" if e10 < 0 else rnd.choice(["", "+"])) + "0" * rnd.randrange(2) + str(abs(e10))
    return f"{neg}{mant}{rnd.choice(['e', 'E'])}{es}"


def dump(v, rnd: random.Random) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return "-0" if v == 0 and rnd.random() < 0.3 else str(v)
    if isinstance(v, float):
        return fmt_float(v, rnd)
    if isinstance(v, str):
        return enc_str(v, rnd)
    if isinstance(v, list) and not isinstance(v, Pairs):
        if not v:
            return "[" + _ws(rnd) + "]"
        return "[" + ",".join(_ws(rnd) + dump(x, rnd) + _ws(rnd) for x in v) + "]"
    pairs = list(v) if isinstance(v, Pairs) else list(v.items())
    if not isinstance(v, Pairs) and rnd.random() < 0.3:
        rnd.shuffle(pairs)
    if not pairs:
        return "{" + _ws(rnd) + "}"
    return "{" + ",".join(
        _ws(rnd) + enc_str(k, rnd) + _ws(rnd) + ":" + _ws(rnd) + dump(x, rnd) + _ws(rnd)
        for k, x in pairs) + "}"


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

special_text = st.sampled_from([
    "", "é", "😀", "\u2028", "\x00", "\x7f", "\ufeff", "a/b", "~", '"', "\\", "\uffff",
    "\ufb01", "e\u0301", "line\nbreak", "tab\t", "\r", "NaN", "Infinity", "\u0085"])
texts = st.one_of(st.text(max_size=8), special_text)
ints = st.one_of(
    st.integers(-1000, 1000),
    st.integers(-(2**80), 2**80),
    st.sampled_from([2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, -(10**25)]))
floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1.0, 100.0, 1.5e20, 1e-5, 1e16, 1e15, 0.1, 5e-324,
                     1.7976931348623157e308, 123456789012345678.0]))
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)
values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(texts, c, max_size=3),
    max_leaves=8)
generic_records = st.builds(
    lambda a, b: {**a, **b},
    st.dictionaries(st.one_of(texts, st.sampled_from(["id", "meta", "a/b", "arr", "m~n"])),
                    values, max_size=4),
    st.dictionaries(st.sampled_from(["n", "f", "s/"]),
                    st.one_of(ints, floats, special_text), max_size=2))

MALFORMED = [
    # invalid UTF-8
    b'{"a": "\xff"}', b'{"\xc3": 1}', b'{"a": "\xed\xa0\x80"}', b'{"a": "\xc0\xaf"}',
    b'\xf5{"a":1}', b'{"a": "\xf4\x90\x80\x80"}', b'{"\xe2\x82": 1}',
    # invalid JSON
    b'{"a": 1,}', b"{'a': 1}", b'{"a": 1} // c', b'{"a": 01}', b'{"a": .5}', b'{"a": 1.}',
    b'{"a": +1}', b'{"a": "x\ty"}', b'{"a" 1}', b'{a: 1}', b'{"a": True}', b'{"a": [1,]}',
    b'{"a": 1}}', b'{"a":1}x', b'{"a": "\\x"}', b'{"a": "\\u12G4"}', b'\x0c{}',
    b'\xc2\xa0{}', b'\xef\xbb\xbf{"a":1}', b'{"a": undefined}', b'{"a": 0x10}',
    b'{"a": 1e}', b'{"a": -}', b'{"a": "\x01"}', b'{"a": "\x1f"}', b"{\"a\": 'x'}",
    b'{"a":1 "b":2}', b'{}{}', b'{"a":[1 2]}', b'{"a":{"b"}}', b'/*c*/{"a":1}',
    b'{"a": nul}', b'{"a": "\\U0041"}', b'{"a":1,"b":2',
    # NaN / Infinity
    b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": [1, NaN]}',
    b'{"a": {"b": Infinity}}',
    # not an object
    b'[1]', b'3', b'"s"', b'null', b'true', b'[]', b' [ {"a":1} ]', b'-0', b'1.5e3', b'"{}"',
    # duplicate keys
    b'{"a":1,"a":2}', b'{"x":{"b":1,"b":2}}', b'{"x":[{"c":1,"c":1}]}',
    b'{"a":1,"\\u0061":2}', b'{"a":null,"a":null}', '{"é":1,"\\u00e9":2}'.encode(),
]
BLANKS = ["", " ", "\t", "  \t ", "\r", " \r"]


@st.composite
def line_items(draw, rec_st, bad: bool):
    """One line of a file: ("content", bytes)."""
    kinds = ["rec"] * 6 + ["blank"]
    if bad:
        kinds += ["bad", "bad", "dup", "cut"]
    kind = draw(st.sampled_from(kinds))
    if kind == "blank":
        return ("blank", draw(st.sampled_from(BLANKS)))
    if kind == "bad":
        return ("raw", draw(st.sampled_from(MALFORMED)))
    obj = draw(rec_st)
    if kind == "dup":
        if not obj:
            obj = {"k": 1}
        k0 = next(iter(obj))
        dupval = draw(scalars)
        pairs = Pairs([*list(obj.items()), (k0, dupval)])
        if draw(st.booleans()):
            return ("obj", Pairs([("outer", pairs)]))
        return ("obj", pairs)
    if kind == "cut":
        return ("cut", obj, draw(st.floats(0, 1)))
    return ("obj", obj, draw(st.sampled_from(["", "", "", "", " ", "\t "])))


def _render_item(item, rnd: random.Random) -> bytes:
    if item[0] == "blank":
        return item[1].encode()
    if item[0] == "raw":
        return item[1]
    if item[0] == "cut":
        text = dump(item[1], rnd)
        last = len(text) - 1
        lead = len(text) - len(text.lstrip(" \t"))
        p = lead + 1 + int(item[2] * (last - lead - 1))
        p = max(lead + 1, min(p, last))
        return text[:p].encode()
    pad = item[2] if len(item) > 2 else ""
    return (pad + dump(item[1], rnd) + pad[::-1]).encode()


@st.composite
def jsonl_files(draw, rec_st=generic_records, bad=True, max_files=3, max_lines=10):
    """A list of file contents (bytes)."""
    files = []
    for _ in range(draw(st.integers(1, max_files))):
        rnd = random.Random(draw(st.integers(0, 2**32)))
        items = draw(st.lists(line_items(rec_st, bad), max_size=max_lines))
        bom = draw(st.sampled_from([False, False, True]))
        ending = draw(st.sampled_from(["lf", "crlf", "mixed"]))
        final_nl = draw(st.sampled_from([True, True, False]))
        out = [ref.BOM] if bom else []
        for i, item in enumerate(items):
            out.append(_render_item(item, rnd))
            if i < len(items) - 1 or final_nl:
                crlf = ending == "crlf" or (ending == "mixed" and rnd.random() < 0.5)
                out.append(b"\r\n" if crlf else b"\n")
        files.append(b"".join(out))
    return files


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


class Workdir:
    def __init__(self, contents: list[bytes]):
        self._td = tempfile.TemporaryDirectory()
        self.dir = self._td.name
        os.mkdir(os.path.join(self.dir, "in"))
        os.mkdir(os.path.join(self.dir, "out"))
        self.paths = []
        for i, data in enumerate(contents):
            p = os.path.join(self.dir, "in", f"f{i}.jsonl")
            with open(p, "wb") as f:
                f.write(data)
            self.paths.append(p)
        self.n_out = 0

    def out(self) -> str:
        self.n_out += 1
        return os.path.join(self.dir, "out", f"o{self.n_out}.jsonl")

    def out_listing(self) -> list[str]:
        return sorted(os.listdir(os.path.join(self.dir, "out")))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._td.cleanup()


def loc(e) -> tuple[str, int]:
    return (os.fspath(e.path), e.line)


def check_reason(e, r: ref.RefError) -> None:
    """The reason as far as the doc fixes it."""
    # (the exact wording "truncated last line" is pinned by test_jsonl_api)
    if r.kind == ref.TRUNCATED:
        assert e.reason.startswith("truncated last line"), (e, r)
    else:
        assert not e.reason.startswith("truncated last line"), (e, r)
    if r.kind == ref.TYPE:
        assert r.pointer in e.reason, f"reason {e.reason!r} does not name {r.pointer!r}"


def check_error_list(got, want: list[ref.RefError]) -> None:
    assert [loc(e) for e in got] == [r.loc for r in want]
    for e, r in zip(got, want):
        assert isinstance(e, jsonl.JsonlError) and isinstance(e, ValueError)
        check_reason(e, r)


def err_tuple(e):
    return (os.fspath(e.path), e.line, e.column, e.byte_offset, e.reason, e.snippet)


def read_bytes(p: str) -> bytes:
    with open(p, "rb") as f:
        return f.read()


def run_write_op(w: Workdir, fn, ref_out: dict, *args, **kw):
    """Run a writing op with threads=1 and threads=2; check raise-mode behaviour.

    Returns (report, output bytes) of threads=1, after checking threads=2 gives the same."""
    results = []
    for threads in (1, 2):
        out = w.out()
        before = set(w.out_listing())
        if ref_out["error"] is not None:
            with pytest.raises(jsonl.JsonlError) as ei:
                fn(w.paths, out, *args, threads=threads, **kw)
            assert loc(ei.value) == ref_out["error"].loc
            check_reason(ei.value, ref_out["error"])
            assert not os.path.exists(out), "raise mode left an output file"
            assert set(w.out_listing()) == before, "temporary files left behind"
            results.append(err_tuple(ei.value))
            continue
        rep = fn(w.paths, out, *args, threads=threads, **kw)
        assert set(w.out_listing()) == before | {os.path.basename(out)}, \
            f"unexpected files: {w.out_listing()}"
        results.append((rep, read_bytes(out)))
    if ref_out["error"] is not None:
        assert results[0] == results[1], "threads=1 and threads=2 disagree"
        return None
    (r1, o1), (r2, o2) = results
    assert o1 == o2, "threads=1 and threads=2 wrote different outputs"
    assert report_view(r1) == report_view(r2), "threads=1 and threads=2 reports differ"
    return r1, o1


REPORT_FIELDS = ("records", "written", "unique_keys", "missing", "malformed", "bytes",
                 "blank_lines", "counts")


def report_view(rep):
    d = {f: getattr(rep, f) for f in REPORT_FIELDS if hasattr(rep, f)}
    if "counts" in d:
        d["counts"] = list(d["counts"].items())
    d["errors"] = [err_tuple(e) for e in rep.errors]
    return d


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


def test_reference_selfcheck():
    ref._selfcheck()


@SETTINGS
@given(jsonl_files(), st.sampled_from([1, 2, 1000]))
def test_scan(files, max_errors):
    with Workdir(files) as w:
        want = ref.scan(w.paths, max_errors=max_errors)
        views = []
        for threads in (1, 2):
            rep = jsonl.scan(w.paths, threads=threads, max_errors=max_errors)
            for f in ("records", "bytes", "blank_lines", "malformed"):
                assert getattr(rep, f) == want[f], (f, getattr(rep, f), want[f])
            assert len(rep.files) == len(want["files"])
            for fs, wf in zip(rep.files, want["files"]):
                wf = dict(wf)
                alt = wf.pop("crlf_lines_alt")
                got = {f: getattr(fs, f) for f in wf}
                got["path"] = os.fspath(got["path"])
                if got["crlf_lines"] == alt:  # a last line "…\r" without \n: either reading
                    wf["crlf_lines"] = alt
                assert got == wf
            check_error_list(rep.errors, want["errors"])
            fields = ("path", "records", "bytes", "blank_lines", "malformed", "bom", "crlf_lines")
            views.append(([err_tuple(e) for e in rep.errors],
                          [tuple(getattr(fs, f) for f in fields) for fs in rep.files]))
        assert views[0] == views[1]


@SETTINGS
@given(jsonl_files(max_files=2))
def test_error_positions(files):
    """column (characters) and byte_offset (bytes, in the file) locate the error."""
    with Workdir(files) as w:
        want = ref.scan(w.paths)
        rep = jsonl.scan(w.paths, threads=1)
        assert len(rep.errors) == len(want["errors"])
        for e, r in zip(rep.errors, want["errors"]):
            assert loc(e) == r.loc
            assert isinstance(e.snippet, str) and e.snippet != "", e
            assert str(e) == f"{e.path}:{e.line}:{e.column}: {e.reason}"
            if r.kind == ref.UTF8:
                col = ref._char_col(r.content, r.err_byte)
                assert (e.column, e.byte_offset) == (col, r.line_start + r.err_byte), (e, r)
                continue
            text = r.content.decode("utf-8")
            lo, hi = r.col_range if r.col_range else (1, len(text) + 1)
            assert lo <= e.column <= hi, (r.content, r.kind, e.column, (lo, hi))
            assert e.byte_offset == r.line_start + len(text[: e.column - 1].encode()), \
                (r.content, e.column, e.byte_offset, r.line_start)


READ_FIELDS = [None, ["id", "/meta", "nope"], ["/a~1b", "/arr/0", "/m~0n", "/meta/0"],
               ["/id", "id"]]


@SETTINGS
@given(jsonl_files(), st.sampled_from(["raise", "skip", "collect"]),
       st.sampled_from(READ_FIELDS), st.sampled_from([1, 2, 1024]), st.booleans())
def test_read(files, errors, fields, batch_size, locations):
    with Workdir(files) as w:
        want = ref.read(w.paths, fields=fields, errors=errors)
        reader = jsonl.read(w.paths, fields=fields, errors=errors, locations=locations,
                            batch_size=batch_size)
        got = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if want["error"] is not None:
                with pytest.raises(jsonl.JsonlError) as ei:
                    for item in reader:
                        got.append(item)
                assert loc(ei.value) == want["error"].loc
                check_reason(ei.value, want["error"])
            else:
                got = list(reader)
        exp = want["items"]
        if want["error"] is not None:
            # AMBIGUITY: the doc does not say whether the records before the bad line are all
            # yielded before the error (batches); a prefix is accepted.
            exp = exp[: len(got)]
        assert len(got) == len(exp)
        for g, (p, n, rec) in zip(got, exp):
            if locations:
                assert isinstance(g, tuple) and len(g) == 3
                assert (os.fspath(g[0]), g[1]) == (p, n)
                g = g[2]
            assert isinstance(g, dict)
            assert ref.same_value(g, rec), (g, rec)
        if want["error"] is None:
            assert reader.malformed == want["malformed"]
            if errors == "collect":
                check_error_list(reader.errors, want["errors"])
            else:
                assert list(reader.errors) == []
            caught = [x for x in caught if not issubclass(x.category, DeprecationWarning)]
            if want["malformed"] and errors != "raise":
                assert any(str(want["malformed"]) in str(x.message) for x in caught), \
                    [str(x.message) for x in caught]
            else:
                assert caught == [], [str(x.message) for x in caught]


# dedup --------------------------------------------------------------------------------------

KEY_POOL = [7, "7", 1.0, "1.0", 1, "1", 100.0, "100.0", True, "True", False, "False", "x", "é",
            "😀", 0, "0", -0.0, "-0.0", 0.0, "0.0", 1.5e20, "1.5e+20", 1e-5, "1e-05",
            12345678901234567890123, "12345678901234567890123", "", "a/b", 2**64, 1e16,
            "1e+16"]
# (integers beyond 2**53 as scores are checked by test_jsonl_api)
SCORE_POOL = [0, 1, 2, -1, 0.5, 1.5, 2.0, -0.0, 10**15, 1e10, -2.5]
KEY_PTRS = {"/id": lambda k: {"id": k}, "/meta/id": lambda k: {"meta": {"id": k}},
            "/a~1b": lambda k: {"a/b": k}}
SCORE_PTRS = {"/score": "score", "/t/n": ("t", "n")}
SCORE_SPECS = [None, "/score", "-/score", ["/score", "-/t/n"], ["-/t/n", "/score"]]
ABSENT = ref.ABSENT


def _put(d: dict, path, v):
    if v is ABSENT:
        return
    if isinstance(path, tuple):
        d.setdefault(path[0], {})[path[1]] = v
    else:
        d[path] = v


@st.composite
def dedup_records(draw, key_ptr: str, bad_types: bool = True):
    kinds = ["normal"] * 8 + (["bad_key", "bad_score"] if bad_types else [])
    kind = draw(st.sampled_from(kinds))
    key_st = st.sampled_from([*KEY_POOL, None, ABSENT])
    score_st = st.sampled_from([*SCORE_POOL, None, ABSENT])
    scores = {"/score": draw(score_st), "/t/n": draw(score_st)}
    k = draw(key_st)
    if kind == "bad_key":
        k = draw(st.sampled_from([{}, [1], {"a": 1}, []]))
        scores = {p: draw(st.sampled_from(SCORE_POOL)) for p in scores}
    elif kind == "bad_score":
        k = draw(st.sampled_from(KEY_POOL))
        scores = {p: draw(st.sampled_from(SCORE_POOL)) for p in scores}
        scores[draw(st.sampled_from(list(scores)))] = draw(
            st.sampled_from(["1", [1], {"v": 1}, "x"]))
    rec = {} if k is ABSENT else KEY_PTRS[key_ptr](k)
    for p, v in scores.items():
        _put(rec, SCORE_PTRS[p], v)
    if draw(st.booleans()):
        rec["pad"] = draw(values)
    return rec


@st.composite
def dedup_case(draw):
    key_ptr = draw(st.sampled_from(list(KEY_PTRS)))
    keep = draw(st.sampled_from(["first", "last", "best"]))
    score = draw(st.sampled_from(SCORE_SPECS[1:])) if keep == "best" else None
    errors = draw(st.sampled_from(["raise", "skip", "collect"]))
    # missing="error" together with errors=skip/collect is checked on its own below
    missing = draw(st.sampled_from(["error", "skip", "keep"] if errors == "raise"
                                   else ["skip", "keep"]))
    files = draw(jsonl_files(dedup_records(key_ptr), max_lines=12))
    return files, key_ptr, score, keep, missing, errors


def check_dedup(files, key, score, keep, missing, errors):
    with Workdir(files) as w:
        kw = dict(score=score, keep=keep, missing=missing, errors=errors)
        wants = [ref.dedup(w.paths, key, partial=p, **kw) for p in ("component", "whole")]
        want = wants[0]
        res = run_write_op(w, jsonl.dedup, want, key, **kw)
        if res is None:
            return
        rep, out = res
        ok = [wn for wn in wants if ref.output_matches(out, wn["lines"])]
        assert ok, ("output differs", out, want["lines"])
        wn = ok[0]
        assert (rep.records, rep.written, rep.unique_keys, rep.malformed) == (
            wn["records"], wn["written"], wn["unique_keys"], wn["malformed"])
        # AMBIGUITY: with missing="keep", whether kept records count in `missing`
        allowed = {wn["missing"]} if missing != "keep" else {wn["missing"], 0}
        assert rep.missing in allowed, (rep.missing, allowed)
        if errors == "collect":
            check_error_list(rep.errors, wn["errors"])
        else:
            assert list(rep.errors) == []


@SETTINGS
@given(dedup_case())
def test_dedup(case):
    files, key, score, keep, missing, errors = case
    # with keep first/last no score is given, so "bad_score" records are fine records
    check_dedup(files, key, score, keep, missing, errors)


@settings(SETTINGS, max_examples=max(1, SETTINGS.max_examples // 2))
@given(st.sampled_from(["skip", "collect"]), st.sampled_from(["first", "best"]),
       st.data())
def test_dedup_missing_error_beats_errors_mode(errors, keep, data):
    """missing="error" raises on a missing key even when errors="skip"/"collect" (reading:
    the two settings are independent; only malformed lines are governed by `errors`)."""
    files = data.draw(jsonl_files(dedup_records("/id", bad_types=False), max_lines=8))
    score = "/score" if keep == "best" else None
    with Workdir(files) as w:
        want = ref.dedup(w.paths, "/id", score=score, keep=keep, missing="error", errors=errors)
        run_write_op(w, jsonl.dedup, want, "/id", score=score, keep=keep, missing="error",
                     errors=errors)


# filter -------------------------------------------------------------------------------------

FILTER_POOL = [None, True, False, 0, 1, -1, 1.0, 0.5, 2.5, -0.0, 10**15, "a", "b", "", "1",
               "é", "😀", "\uffff", "\ufb01", "A", [1], {"x": 1}, [], "a/b", "é/😀\n"]
WHERE_VALUES = [None, True, False, 0, 1, -1, 1.0, 0.5, 2.5, 10**15, "a", "b", "", "1", "é",
                "😀", "\uffff", "\ufb01", -0.0]
FILTER_PTRS = {"/a": ("a",), "/b/c": ("b", "c"), "/arr/1": ("arr", 1), "/s": ("s",),
               "/x~0y": ("x~y",)}
OPS = ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "exists", "missing"]


@st.composite
def filter_records(draw):
    rec: dict = {}
    for path in FILTER_PTRS.values():
        v = draw(st.sampled_from([*FILTER_POOL, ABSENT, ABSENT]))
        if v is ABSENT:
            continue
        if path[0] == "arr":
            rec["arr"] = [draw(st.sampled_from(FILTER_POOL)), v]
        elif len(path) == 2:
            rec.setdefault(path[0], {})[path[1]] = v
        else:
            rec[path[0]] = v
    if draw(st.booleans()):
        rec["pad"] = draw(values)
    return rec


@st.composite
def where_clauses(draw):
    out = []
    for _ in range(draw(st.integers(1, 3))):
        ptr = draw(st.sampled_from(list(FILTER_PTRS)))
        op = draw(st.sampled_from(OPS))
        if op in ("in", "not in"):
            val = draw(st.lists(st.sampled_from(WHERE_VALUES), max_size=3))
        elif op in ("exists", "missing"):
            val = None
        else:
            val = draw(st.sampled_from(WHERE_VALUES))
        out.append((ptr, op, val))
    return out


@SETTINGS
@given(jsonl_files(filter_records(), max_lines=12), where_clauses(),
       st.sampled_from(["raise", "skip", "collect"]))
def test_filter(files, where, errors):
    with Workdir(files) as w:
        want = ref.filter(w.paths, where, errors=errors)
        res = run_write_op(w, jsonl.filter, want, where, errors=errors)
        if res is None:
            return
        rep, out = res
        assert ref.output_matches(out, want["lines"]), (out, want["lines"], where)
        assert (rep.records, rep.written, rep.malformed) == (
            want["records"], want["written"], want["malformed"])
        if errors == "collect":
            check_error_list(rep.errors, want["errors"])


# count_by -----------------------------------------------------------------------------------


@SETTINGS
@given(st.sampled_from(list(KEY_PTRS)), st.sampled_from(["raise", "skip", "collect"]),
       st.data())
def test_count_by(key, errors, data):
    files = data.draw(jsonl_files(dedup_records(key), max_lines=12))
    with Workdir(files) as w:
        want = ref.count_by(w.paths, key, errors=errors)
        views = []
        for threads in (1, 2):
            if want["error"] is not None:
                with pytest.raises(jsonl.JsonlError) as ei:
                    jsonl.count_by(w.paths, key, errors=errors, threads=threads)
                assert loc(ei.value) == want["error"].loc
                check_reason(ei.value, want["error"])
                views.append(err_tuple(ei.value))
                continue
            rep = jsonl.count_by(w.paths, key, errors=errors, threads=threads)
            assert dict(rep.counts) == want["counts"]
            assert ref.count_order_ok(list(rep.counts.items())), list(rep.counts.items())
            assert (rep.records, rep.malformed) == (want["records"], want["malformed"])
            if errors == "collect":
                check_error_list(rep.errors, want["errors"])
            views.append(report_view(rep))
        assert views[0] == views[1]


# split --------------------------------------------------------------------------------------

STEP_TYPES = ["search_result", "think", "call", "answer"]
CARRIES = [(), ["/q"], ["/q", "/meta/id"], {"question": "/q", "ID": "/meta/id", "nope": "/nope"},
           ["/meta"], ["/x~1y"]]
ONS = [("/type", "search_result"), ("/n", 1), ("/type", "think")]


@st.composite
def steps_lists(draw):
    steps = []
    for _ in range(draw(st.integers(0, 7))):
        if draw(st.integers(0, 9)) == 0:
            steps.append(draw(st.sampled_from([3, "x", None, [1], "search_result"])))
            continue
        s: dict = {}
        if draw(st.integers(0, 5)):
            s["type"] = draw(st.sampled_from(STEP_TYPES))
        if draw(st.booleans()):
            s["content"] = draw(texts)
        if draw(st.booleans()):
            s["n"] = draw(st.sampled_from([1, 1.0, "1", True, 2, -0.0]))
        steps.append(s)
    return steps


@st.composite
def split_records(draw, steps_ptr: str):
    rec: dict = {}
    if draw(st.booleans()):
        rec["q"] = draw(texts)
    if draw(st.booleans()):
        rec["meta"] = {"id": draw(ints)}
    if draw(st.integers(0, 3)) == 0:
        rec["x/y"] = draw(values)
    kind = draw(st.sampled_from(["ok"] * 8 + ["missing", "bad"]))
    if kind == "ok":
        sv = draw(steps_lists())
    elif kind == "bad":
        sv = draw(st.sampled_from(["x", {"a": 1}, 3, True]))
    else:
        sv = draw(st.sampled_from([ABSENT, None]))  # absent or null: follows `missing`
    if sv is not ABSENT:
        if steps_ptr == "/steps":
            rec["steps"] = sv
        else:
            rec["trace"] = {"steps": sv}
    return rec


@SETTINGS
@given(st.sampled_from(["/steps", "/trace/steps"]), st.sampled_from(ONS),
       st.sampled_from(CARRIES), st.booleans(), st.sampled_from(["raise", "skip", "collect"]),
       st.data())
def test_split(steps, on, carry, keep_empty, errors, data):
    missing = data.draw(st.sampled_from(["error", "skip"] if errors == "raise" else ["skip"]))
    files = data.draw(jsonl_files(split_records(steps), max_lines=8))
    with Workdir(files) as w:
        kw = dict(on=on, carry=carry, keep_empty=keep_empty, missing=missing, errors=errors)
        # docs/jsonl.md: a `steps` value that is not an array makes the line malformed;
        # absent or null follows `missing`
        wants = [ref.split(w.paths, steps, numbering=nb, **kw) for nb in ("all", "renumber")]
        want = wants[0]
        res = run_write_op(w, jsonl.split, want, steps, **kw)
        if res is None:
            return
        rep, out = res
        assert out == b"" or out.endswith(b"\n")
        got = [ref.parse_split_output_line(line) for line in out.split(b"\n")[:-1]]
        assert any(got == wn["items"] for wn in wants), (got, want["items"])
        assert (rep.records, rep.written, rep.missing, rep.malformed) == (
            want["records"], want["written"], want["missing"], want["malformed"])
        if errors == "collect":
            check_error_list(rep.errors, want["errors"])


# a large file: chunk boundaries --------------------------------------------------------------


def _big_file(path: str, n_lines: int, seed: int) -> None:
    rnd = random.Random(seed)
    out = []
    for i in range(n_lines):
        r = rnd.random()
        if r < 0.012:
            out.append(rnd.choice(MALFORMED))
        elif r < 0.02:
            out.append(rnd.choice([b"", b"  ", b"\t"]))
        else:
            k = rnd.choice(KEY_POOL)
            rec = {"id": k, "i": i, "score": rnd.choice(SCORE_POOL),
                   "txt": "x" * rnd.randrange(0, 120) + rnd.choice(["", "é", "😀"])}
            out.append(dump(rec, rnd).encode())
        out.append(b"\r\n" if rnd.random() < 0.1 else b"\n")
    with open(path, "wb") as f:
        f.write(ref.BOM + b"".join(out))


def test_large_files_cross_chunk_boundaries():
    with tempfile.TemporaryDirectory() as d:
        a, b, c = (os.path.join(d, n) for n in ("a.jsonl", "b.jsonl", "c.jsonl"))
        _big_file(a, 110_000, 1)  # ~11 MB, ~1300 malformed lines (more than max_errors)
        with open(b, "wb") as f:  # lines longer than a chunk
            f.write(b'{"id":"long","txt":"' + b"y" * (5 << 20) + b'"}\n[1]\n')
            f.write(b'{"id":"x","txt":"' + "é".encode() * (3 << 20) + b'"}\n{"id":NaN}')
        _big_file(c, 30_000, 2)
        paths = [a, b, c]
        assert os.path.getsize(a) > 10 << 20
        want = ref.scan(paths, check=False)
        assert want["malformed"] > 1000
        for threads in (1, 4, None):
            rep = jsonl.scan(paths, threads=threads)
            assert (rep.records, rep.bytes, rep.blank_lines, rep.malformed) == (
                want["records"], want["bytes"], want["blank_lines"], want["malformed"])
            assert [loc(e) for e in rep.errors] == [e.loc for e in want["errors"]]
            assert [(fs.records, fs.malformed, fs.blank_lines, fs.crlf_lines)
                    for fs in rep.files] == [(f["records"], f["malformed"], f["blank_lines"],
                                              f["crlf_lines"]) for f in want["files"]]
        cw = ref.count_by(paths, "/id", errors="collect", check=False)
        cr = jsonl.count_by(paths, "/id", errors="collect", threads=4)
        assert dict(cr.counts) == cw["counts"]
        assert [loc(e) for e in cr.errors] == [e.loc for e in cw["errors"]]
        dw = ref.dedup(paths, "/id", score="-/score", errors="skip", missing="keep",
                       check=False)
        out = os.path.join(d, "out.jsonl")
        dr = jsonl.dedup(paths, out, "/id", score="-/score", errors="skip", missing="keep",
                         threads=4)
        assert ref.output_matches(read_bytes(out), dw["lines"])
        assert (dr.records, dr.written, dr.malformed) == (
            dw["records"], dw["written"], dw["malformed"])
        fw = ref.filter(paths, [("/score", ">", 0.5)], errors="skip", check=False)
        fr = jsonl.filter(paths, out, [("/score", ">", 0.5)], errors="skip", threads=3)
        assert ref.output_matches(read_bytes(out), fw["lines"])
        assert (fr.records, fr.written) == (fw["records"], fw["written"])
        rw = ref.read([c], errors="skip", check=False)
        with pytest.warns(Warning, match=str(rw["malformed"])):
            got = list(jsonl.read([c], errors="skip", locations=True))
        assert [(g[1], g[2]) for g in got] == [(n, r) for _, n, r in rw["items"]]
