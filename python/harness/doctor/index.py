"""Per-file indexes of rollout files: a few facts and the byte offset of every record, made once.

Selecting the best rollout per task needs, for every record, only its key, what it scored and
whether it is good, plus where it sits in its file, so that the few records chosen can be read
again. `scan_file` gets exactly that in one pass: the Rust reader (`harness.jsonl.read`) parses
every line and hands over only the fields asked for, and the line numbers it gives are turned
into byte offsets.

`FileIndex` keeps those facts beside the results (`DIR/.index/NAME.index.json`), keyed on the
file's identity (device, inode, size, modification time): a later selection parses only the
files that are new or changed, and reads the others' indexes (a few bytes per record). Token
counts, which cost a tokenizer pass over the text, are computed only for the records that need
them and kept in a second file beside the index (`NAME.tokens.COUNTER.json`), under the same
identity. Both are caches: removing them is always safe, they are written atomically, and one
whose identity no longer matches its file is rebuilt.
"""

from __future__ import annotations

import json
import mmap
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from harness.atomic import new_file_mode

INDEX_DIR = ".index"
FORMAT = 1


class Located(NamedTuple):
    """One record of a file: where it is, and the fields that were asked for."""

    line: int
    """1-based line number."""
    offset: int
    length: int
    """Bytes of the line, without its terminator."""
    fields: dict[str, Any]


def identity(path: str | os.PathLike[str]) -> dict[str, int]:
    """What says a file is still the one an index was made of."""
    st = os.stat(path)
    return {"device": st.st_dev, "inode": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def scan_file(path: str | os.PathLike[str], fields: Sequence[str]) -> list[Located]:
    """Every record of a JSONL file with the `fields` (JSON pointers) it has, and its place.
    A malformed line raises `harness.jsonl.JsonlError` naming file, line and column."""
    from harness import jsonl

    path = os.fspath(path)
    records = list(jsonl.read(path, fields=list(fields), locations=True))
    if not records:
        return []
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        out = []
        line, start = 1, 0
        for _, wanted, found in records:
            while line < wanted:  # skip to the record's line (blank lines are not records)
                start = data.find(b"\n", start) + 1
                line += 1
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end
            stop = end - 1 if end > start and data[end - 1] == 0x0D else end  # CRLF
            begin = start + 3 if start == 0 and data[:3] == b"\xef\xbb\xbf" else start  # BOM
            out.append(Located(wanted, begin, stop - begin, found))
    return out


def read_at(path: str | os.PathLike[str], places: Iterable[tuple[int, int]]) -> list[Any]:
    """The records at `(offset, length)` places of one file, parsed, in the order given."""
    out = []
    with open(path, "rb") as f:
        for offset, length in places:
            out.append(json.loads(os.pread(f.fileno(), length, offset)))
    return out


class FileIndex:
    """The index of one results file: `columns` (one list per fact, one item per record) made by
    `extract` from the file's records, saved in `DIR/.index/` and reused while the file is the
    same. `kind` names what `extract` computes: an index of another kind is rebuilt."""

    def __init__(self, path: str | os.PathLike[str], kind: str, *, index_dir: str | os.PathLike[str] | None = None):
        self.path = Path(path)
        self.kind = kind
        self.index_dir = Path(index_dir) if index_dir is not None else self.path.parent / INDEX_DIR
        self.file = self.index_dir / f"{self.path.name}.index.json"
        self.columns: dict[str, list[Any]] = {}
        self.built = False
        """True when this process parsed the results file (the index was missing or stale)."""
        self._identity: dict[str, int] = {}
        self._tokens: dict[str, dict[int, list[int]]] = {}

    def current(self) -> bool:
        """Whether a saved index of this kind matches the file as it is now."""
        self._identity = identity(self.path)
        saved = self._read(self.file)
        return saved is not None and saved.get("kind") == self.kind

    def load(self, fields: Sequence[str], columns: Sequence[str],
             extract: Callable[[Located, str, Path], tuple[Any, ...]]) -> FileIndex:
        """Read the saved index if it matches the file, else scan the file and save one.
        `extract(record, where, path)` gives one record's facts, in the order of `columns`
        (`where` is `path:line`, for errors); `offset` and `length` are added."""
        self._identity = identity(self.path)
        saved = self._read(self.file)
        if saved is not None and saved.get("kind") == self.kind:
            self.columns = saved["columns"]
            return self
        records = scan_file(self.path, fields)
        rows = [extract(record, f"{self.path}:{record.line}", self.path) for record in records]
        self.columns = {name: list(values) for name, values in zip(columns, zip(*rows))} if rows else \
            {name: [] for name in columns}
        self.columns["offset"] = [r.offset for r in records]
        self.columns["length"] = [r.length for r in records]
        self.built = True
        self._write(self.file, {"kind": self.kind, "columns": self.columns})
        return self

    def __len__(self) -> int:
        return len(self.columns.get("offset", []))

    # -- token counts, computed on demand ------------------------------------------------------

    def tokens(self, counter: str, rows: Sequence[int], count: Callable[[Any], list[int]]) -> list[list[int]]:
        """`count(record)` of the records at `rows` (positions in this index), from the token
        file of `counter` where it has them; the others are read, counted and saved."""
        known = self._token_table(counter)
        todo = sorted({r for r in rows if self.columns["offset"][r] not in known})
        if todo:
            places = [(self.columns["offset"][r], self.columns["length"][r]) for r in todo]
            for row, record in zip(todo, read_at(self.path, places)):
                known[self.columns["offset"][row]] = count(record)
            table = {str(k): v for k, v in known.items()}
            self._write(self._token_file(counter), {"kind": self.kind, "counter": counter, "tokens": table})
        return [known[self.columns["offset"][r]] for r in rows]

    def _token_table(self, counter: str) -> dict[int, list[int]]:
        if counter not in self._tokens:
            saved = self._read(self._token_file(counter))
            ok = saved is not None and saved.get("counter") == counter and saved.get("kind") == self.kind
            self._tokens[counter] = {int(k): v for k, v in saved["tokens"].items()} if saved and ok else {}
        return self._tokens[counter]

    def _token_file(self, counter: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in counter)
        return self.index_dir / f"{self.path.name}.tokens.{safe}.json"

    # -- files ---------------------------------------------------------------------------------

    def _read(self, file: Path) -> dict[str, Any] | None:
        try:
            saved = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing or unreadable: a cache, rebuilt
        if not isinstance(saved, dict) or saved.get("format") != FORMAT or saved.get("identity") != self._identity:
            return None
        return saved

    def _write(self, file: Path, body: dict[str, Any]) -> None:
        """Written beside and renamed into place, but not synced: a cache that a crash leaves
        torn fails to parse and is rebuilt, so the fsync's cost buys nothing."""
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{secrets.token_hex(4)}.tmp")
        text = json.dumps({"format": FORMAT, "source": self.path.name, "identity": self._identity, **body},
                          separators=(",", ":"))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, new_file_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, file)
