"""The best rollout per puzzle that an analysis chose, kept so that the next one parses only new files.

Loop k of seed 001 analyses `results_1` … `results_k`; loop k + 1 the same files and one more.
The order that picks a puzzle's best rollout is total (good first, then the higher reward, then
the fewest mean assistant tokens, then the first in file order), so the best over all the files is
the best of the earlier best and the new files' rollouts: the earlier files need not be read
again, not even their indexes. `Choices` is one row per puzzle, with what ranking the choice again
and judging it need (its statuses after the token limit, its number of groups, its place in its
file, its mean tokens where they were counted), saved as `DIR/.index/choices.SETTINGS.npz`
under the files it was chosen from (path and identity, in order). A later analysis whose files
begin with exactly those files starts from it; any other starts from the indexes. A cache:
removing it is always safe, it is written atomically, and one that does not match is not used.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.atomic import atomic_write
from harness.doctor.index import identity

FORMAT = 1
COLUMNS: dict[str, Any] = {"key": str, "file": np.int64, "row": np.int64, "offset": np.int64, "length": np.int64,
                           "good": bool, "reward": np.float64, "has_statuses": bool, "statuses": str,
                           "groups": np.int64, "tokens": np.float64}
"""The columns and their types, one item per puzzle each: `file` is the position of the file in
the analysis's files, `row` the record's position in its file, `statuses` the guess statuses
after the token limit, `tokens` the mean assistant tokens (NaN: not counted)."""
SAVED = "column."
"""What the saved names of the columns begin with (`file` is also `numpy.savez`'s argument)."""


@dataclass
class Choices:
    files: list[dict[str, Any]]
    """What the choices were made of, in order: each file's resolved path and identity."""
    arrays: dict[str, np.ndarray]
    skipped: int = 0
    """Records without a puzzle id among those files."""
    skipped_names: list[str] = field(default_factory=list)
    """The first few of them, as `NAME:RECORD`."""

    @classmethod
    def none(cls) -> Choices:
        """No earlier choices: every file is new."""
        return cls([], {name: np.zeros(0, dtype) for name, dtype in COLUMNS.items()})


def describe(paths: Sequence[Path]) -> list[dict[str, Any]]:
    return [{"path": str(p.resolve()), "identity": identity(p)} for p in paths]


def cache_file(directory: Path, settings: dict[str, Any]) -> Path:
    """One file per analysis settings (kind, token limit, counter), so that analyses with other
    settings over the same directory do not replace each other's."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return directory / f"choices.{digest}.npz"


def load(file: Path, files: list[dict[str, Any]], settings: dict[str, Any]) -> Choices | None:
    """The saved choices when they were made with `settings` of a leading run of `files` (the
    same paths and identities, in the same order); else None."""
    try:
        with np.load(file, allow_pickle=False) as saved:
            header = json.loads(saved["header"].tobytes())
            made_of = header.get("files", [])
            if (header.get("format") != FORMAT or header.get("settings") != settings
                    or made_of != files[:len(made_of)]):
                return None
            arrays = {name: saved[SAVED + name] for name in COLUMNS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # missing or unreadable: a cache, made again
    return Choices(made_of, arrays, header.get("skipped", 0), header.get("skipped_names", []))


def save(file: Path, choices: Choices, settings: dict[str, Any]) -> None:
    header = {"format": FORMAT, "settings": settings, "files": choices.files, "skipped": choices.skipped,
              "skipped_names": choices.skipped_names}
    # Not synced: a copy that a crash leaves torn fails to load and is made again.
    with atomic_write(file, binary=True, sync=False) as f:
        arrays: dict[str, Any] = {SAVED + name: column for name, column in choices.arrays.items()}
        np.savez(f, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
