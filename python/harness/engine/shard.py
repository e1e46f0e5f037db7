"""One shard on disk: episodes committed in atomic chunks while running, one JSONL file at the end.

Layout, for shard 2 of 4 in `out/`:

    out/shard-00002-of-00004.lock                     held by the shard's one writer
    out/shard-00002-of-00004.chunks/run.json          the configuration the chunks belong to
    out/shard-00002-of-00004.chunks/chunk-000001.jsonl  finished episodes, one file per commit
    out/shard-00002-of-00004.jsonl                    all episodes, once the shard is complete
    out/shard-00002-of-00004.manifest.json            provenance and counts, written last

One process at a time writes a shard: it holds the shard's lock (harness.engine.lock) from
before it looks at the shard until the shard is finished. Each chunk is written to a temporary
file, fsynced and renamed into place (`atomic_write`), so a kill -9 loses at most the episodes
not yet committed, and never leaves a truncated line. A rerun reads the episode ids of the
committed chunks and generates only the others. When every item is done the chunks are
concatenated into the shard file (atomically), the manifest is written (atomically), and only
then are the chunks removed: at every moment the shard can be rebuilt. What a kill left of a
write (temporary files, the chunks of a shard whose manifest is written) is removed by the next
writer of the shard, which holds the lock and so knows nobody else is writing them.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from harness import jsonl
from harness.atomic import atomic_write, leftovers
from harness.engine.config import ConfigMismatch, check_same_settings
from harness.engine.lock import Lock

__all__ = ["ConfigMismatch", "ShardStore"]


class ShardStore:
    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        shard_index: int,
        num_shards: int,
        *,
        chunk_size: int = 16,
        commit_every: float = 10.0,
    ) -> None:
        self.out_dir = Path(out_dir)
        stem = f"shard-{shard_index:05d}-of-{num_shards:05d}"
        self.path = self.out_dir / f"{stem}.jsonl"
        self.manifest_path = self.out_dir / f"{stem}.manifest.json"
        self.chunks_dir = self.out_dir / f"{stem}.chunks"
        self.lock = Lock(self.out_dir / f"{stem}.lock", what=self.path.name)
        self.chunk_size = chunk_size
        self.commit_every = commit_every
        self._buffer: list[str] = []
        self._last_commit = time.monotonic()
        self._next_chunk = 1
        self.committed = 0  # episodes committed by this process

    # -- state -------------------------------------------------------------------------------

    def finished_manifest(self, settings: dict[str, Any]) -> dict[str, Any] | None:
        """The manifest of the finished shard (None while unfinished), if made with `settings`.
        Call it holding the lock: it removes what a killed writer left of the shard."""
        self._remove_leftovers()
        if not (self.manifest_path.exists() and self.path.exists()):
            return None
        manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        check_same_settings(self.manifest_path, manifest.get("settings", {}), settings, self.path)
        if self.chunks_dir.exists():  # killed while removing them: the shard file holds them all
            shutil.rmtree(self.chunks_dir)
        return manifest

    def open(self, settings: dict[str, Any]) -> set[str]:
        """Prepare for writing (holding the lock); return the ids of the episodes already committed."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.chunks_dir.mkdir(exist_ok=True)
        for leftover in self.chunks_dir.glob(".*.tmp"):  # a commit that a kill interrupted
            leftover.unlink()
        run_file = self.chunks_dir / "run.json"
        if run_file.exists():
            before = json.loads(run_file.read_text(encoding="utf-8"))
            check_same_settings(run_file, before, settings, self.chunks_dir)
        else:
            with atomic_write(run_file) as f:
                json.dump(settings, f, indent=2, sort_keys=True)
        chunks = self.chunk_files()
        if chunks:
            self._next_chunk = int(chunks[-1].stem.split("-")[1]) + 1
            return {r["/episode_id"] for r in jsonl.read(chunks, fields=["/episode_id"])}
        return set()

    def chunk_files(self) -> list[Path]:
        return sorted(self.chunks_dir.glob("chunk-*.jsonl"))

    # -- writing -----------------------------------------------------------------------------

    def add(self, line: str) -> None:
        """Buffer one finished episode (a JSON line); commit when the chunk is full or old."""
        self._buffer.append(line)
        if len(self._buffer) >= self.chunk_size or time.monotonic() - self._last_commit >= self.commit_every:
            self.commit()

    def commit(self) -> None:
        if not self._buffer:
            return
        target = self.chunks_dir / f"chunk-{self._next_chunk:06d}.jsonl"
        with atomic_write(target) as f:
            f.write("\n".join(self._buffer) + "\n")
        self._next_chunk += 1
        self.committed += len(self._buffer)
        self._buffer = []
        self._last_commit = time.monotonic()

    def finish(self, manifest: dict[str, Any]) -> None:
        """Concatenate the chunks into the shard file, write the manifest, remove the chunks."""
        self.commit()
        with atomic_write(self.path, binary=True) as out:
            for chunk in self.chunk_files():
                with open(chunk, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        with atomic_write(self.manifest_path) as f:
            json.dump(manifest, f, indent=2, sort_keys=True)  # ASCII: settings may hold any string
            f.write("\n")
        shutil.rmtree(self.chunks_dir)

    def _remove_leftovers(self) -> None:
        """The temporary files of a shard file or manifest whose writer was killed."""
        for leftover in leftovers(self.path) + leftovers(self.manifest_path):
            os.unlink(leftover)
