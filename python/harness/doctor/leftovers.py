"""What a killed writer left in the doctoring's own directories: the temporary files of atomic
writes that never finished (`.NAME.xxxxxxxx.tmp`, harness.atomic). Only a process holding the
directory's lock may remove them, since it knows no other write is under way."""

from __future__ import annotations

import os
import re
from pathlib import Path

_TEMPORARY = re.compile(r"\..+\.[0-9a-z_]{8}\.tmp")


def remove_leftovers(*directories: str | os.PathLike[str]) -> int:
    """Remove the unfinished atomic writes in `directories` (not below them); how many."""
    removed = 0
    for directory in map(Path, directories):
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            if _TEMPORARY.fullmatch(path.name) and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
    return removed
