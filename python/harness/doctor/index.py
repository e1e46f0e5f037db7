"""Per-file indexes of rollout files: a few facts and the byte offset of every record, made once.

Selecting the best rollout per task needs, for every record, only its key, what it scored and
whether it is good, plus where it sits in its file, so that the few records chosen can be read
again. `harness.jsonl.columns` gets exactly that in one pass over every stale file at once, on
every core: the place of each record (line, byte offset, length) and the fields asked for, as
columns.

`FileIndex` keeps the facts made of those columns beside the results, as numpy arrays
(`DIR/.index/NAME.index.npz`: read back in milliseconds, without a Python object per record),
keyed on the file's identity (device, inode, size, modification time): a later selection
(`load_indexes`) parses only the files that are new or changed, and reads the others' indexes
(a few bytes per record). Token counts, which cost a tokenizer pass
over the text, are computed only for the records that need them and kept in a second file
beside the index (`NAME.tokens.COUNTER.json`), under the same identity. Both are caches:
removing them is always safe, they are written atomically, and one whose identity no longer
matches its file is rebuilt.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from harness import jsonl
from harness.atomic import atomic_write

INDEX_DIR = ".index"
FORMAT = 2


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
    [found] = jsonl.columns(path, fields).files
    values = [found.values[f] for f in fields]
    return [Located(line, offset, length, {f: v for f, v in zip(fields, row) if v is not None})
            for line, offset, length, *row in zip(found.line, found.offset, found.length, *values)]


def read_at(path: str | os.PathLike[str], places: Iterable[tuple[int, int]]) -> list[Any]:
    """The records at `(offset, length)` places of one file, parsed, in the order given."""
    out = []
    with open(path, "rb") as f:
        for offset, length in places:
            out.append(json.loads(os.pread(f.fileno(), length, offset)))
    return out


CountAt = Callable[[Path, list[tuple[int, int]]], list[list[int]]]
"""How a counter counts the tokens of records: the counts of each record at the (offset, length)
places of a file, read again."""

Extract = Callable[[jsonl.FileColumns], dict[str, np.ndarray]]
"""What an index keeps of a file: its facts, one array per fact and one item per record, made of
the file's columns (`harness.jsonl.columns` of the index's fields)."""


def load_indexes(paths: Sequence[str | os.PathLike[str]], kind: str, fields: Sequence[str], extract: Extract, *,
                 index_dir: str | os.PathLike[str] | None = None) -> list[FileIndex]:
    """The index of each of `paths`: the saved one where it matches its file, else made by
    `extract` from the file's `fields` (every stale file parsed in one pass, on every core)
    and saved."""
    indexes = [FileIndex(p, kind, index_dir=index_dir) for p in paths]
    stale = [index for index in indexes if not index.current()]
    if stale:
        for index, found in zip(stale, jsonl.columns([index.path for index in stale], fields).files):
            index.build(found, extract)
    return indexes


class FileIndex:
    """The index of one results file: `arrays` (one item per record: the facts an `Extract`
    made, then the record's `offset` and `length`), saved in `DIR/.index/` and reused while the
    file is the same. `kind` names what the extract computes: an index of another kind is
    rebuilt."""

    def __init__(self, path: str | os.PathLike[str], kind: str, *, index_dir: str | os.PathLike[str] | None = None):
        self.path = Path(path)
        self.kind = kind
        self.index_dir = Path(index_dir) if index_dir is not None else self.path.parent / INDEX_DIR
        self.file = self.index_dir / f"{self.path.name}.index.npz"
        self.arrays: dict[str, np.ndarray] = {"offset": np.zeros(0, np.int64), "length": np.zeros(0, np.int64)}
        self.built = False
        """True when this process parsed the results file (the index was missing or stale)."""
        self._identity: dict[str, int] = {}
        self._tokens: dict[str, dict[int, list[int]]] = {}

    def current(self) -> bool:
        """Whether a saved index of this kind matches the file as it is now; if so it is loaded."""
        self._identity = identity(self.path)
        try:
            with np.load(self.file, allow_pickle=False) as saved:
                if json.loads(saved["header"].tobytes()) != self._header():
                    return False
                arrays = {name: saved[name] for name in saved.files if name != "header"}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return False  # missing or unreadable: a cache, rebuilt
        self.arrays = arrays
        return True

    def build(self, found: jsonl.FileColumns, extract: Extract) -> None:
        """Make the arrays of `found` (the file's `harness.jsonl.columns`) and save them."""
        self.arrays = {**extract(found), "offset": np.array(found.offset, np.int64),
                       "length": np.array(found.length, np.int64)}
        self.built = True
        saved: dict[str, Any] = {"header": np.frombuffer(json.dumps(self._header()).encode(), np.uint8),
                                 **self.arrays}
        self._replace(self.file, lambda f: np.savez(f, **saved))

    def _header(self) -> dict[str, Any]:
        return {"format": FORMAT, "kind": self.kind, "source": self.path.name, "identity": self._identity}

    def __len__(self) -> int:
        return len(self.arrays["offset"])

    # -- token counts, computed on demand ------------------------------------------------------

    def tokens(self, counter: str, rows: Sequence[int], count: CountAt) -> list[list[int]]:
        """The token counts of the records at `rows` (positions in this index), from the token
        file of `counter` where it has them; the others are counted by `count` and saved."""
        known = self._token_table(counter)
        at = np.asarray(rows, np.int64)
        offsets = self.arrays["offset"][at].tolist()
        todo = sorted({place for place in zip(offsets, self.arrays["length"][at].tolist()) if place[0] not in known})
        if todo:
            for (offset, _), counts in zip(todo, count(self.path, todo)):
                known[offset] = counts
            table = {str(k): v for k, v in known.items()}
            self._write(self._token_file(counter), {"kind": self.kind, "counter": counter, "tokens": table})
        return [known[offset] for offset in offsets]

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
        text = json.dumps({"format": FORMAT, "source": self.path.name, "identity": self._identity, **body},
                          separators=(",", ":"))
        self._replace(file, lambda f: f.write(text.encode()))

    @staticmethod
    def _replace(file: Path, write: Callable[[IO[bytes]], object]) -> None:
        """Written beside and renamed into place, but not synced: a cache that a crash leaves
        torn fails to parse and is rebuilt, so the fsync's cost buys nothing."""
        with atomic_write(file, binary=True, sync=False) as f:
            write(f)

