"""Which files hold a stage's episodes: the files a user names, and the shards of run directories."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def episode_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given, and for a directory its `*.jsonl` files in name order (the shards of a
    rollout run or a stage's output; hidden and temporary files left out). A directory without
    any is an error naming it."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.jsonl") if not p.name.startswith("."))
            if not found:
                raise ValueError(f"{path}: a directory without episode files (*.jsonl)")
            out.extend(found)
        else:
            out.append(path)
    return out
