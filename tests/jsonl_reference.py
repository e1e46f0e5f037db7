"""Plain-Python reference implementation of docs/jsonl.md.

Slow and simple on purpose: it is the oracle that the Rust core (`harness._fastjsonl`, through
`harness.jsonl`) is compared against by the tests.  Everything works on the raw bytes of each
line (the line without its `\\n` and one `\\r` before it; a BOM at the start of a file is skipped).

Validity is decided twice, by two independent means that must agree (`check=True`):

* the stdlib `json` module (with `object_pairs_hook` rejecting duplicate keys at any depth and
  `parse_constant` rejecting NaN/Infinity; `strict=True` rejects control characters in strings),
  which also builds the Python values;
* a tiny recursive-descent RFC 8259 recogniser (`_SpanParser`) on the bytes, which also gives
  the byte span of every value (for split's byte-exact slices), the position of an error and
  whether the line "ends early" (for `truncated last line`).

Points where docs/jsonl.md leaves a choice open are marked `AMBIGUITY` below; for those the
functions can produce every reasonable reading and the tests accept any of them.

Run ``python tests/jsonl_reference.py`` for the reference's own self-checks.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

BOM = b"\xef\xbb\xbf"
JSON_WS = b" \t\n\r"
ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()
MISSING_KEY: Any = type("MissingKey", (), {"__repr__": lambda self: "MISSING_KEY"})()

# Error kinds.  The doc fixes the wording only for "truncated last line"; for the rest the
# tests look for a recognisable word (see REASON_WORDS).
UTF8, SYNTAX, NAN, DUP, NOT_OBJECT, TRUNCATED, TYPE, MISSING = (
    "utf8", "syntax", "nan", "dup", "not_object", "truncated", "type", "missing")
REASON_WORDS = {
    UTF8: ("utf-8", "utf8"),
    NAN: ("nan", "infinity"),
    DUP: ("duplicate",),
    NOT_OBJECT: ("object",),
    TRUNCATED: ("truncated last line",),
}


class RefError(Exception):
    """A malformed line (or a missing key/score with missing="error") as the reference sees it."""

    def __init__(self, path: str, line: int, kind: str, line_start: int, content: bytes,
                 err_byte: int | None = None, col_range: tuple[int, int] | None = None,
                 pointer: str | None = None, detail: str = ""):
        self.path = path
        self.line = line
        self.kind = kind
        self.line_start = line_start  # byte offset of the line's first byte in the file
        self.content = content
        self.err_byte = err_byte  # byte index inside the line of the offending byte, if known
        # inclusive range of acceptable 1-based character columns (None: anything in the line)
        self.col_range = col_range
        self.pointer = pointer
        self.detail = detail
        super().__init__(f"{path}:{line}: {kind} {detail}")

    @property
    def loc(self) -> tuple[str, int]:
        return (self.path, self.line)

    def __repr__(self) -> str:
        return f"RefError({self.path!r}, {self.line}, {self.kind!r}, {self.detail!r})"


# --------------------------------------------------------------------------------------------
# A small RFC 8259 recogniser over bytes, giving spans.
# --------------------------------------------------------------------------------------------


class _Fail(Exception):
    def __init__(self, pos: int, kind: str, detail: str = "", end: int | None = None):
        self.pos = pos
        self.kind = kind  # "eof", "syntax", "nan", "dup"
        self.detail = detail
        self.end = end
        super().__init__(kind, pos, detail)


@dataclass
class Node:
    type: str  # "obj", "arr", "str", "num", "lit"
    start: int
    end: int
    items: list = field(default_factory=list)  # obj: [(key, Node)], arr: [Node]


_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")


class _SpanParser:
    def __init__(self, b: bytes):
        self.b = b
        self.n = len(b)

    def ws(self, i: int) -> int:
        b, n = self.b, self.n
        while i < n and b[i] in JSON_WS:
            i += 1
        return i

    def top(self) -> Node:
        i = self.ws(0)
        node, i = self.value(i)
        i = self.ws(i)
        if i < self.n:
            raise _Fail(i, "syntax", "trailing characters")
        return node

    def value(self, i: int) -> tuple[Node, int]:
        b, n = self.b, self.n
        if i >= n:
            raise _Fail(i, "eof", "expected a value")
        c = b[i]
        if c == 0x7B:  # {
            return self.obj(i)
        if c == 0x5B:  # [
            return self.arr(i)
        if c == 0x22:  # "
            j = self.string(i)
            return Node("str", i, j), j
        if b.startswith(b"-Infinity", i):
            raise _Fail(i, "nan", "-Infinity", end=i + 9)
        if c == 0x2D or c in _DIGITS:
            j = self.number(i)
            return Node("num", i, j), j
        for word in (b"true", b"false", b"null"):
            if c == word[0]:
                if b.startswith(word, i):
                    return Node("lit", i, i + len(word)), i + len(word)
                if word.startswith(b[i:]):
                    raise _Fail(n, "eof", "literal ends early")
                raise _Fail(i, "syntax", "bad literal")
        if b.startswith(b"NaN", i):
            raise _Fail(i, "nan", "NaN", end=i + 3)
        if b.startswith(b"Infinity", i):
            raise _Fail(i, "nan", "Infinity", end=i + 8)
        raise _Fail(i, "syntax", "expected a value")

    def string(self, i: int) -> int:
        b, n = self.b, self.n
        assert b[i] == 0x22
        j = i + 1
        while True:
            if j >= n:
                raise _Fail(j, "eof", "unterminated string")
            c = b[j]
            if c == 0x22:
                return j + 1
            if c == 0x5C:
                if j + 1 >= n:
                    raise _Fail(j + 1, "eof", "escape ends early")
                e = b[j + 1]
                if e in b'"\\/bfnrt':
                    j += 2
                elif e == 0x75:  # u
                    for k in range(4):
                        p = j + 2 + k
                        if p >= n:
                            raise _Fail(p, "eof", "unicode escape ends early")
                        if b[p] not in _HEX:
                            raise _Fail(p, "syntax", "bad unicode escape")
                    j += 6
                else:
                    raise _Fail(j + 1, "syntax", "bad escape")
            elif c < 0x20:
                raise _Fail(j, "syntax", "control character in string")
            else:
                j += 1

    def number(self, i: int) -> int:
        b, n = self.b, self.n
        j = i
        if b[j] == 0x2D:
            j += 1
            if j >= n:
                raise _Fail(j, "eof", "number ends early")
        if b[j] == 0x30:
            j += 1
        elif b[j] in _DIGITS:
            while j < n and b[j] in _DIGITS:
                j += 1
        else:
            raise _Fail(j, "syntax", "bad number")
        if j < n and b[j] == 0x2E:
            j += 1
            if j >= n:
                raise _Fail(j, "eof", "number ends early")
            if b[j] not in _DIGITS:
                raise _Fail(j, "syntax", "bad fraction")
            while j < n and b[j] in _DIGITS:
                j += 1
        if j < n and b[j] in b"eE":
            j += 1
            if j < n and b[j] in b"+-":
                j += 1
            if j >= n:
                raise _Fail(j, "eof", "number ends early")
            if b[j] not in _DIGITS:
                raise _Fail(j, "syntax", "bad exponent")
            while j < n and b[j] in _DIGITS:
                j += 1
        return j

    def obj(self, i: int) -> tuple[Node, int]:
        b, n = self.b, self.n
        node = Node("obj", i, -1)
        seen: set[str] = set()
        j = self.ws(i + 1)
        if j >= n:
            raise _Fail(j, "eof", "object ends early")
        if b[j] == 0x7D:
            node.end = j + 1
            return node, j + 1
        while True:
            if j >= n:
                raise _Fail(j, "eof", "object ends early")
            if b[j] != 0x22:
                raise _Fail(j, "syntax", "expected a key")
            kstart = j
            j = self.string(j)
            key = json.loads(b[kstart:j].decode("utf-8"))
            if key in seen:
                raise _Fail(kstart, "dup", f"duplicate key {key!r}", end=j)
            seen.add(key)
            j = self.ws(j)
            if j >= n:
                raise _Fail(j, "eof", "object ends early")
            if b[j] != 0x3A:
                raise _Fail(j, "syntax", "expected ':'")
            val, j = self.value(self.ws(j + 1))
            node.items.append((key, val))
            j = self.ws(j)
            if j >= n:
                raise _Fail(j, "eof", "object ends early")
            if b[j] == 0x2C:
                j = self.ws(j + 1)
                continue
            if b[j] == 0x7D:
                node.end = j + 1
                return node, j + 1
            raise _Fail(j, "syntax", "expected ',' or '}'")

    def arr(self, i: int) -> tuple[Node, int]:
        b, n = self.b, self.n
        node = Node("arr", i, -1)
        j = self.ws(i + 1)
        if j >= n:
            raise _Fail(j, "eof", "array ends early")
        if b[j] == 0x5D:
            node.end = j + 1
            return node, j + 1
        while True:
            val, j = self.value(j)
            node.items.append(val)
            j = self.ws(j)
            if j >= n:
                raise _Fail(j, "eof", "array ends early")
            if b[j] == 0x2C:
                j = self.ws(j + 1)
                continue
            if b[j] == 0x5D:
                node.end = j + 1
                return node, j + 1
            raise _Fail(j, "syntax", "expected ',' or ']'")


def parse_spans(content: bytes) -> Node:
    """Span tree of one valid JSON text (raises _Fail otherwise)."""
    return _SpanParser(content).top()


# --------------------------------------------------------------------------------------------
# stdlib json with the doc's extra rules
# --------------------------------------------------------------------------------------------


class _DupKey(Exception):
    pass


class _Constant(Exception):
    pass


def _pairs_hook(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise _DupKey(k)
        d[k] = v
    return d


def _constant(name):
    raise _Constant(name)


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_hook, parse_constant=_constant, strict=True)


def stdlib_loads(text: str) -> Any:
    """Python value of a JSON text, or an exception (JSONDecodeError, _DupKey, _Constant)."""
    return _DECODER.decode(text)


# --------------------------------------------------------------------------------------------
# Files and lines
# --------------------------------------------------------------------------------------------


def _char_col(content: bytes, byte_idx: int) -> int:
    """1-based character column of byte `byte_idx` of a line (its prefix must be valid UTF-8)."""
    return len(content[:byte_idx].decode("utf-8")) + 1


@dataclass
class Rec:
    """One non-blank line."""

    path: str
    lineno: int
    start: int  # byte offset of the line's first byte in the file
    content: bytes
    last_no_newline: bool
    error: RefError | None = None
    value: Any = None
    _node: Node | None = None

    @property
    def node(self) -> Node:
        if self._node is None:
            self._node = parse_spans(self.content)
        return self._node

    def raw(self, node: Node) -> bytes:
        return self.content[node.start:node.end]


@dataclass
class LineInfo:
    lineno: int
    start: int
    content: bytes
    crlf: bool
    has_newline: bool
    blank: bool
    rec: Rec | None


@dataclass
class FileData:
    path: str
    size: int
    bom: bool
    lines: list[LineInfo]


def classify(path: str, lineno: int, start: int, content: bytes, last_no_newline: bool,
             check: bool = True) -> Rec:
    """Parse one non-blank line; sets rec.error for a malformed line, else rec.value."""
    rec = Rec(path, lineno, start, content, last_no_newline)

    def err(kind, err_byte=None, col_range=None, detail=""):
        rec.error = RefError(path, lineno, kind, start, content, err_byte, col_range,
                             detail=detail)
        return rec

    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as e:
        col = _char_col(content, e.start)
        return err(UTF8, e.start, (col, col), "invalid UTF-8")
    std_exc: Exception | None = None
    try:
        value = stdlib_loads(text)
    except (json.JSONDecodeError, _DupKey, _Constant, RecursionError) as e:
        std_exc = e
        value = None
    if std_exc is None and not check:
        if not isinstance(value, dict):
            first = len(content) - len(content.lstrip(JSON_WS))
            return err(NOT_OBJECT, first, (1, _char_col(content, first)), "not an object")
        rec.value = value
        return rec
    try:
        node = parse_spans(content)
    except _Fail as f:
        # both recognisers must reject the line, for the same reason
        assert std_exc is not None, (content, f)
        if f.kind == "dup":
            assert isinstance(std_exc, _DupKey), (content, std_exc)
            # the duplicate key's opening quote .. the end of its value
            lo = _char_col(content, f.pos)
            return err(DUP, f.pos, (lo, len(text) + 1), f.detail)
        if f.kind == "nan":
            assert isinstance(std_exc, _Constant), (content, std_exc)
            lo = _char_col(content, f.pos)
            return err(NAN, f.pos, (lo, lo + 1), f.detail)
        assert isinstance(std_exc, json.JSONDecodeError), (content, std_exc)
        if f.kind == "eof" and last_no_newline:
            n = len(text)
            return err(TRUNCATED, f.pos, (max(1, n), n + 1), "truncated last line")
        return err(SYNTAX, f.pos, (1, len(text) + 1), f.detail)
    assert std_exc is None, (content, std_exc)
    rec._node = node
    if node.type != "obj":
        assert not isinstance(value, dict)
        return err(NOT_OBJECT, node.start, (1, _char_col(content, node.start)), "not an object")
    assert isinstance(value, dict)
    if check:
        _check_node_matches(content, node, value)
    rec.value = value
    return rec


def _check_node_matches(content: bytes, node: Node, value: Any) -> None:
    """Self-check: the span tree and the stdlib value describe the same thing."""
    raw = content[node.start:node.end]
    if node.type == "obj":
        assert isinstance(value, dict) and list(value) == [k for k, _ in node.items]
        for k, sub in node.items:
            _check_node_matches(content, sub, value[k])
    elif node.type == "arr":
        assert isinstance(value, list) and len(value) == len(node.items)
        for sub, v in zip(node.items, value):
            _check_node_matches(content, sub, v)
    else:
        assert same_value(stdlib_loads(raw.decode("utf-8")), value), (raw, value)


def load(path: str | os.PathLike, check: bool = True) -> FileData:
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    bom = data.startswith(BOM)
    pos = 3 if bom else 0
    lines: list[LineInfo] = []
    lineno = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        lineno += 1
        if nl == -1:
            content, has_nl, crlf, nxt = data[pos:], False, False, n
        else:
            content, has_nl, nxt = data[pos:nl], True, nl + 1
            crlf = content.endswith(b"\r")
            if crlf:
                content = content[:-1]
        blank = not content.translate(None, b" \t\r")
        rec = None if blank else classify(path, lineno, pos, content, not has_nl, check)
        lines.append(LineInfo(lineno, pos, content, crlf, has_nl, blank, rec))
        pos = nxt
    return FileData(path, n, bom, lines)


def iter_records(paths: Iterable[str | os.PathLike], check: bool = True) -> Iterator[Rec]:
    for p in paths:
        for ln in load(p, check).lines:
            if ln.rec is not None:
                yield ln.rec


# --------------------------------------------------------------------------------------------
# Pointers and keys
# --------------------------------------------------------------------------------------------


def parse_pointer(ptr: str) -> list[str]:
    if ptr == "":
        return []
    if not ptr.startswith("/"):
        raise ValueError(f"not a JSON pointer: {ptr!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in ptr.split("/")[1:]]


_INDEX = re.compile(r"0|[1-9][0-9]*\Z")


def resolve(value: Any, ptr: str) -> Any:
    """The value at `ptr` (RFC 6901) or ABSENT."""
    for tok in parse_pointer(ptr):
        if isinstance(value, dict):
            if tok not in value:
                return ABSENT
            value = value[tok]
        elif isinstance(value, list):
            if not _INDEX.fullmatch(tok) or int(tok) >= len(value):
                return ABSENT
            value = value[int(tok)]
        else:
            return ABSENT
    return value


def resolve_node(node: Node, ptr: str) -> Node | None:
    for tok in parse_pointer(ptr):
        if node.type == "obj":
            for k, sub in node.items:
                if k == tok:
                    node = sub
                    break
            else:
                return None
        elif node.type == "arr":
            if not _INDEX.fullmatch(tok) or int(tok) >= len(node.items):
                return None
            node = node.items[int(tok)]
        else:
            return None
    return node


def field_value(record: dict, name: str) -> Any:
    """`read`'s fields: a JSON pointer when it starts with '/', else a top-level name."""
    if name.startswith("/"):
        return resolve(record, name)
    return record.get(name, ABSENT)


def key_str(v: Any) -> Any:
    """Key semantics of dedup/count_by: str(x); MISSING_KEY for null/absent; TypeError else."""
    if v is ABSENT or v is None:
        return MISSING_KEY
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return v
    raise TypeError(type(v).__name__)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def same_value(a: Any, b: Any) -> bool:
    """Strict structural equality: types must match, floats compare by repr (so -0.0 != 0.0)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and repr(a) == repr(b)
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(same_value(a[k], b[k]) for k in a))
    if isinstance(a, list):
        return (isinstance(b, list) and len(a) == len(b)
                and all(same_value(x, y) for x, y in zip(a, b)))
    return type(a) is type(b) and a == b


# --------------------------------------------------------------------------------------------
# Error policy
# --------------------------------------------------------------------------------------------


class _Stop(Exception):
    def __init__(self, err: RefError):
        self.err = err


class _Errors:
    def __init__(self, mode: str, max_errors: int = 1000):
        assert mode in ("raise", "skip", "collect"), mode
        self.mode = mode
        self.max_errors = max_errors
        self.malformed = 0
        self.errors: list[RefError] = []

    def bad(self, err: RefError) -> None:
        if self.mode == "raise":
            raise _Stop(err)
        self.malformed += 1
        if self.mode == "collect" and len(self.errors) < self.max_errors:
            self.errors.append(err)


def _type_error(rec: Rec, pointer: str, what: str) -> RefError:
    return RefError(rec.path, rec.lineno, TYPE, rec.start, rec.content, pointer=pointer,
                    detail=f"{pointer}: {what}")


def _missing_error(rec: Rec, pointer: str) -> RefError:
    return RefError(rec.path, rec.lineno, MISSING, rec.start, rec.content, pointer=pointer,
                    detail=f"{pointer} is missing")


# --------------------------------------------------------------------------------------------
# Operations.  Each returns a plain dict; "error" is the RefError that raise mode stops on.
# --------------------------------------------------------------------------------------------


def scan(paths, max_errors: int = 1000, check: bool = True) -> dict:
    files = []
    errors: list[RefError] = []
    tot = dict(records=0, bytes=0, blank_lines=0, malformed=0)
    for p in paths:
        fd = load(p, check)
        fs = dict(path=fd.path, records=0, bytes=fd.size, blank_lines=0, malformed=0,
                  bom=fd.bom, crlf_lines=0)
        # AMBIGUITY: is a last line that ends in \r but lacks its \n a CRLF line (one that
        # "may lack its \n")?  crlf_lines_alt counts it, crlf_lines does not.
        fs_alt = 0
        for ln in fd.lines:
            # a line ending in \r\n counts in crlf_lines whether blank, malformed or not
            fs["crlf_lines"] += ln.crlf
            fs_alt += ln.crlf or (not ln.has_newline and ln.content.endswith(b"\r"))
            if ln.blank:
                fs["blank_lines"] += 1
            elif ln.rec.error is not None:
                fs["malformed"] += 1
                if len(errors) < max_errors:
                    errors.append(ln.rec.error)
            else:
                fs["records"] += 1
        for k in tot:
            tot[k] += fs[k]
        files.append(fs)
        fs["crlf_lines_alt"] = fs_alt
    return dict(tot, errors=errors, files=files)


def read(paths, fields=None, errors: str = "raise", check: bool = True) -> dict:
    """items: [(path, line, record)].  In raise mode `items` are those before the bad line."""
    pol = _Errors(errors)
    items = []
    out = dict(items=items, error=None)
    try:
        for rec in iter_records(paths, check):
            if rec.error is not None:
                pol.bad(rec.error)
                continue
            if fields is None:
                d = rec.value
            else:
                d = {}
                for name in fields:
                    v = field_value(rec.value, name)
                    if v is not ABSENT:
                        d[name] = v
            items.append((rec.path, rec.lineno, d))
    except _Stop as s:
        out["error"] = s.err
    out.update(malformed=pol.malformed, errors=pol.errors)
    return out


def _score_ptr(s: str) -> tuple[str, bool]:
    return (s[1:], True) if s.startswith("-") else (s, False)


def dedup(inputs, key: str, score=None, keep: str = "best", missing: str = "error",
          errors: str = "raise", partial: str = "component", check: bool = True) -> dict:
    """Returns output lines (record bytes, no newline) and the report.

    partial: how missing="keep" ranks a record that lacks *some* of several scores
      "component": a missing component ranks below every number at that position (AMBIGUITY)
      "whole":     the record counts as "without a score" and ranks below every fully-scored one
    """
    assert keep in ("first", "last", "best") and missing in ("error", "skip", "keep")
    if keep == "best":
        assert score is not None
    scores = [] if keep != "best" else ([score] if isinstance(score, str) else list(score))
    pol = _Errors(errors)
    out: dict[str, Any] = dict(error=None)
    best: dict[str, tuple] = {}  # key -> (rank, order, content)
    kept: list[tuple[int, bytes]] = []
    n_records = n_missing = 0
    order = 0
    try:
        for rec in iter_records(inputs, check):
            if rec.error is not None:
                pol.bad(rec.error)
                continue
            kv = resolve(rec.value, key)
            try:
                k = key_str(kv)
            except TypeError as e:
                pol.bad(_type_error(rec, key, f"key is {e}"))
                continue
            comps = []
            bad = None
            for s in scores:
                ptr, neg = _score_ptr(s)
                v = resolve(rec.value, ptr)
                if v is ABSENT or v is None:
                    comps.append(None)
                elif is_number(v):
                    comps.append(-v if neg else v)
                else:
                    bad = _type_error(rec, ptr, f"score is {type(v).__name__}")
                    break
            if bad is not None:
                pol.bad(bad)
                continue
            n_records += 1
            order += 1
            is_missing = k is MISSING_KEY or any(c is None for c in comps)
            if is_missing:
                if missing == "error":
                    raise _Stop(_missing_error(rec, key if k is MISSING_KEY else "score"))
                n_missing += 1
                if missing == "skip":
                    continue
                if k is MISSING_KEY:
                    kept.append((order, rec.content))
                    continue
            if partial == "component":
                rank = tuple((0,) if c is None else (1, c) for c in comps)
            else:
                rank = ((0,),) if any(c is None for c in comps) else tuple((1, c) for c in comps)
            cur = best.get(k)
            if (cur is None or keep == "last"
                    or (keep == "best" and rank > cur[0])):
                best[k] = (rank, order, rec.content)
    except _Stop as s:
        out["error"] = s.err
        return out
    winners = sorted([(o, c) for _, o, c in best.values()] + kept)
    out.update(lines=[c for _, c in winners], records=n_records, written=len(winners),
               unique_keys=len(best), missing=n_missing, malformed=pol.malformed,
               errors=pol.errors)
    return out


def filter_eq(v: Any, want: Any) -> bool:
    """`==` of filter (and split's `on`): numbers numerically, booleans only with booleans."""
    if v is ABSENT:
        return False
    if want is None:
        return v is None
    if isinstance(want, bool):
        return isinstance(v, bool) and v == want
    if is_number(want):
        return is_number(v) and v == want
    if isinstance(want, str):
        return isinstance(v, str) and v == want
    raise ValueError(f"bad value {want!r}")


def _cond(record: dict, ptr: str, op: str, want: Any) -> bool:
    v = resolve(record, ptr)
    if op == "exists":
        return v is not ABSENT
    if op == "missing":
        return v is ABSENT
    if v is ABSENT:
        return False
    if op == "==":
        return filter_eq(v, want)
    if op == "!=":
        return not filter_eq(v, want)
    if op in ("<", "<=", ">", ">="):
        if is_number(v) and is_number(want):
            pass
        elif isinstance(v, str) and isinstance(want, str):
            pass  # Python compares str by code point
        else:
            return False
        return {"<": v < want, "<=": v <= want, ">": v > want, ">=": v >= want}[op]
    if op == "in":
        return any(filter_eq(v, w) for w in want)
    if op == "not in":
        return not any(filter_eq(v, w) for w in want)
    raise ValueError(op)


def filter(inputs, where, errors: str = "raise", check: bool = True) -> dict:
    pol = _Errors(errors)
    lines = []
    n = 0
    try:
        for rec in iter_records(inputs, check):
            if rec.error is not None:
                pol.bad(rec.error)
                continue
            n += 1
            if all(_cond(rec.value, p, op, w) for p, op, w in where):
                lines.append(rec.content)
    except _Stop as s:
        return dict(error=s.err)
    return dict(error=None, lines=lines, records=n, written=len(lines), malformed=pol.malformed,
                errors=pol.errors)


def count_by(inputs, key: str, errors: str = "raise", check: bool = True) -> dict:
    pol = _Errors(errors)
    counts: dict[Any, int] = {}
    n = 0
    try:
        for rec in iter_records(inputs, check):
            if rec.error is not None:
                pol.bad(rec.error)
                continue
            try:
                k = key_str(resolve(rec.value, key))
            except TypeError as e:
                pol.bad(_type_error(rec, key, f"key is {e}"))
                continue
            n += 1
            k = None if k is MISSING_KEY else k
            counts[k] = counts.get(k, 0) + 1
    except _Stop as s:
        return dict(error=s.err)
    return dict(error=None, counts=counts, records=n, malformed=pol.malformed, errors=pol.errors)


def carry_names(carry) -> list[tuple[str, str]]:
    if isinstance(carry, dict):
        return list(carry.items())
    return [(parse_pointer(p)[-1], p) for p in carry]


def split(inputs, steps: str, on: tuple[str, Any], carry=(), keep_empty: bool = False,
          missing: str = "error", errors: str = "raise", numbering: str = "all",
          wrong_steps: str = "malformed", check: bool = True) -> dict:
    """Output items are dicts: carried [(name, raw bytes)], split_index, total_splits,
    context [raw bytes of each step], response [raw bytes of each step].

    numbering (AMBIGUITY: are skipped empty-response split points counted?):
      "all":       k indexes all split points of the trace, n = number of split points
      "renumber":  k and n count only the split points that are written
    wrong_steps: what a non-array at `steps` is: "malformed" (docs/jsonl.md) or "missing"
    """
    assert missing in ("error", "skip")
    on_ptr, on_val = on
    names = carry_names(carry)
    pol = _Errors(errors)
    items = []
    n_records = n_missing = 0
    try:
        for rec in iter_records(inputs, check):
            if rec.error is not None:
                pol.bad(rec.error)
                continue
            sv = resolve(rec.value, steps)
            # "A record without the steps array (or with null there) follows missing; a steps
            # value that is not an array makes the line malformed."
            wrong = sv is not ABSENT and sv is not None and not isinstance(sv, list)
            if wrong and wrong_steps == "malformed":
                pol.bad(_type_error(rec, steps, f"steps is {type(sv).__name__}"))
                continue
            n_records += 1
            if sv is ABSENT or sv is None or wrong:
                if missing == "error":
                    raise _Stop(_missing_error(rec, steps))
                n_missing += 1
                continue
            snode = resolve_node(rec.node, steps)
            assert snode is not None and snode.type == "arr"
            raws = [rec.raw(s) for s in snode.items]
            points = [i for i, st in enumerate(sv) if filter_eq(resolve(st, on_ptr), on_val)]
            carried = []
            for name, ptr in names:
                cn = resolve_node(rec.node, ptr)
                if cn is not None:
                    carried.append((name, rec.raw(cn)))
            chosen = []
            for k, i in enumerate(points):
                j = points[k + 1] if k + 1 < len(points) else len(sv)
                if j == i + 1 and not keep_empty:
                    continue
                chosen.append((k, i, j))
            for idx, (k, i, j) in enumerate(chosen):
                items.append(dict(
                    carried=carried,
                    split_index=k if numbering == "all" else idx,
                    total_splits=len(points) if numbering == "all" else len(chosen),
                    context=raws[: i + 1],
                    response=raws[i + 1: j],
                ))
    except _Stop as s:
        return dict(error=s.err)
    return dict(error=None, items=items, records=n_records, written=len(items),
                missing=n_missing, malformed=pol.malformed, errors=pol.errors)


def parse_split_output_line(line: bytes) -> dict:
    """Parse one output line of split into the same shape as `split`'s items (raw bytes).

    The names before "split_index" are the carried fields.  Raises AssertionError / _Fail when
    the line does not have the documented shape."""
    node = parse_spans(line)
    assert node.type == "obj", line
    value = stdlib_loads(line.decode("utf-8"))
    keys = [k for k, _ in node.items]
    tail = ["split_index", "total_splits", "context", "response"]
    assert keys[-4:] == tail, f"keys {keys} do not end with {tail}"
    sub = dict(node.items)
    for name in ("context", "response"):
        assert sub[name].type == "arr", (name, line)
    assert type(value["split_index"]) is int and type(value["total_splits"]) is int, line
    return dict(
        carried=[(k, line[n.start:n.end]) for k, n in node.items[:-4]],
        split_index=value["split_index"],
        total_splits=value["total_splits"],
        context=[line[n.start:n.end] for n in sub["context"].items],
        response=[line[n.start:n.end] for n in sub["response"].items],
    )


def count_order_ok(items: list[tuple[Any, int]]) -> bool:
    """count_by's order: largest count first, ties by key (str keys in code-point order).

    AMBIGUITY: where the None key goes among keys with the same count is not said; any place
    is accepted."""
    counts = [c for _, c in items]
    if counts != sorted(counts, reverse=True):
        return False
    for i in range(len(items) - 1):
        (k1, c1), (k2, c2) = items[i], items[i + 1]
        if c1 == c2 and k1 is not None and k2 is not None and not k1 < k2:
            return False
    # str keys of equal count must be sorted even across a None between them
    by_count: dict[int, list[str]] = {}
    for k, c in items:
        if k is not None:
            by_count.setdefault(c, []).append(k)
    return all(v == sorted(v) for v in by_count.values())


def record_line_matches(got: bytes, content: bytes) -> bool:
    """Does an output line equal a record's bytes?

    AMBIGUITY: "the record's bytes" may or may not include whitespace around the JSON value on
    the line; both are accepted.  The line ending (\\n, \\r\\n) is never part of it."""
    return got == content or got == content.strip(JSON_WS)


def output_matches(data: bytes, contents: list[bytes]) -> bool:
    if not contents:
        return data == b""
    if not data.endswith(b"\n"):
        return False
    got = data[:-1].split(b"\n")
    return len(got) == len(contents) and all(
        record_line_matches(g, c) for g, c in zip(got, contents))


# --------------------------------------------------------------------------------------------
# Self-checks
# --------------------------------------------------------------------------------------------


def _selfcheck() -> None:
    import tempfile

    def kind_of(content: bytes, last_no_newline=False):
        r = classify("f", 1, 0, content, last_no_newline)
        return None if r.error is None else r.error.kind

    ok = [b'{}', b'{"a":1}', b' {"a" : [1, 2.5, -0, 1e2, "x\\u00e9\\ud83d\\ude00"]}\t',
          b'{"a":{"b":{"c":null}},"b":[{"a":1},{"a":1}]}', b'{"\\u0061":1,"b":2}',
          '{"é":"😀"}'.encode(), b'{"a":"\xc3\xa9\\/"}', b'{"a":1}\r', b'{"a":"\x7f"}',
          b'{"a":12345678901234567890123456789}', b'{"a": 1E+2, "b": 0.5e-3, "c": -0.0}']
    for c in ok:
        assert kind_of(c) is None, c
        assert kind_of(c, True) is None, c
    bad = {
        b'{"a": "\xff"}': UTF8, b'{"\xc3": 1}': UTF8, b'{"a": "\xed\xa0\x80"}': UTF8,
        b'{"a": "\xc0\xaf"}': UTF8,
        b'{"a": 1,}': SYNTAX, b"{'a': 1}": SYNTAX, b'{"a": 01}': SYNTAX, b'{"a": .5}': SYNTAX,
        b'{"a": 1.}': SYNTAX, b'{"a": +1}': SYNTAX, b'{"a": "x\ty"}': SYNTAX,
        b'{"a": True}': SYNTAX, b'{"a":1}x': SYNTAX, b'{"a": "\\x"}': SYNTAX,
        b'\x0c{}': SYNTAX, b'\xc2\xa0{}': SYNTAX, BOM + b'{}': SYNTAX, b'{"a":[1,]}': SYNTAX,
        b'{"a":1} {"b":2}': SYNTAX, b'{"a": 1': SYNTAX, b'/*c*/{}': SYNTAX,
        b'{"a": NaN}': NAN, b'{"a": -Infinity}': NAN, b'{"a": [Infinity]}': NAN,
        b'[1]': NOT_OBJECT, b'3': NOT_OBJECT, b'"s"': NOT_OBJECT, b'null': NOT_OBJECT,
        b' [ {"a":1} ]': NOT_OBJECT,
        b'{"a":1,"a":2}': DUP, b'{"x":{"b":1,"b":2}}': DUP, b'{"x":[{"c":1,"c":1}]}': DUP,
        b'{"a":1,"\\u0061":2}': DUP, '{"é":1,"\\u00e9":2}'.encode(): DUP,
    }
    for c, kind in bad.items():
        assert kind_of(c) == kind, (c, kind_of(c), kind)
    assert kind_of('{"é":1,"e\\u0301":2}'.encode()) is None
    for c in [b'{"a": 1', b'{"a": "ab', b'{"a": [1, 2', b'{"a": tr', b'{"a":', b'{',
              b'{"a": "\\u00', b'{"a": -', b'{"a": 1.', b'{"a": 1e+', b'{"a"']:
        assert kind_of(c, True) == TRUNCATED, c
        assert kind_of(c, False) == SYNTAX, c
    # columns are in characters, byte offsets in bytes
    r = classify("f", 1, 0, '{"é": NaN}'.encode(), False)
    assert r.error.col_range == (7, 8) and r.error.err_byte == 7
    r = classify("f", 1, 0, '{"é": "'.encode() + b'\xff"}', False)
    assert r.error.kind == UTF8 and r.error.col_range == (8, 8) and r.error.err_byte == 8

    # keys
    vals = stdlib_loads('{"a":[7,"7",1.0,"1.0",1e2,1.5e20,1e-5,true,false,-0,-0.0,null,'
                        '123456789012345678901234567890,1E400]}')["a"]
    assert [key_str(v) for v in vals[:13]] == [
        "7", "7", "1.0", "1.0", "100.0", "1.5e+20", "1e-05", "True", "False", "0", "-0.0",
        MISSING_KEY, "123456789012345678901234567890"]
    # pointers
    doc = {"a/b": {"m~n": [10, 20]}, "": 1, "x": {"0": "z"}}
    assert resolve(doc, "/a~1b/m~0n/1") == 20
    assert resolve(doc, "/a~1b/m~0n/01") is ABSENT and resolve(doc, "/a~1b/m~0n/2") is ABSENT
    assert resolve(doc, "/") == 1 and resolve(doc, "") is doc and resolve(doc, "/x/0") == "z"
    assert resolve(doc, "/a~1b/m~0n/-") is ABSENT
    # filter equality
    assert filter_eq(1, 1.0) and not filter_eq(True, 1) and not filter_eq(1, True)
    assert filter_eq(None, None) and not filter_eq(ABSENT, None) and not filter_eq("1", 1)
    assert _cond({"s": "\uffff"}, "/s", "<", "😀") and not _cond({"s": True}, "/s", "<", 2)
    assert not _cond({}, "/s", "!=", 1) and _cond({"s": None}, "/s", "exists", None)
    assert _cond({"s": [1]}, "/s", "!=", 1) and not _cond({"s": [1]}, "/s", "in", [1])

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "a.jsonl")
        data = (BOM + b'{"id":1,"s":1}\r\n\n  \t\r\n{"id":"1","s":2}\n[1]\n'
                b'{"id": 2 , "s" :0.5}\n{"id":2,"s":0.5}\n{"id":2,"s":')
        with open(p, "wb") as f:
            f.write(data)
        s = scan([p])
        assert (s["records"], s["blank_lines"], s["malformed"], s["bytes"]) == (4, 2, 2, len(data))
        assert s["files"][0]["bom"] and s["files"][0]["crlf_lines"] == 2
        assert [(e.line, e.kind) for e in s["errors"]] == [(5, NOT_OBJECT), (8, TRUNCATED)]
        assert s["errors"][0].line_start == data.index(b"[1]")
        assert scan([p], max_errors=1)["errors"][0].line == 5
        r = dedup([p], "/id", "/s", errors="skip")
        assert r["lines"] == [b'{"id":"1","s":2}', b'{"id": 2 , "s" :0.5}'], r
        assert (r["records"], r["written"], r["unique_keys"], r["malformed"]) == (4, 2, 2, 2)
        r = dedup([p], "/id", "-/s", errors="skip")
        assert r["lines"] == [b'{"id":1,"s":1}', b'{"id": 2 , "s" :0.5}'], r
        r = dedup([p], "/id", keep="last", errors="collect")
        assert r["lines"] == [b'{"id":"1","s":2}', b'{"id":2,"s":0.5}'], r
        assert [e.line for e in r["errors"]] == [5, 8]
        assert dedup([p], "/id", keep="first")["error"].line == 5
        assert read([p])["error"].line == 5 and len(read([p])["items"]) == 2
        rr = read([p], fields=["/s", "id", "/nope"], errors="skip")
        assert rr["items"][1] == (p, 4, {"/s": 2, "id": "1"}) and rr["malformed"] == 2
        c = count_by([p], "/id", errors="skip")["counts"]
        assert c == {"1": 2, "2": 2}
        f = filter([p], [("/s", ">=", 1), ("/id", "in", [1, "x"])], errors="skip")
        assert f["lines"] == [b'{"id":1,"s":1}'] and f["records"] == 4

        q = os.path.join(d, "b.jsonl")
        with open(q, "wb") as f:
            f.write(b'{"q":"Q","id":3,"steps":[ {"type":"ask"} , {"type":"res","v":1},'
                    b'{"type":"think"},{"type":"res"},{"type":"res"}, 5 ]}\n'
                    b'{"q":"R"}\n{"steps":{}}\n')
        sp = split([q], "/steps", ("/type", "res"), carry=["/q", "/nope"], missing="skip",
                   errors="collect")
        assert sp["records"] == 2 and sp["missing"] == 1 and sp["malformed"] == 1
        assert [(i["split_index"], i["total_splits"]) for i in sp["items"]] == [(0, 3), (2, 3)]
        assert sp["items"][0]["context"] == [b'{"type":"ask"}', b'{"type":"res","v":1}']
        assert sp["items"][0]["response"] == [b'{"type":"think"}']
        assert sp["items"][1]["response"] == [b"5"]
        assert sp["items"][0]["carried"] == [("q", b'"Q"')]
        sp2 = split([q], "/steps", ("/type", "res"), carry={"Id": "/id"}, missing="skip",
                    errors="skip", keep_empty=True)
        assert [(i["split_index"], len(i["response"])) for i in sp2["items"]] == [
            (0, 1), (1, 0), (2, 1)]
        sp3 = split([q], "/steps", ("/type", "res"), missing="skip", errors="skip",
                    numbering="renumber")
        assert [(i["split_index"], i["total_splits"]) for i in sp3["items"]] == [(0, 2), (1, 2)]
        line = (b'{"q": "Q", "split_index": 0, "total_splits": 3, "context": '
                b'[{"type":"ask"},{"type":"res","v":1}], "response": [{"type":"think"}]}')
        assert parse_split_output_line(line) == sp["items"][0]
    assert count_order_ok([("b", 3), (None, 2), ("a", 2), ("c", 2), ("a", 1)])
    assert not count_order_ok([("b", 2), ("a", 2)])
    assert not count_order_ok([("c", 2), (None, 2), ("a", 2)])
    assert output_matches(b'{"a":1}\n', [b' {"a":1} ']) and not output_matches(b'{"a":1}', [b'{"a":1}'])
    print("jsonl_reference self-check: ok")


if __name__ == "__main__":
    _selfcheck()
