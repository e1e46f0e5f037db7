"""The import stage: seed files → episode shards, one per input file, and a manifest.

    from harness.importers.run import ImportConfig, import_files
    report = import_files(["episodes.jsonl"], "data/imported", ImportConfig(importer="seed000"))
    # data/imported/episodes.jsonl (episodes), data/imported/manifest.json (written last)

Each input file gives the shard of the same name (`.jsonl`) in the output directory. Shards
are written beside their final names and renamed into place together once every input was
read, then `manifest.json` (the report, the settings and the inputs), so an import appears
complete or not at all; one process at a time writes a directory (a lock in it). The output is
the same for the same inputs (ids and timestamps derive from the files), so a rerun after a
crash gives the same files.

No silent zero: inputs without a record raise `NothingImported` unless `allow_empty`.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from harness.options import content_settings, setting

__all__ = ["ImportConfig", "ImportReport", "NothingImported", "episodes_of", "import_files"]

Seed = Literal["seed000", "seed001", "seed002"]


@dataclass(frozen=True)
class ImportConfig:
    """The settings of an import stage."""

    importer: Seed = setting(help="Which seed's files: seed000 (data-analysis episodes), seed001 "
                                  "(Connections results files) or seed002 (search traces).")
    lenient: bool = setting(
        False, help="Leave malformed lines out (counted) instead of stopping at the first; seed001: "
                    "also records without a puzzle id, as the seed's filter did.")
    allow_empty: bool = setting(
        False, content=False, help="Succeed when the inputs hold no record (empty shards are written).")


@dataclass
class ImportReport:
    """What an import read and wrote: `records` read, `episodes` written, `malformed` lines and
    (seed001) `skipped` records left out in lenient mode; for seed 000 also the lines holding
    bare `non_finite` numbers and `duplicate_keys` (read as Python's json reads them)."""

    seed: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    records: int = 0
    episodes: int = 0
    malformed: int = 0
    skipped: int = 0
    non_finite: int = 0
    duplicate_keys: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        notes = []
        if self.non_finite:
            notes.append(f"{self.non_finite} line(s) with bare NaN/Infinity kept")
        if self.duplicate_keys:
            notes.append(f"{self.duplicate_keys} line(s) with a duplicated key, last value kept")
        if self.malformed:
            notes.append(f"{self.malformed} malformed line(s) left out")
        if self.skipped:
            notes.append(f"{self.skipped} record(s) without a puzzle id left out")
        return (f"import {self.seed}: {len(self.inputs)} file(s), {self.records} records -> "
                f"{self.episodes} episodes" + (f" ({'; '.join(notes)})" if notes else ""))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class NothingImported(ValueError):
    """The inputs held no record to import."""


def _created_at(path: str) -> str:
    """The file's modification time: a timestamp that is the same on every import of it."""
    stamp = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def episodes_of(path: str | os.PathLike[str], seed: str, *, counts: Counter[str], lenient: bool = False) -> Any:
    """`(line, Episode)` for each record of one seed file (`harness.importers.<seed>.episodes`)."""
    from harness import __version__

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{seed} file not found: {path}")
    module = importlib.import_module(f"harness.importers.{seed}")
    return module.episodes(path, counts=counts, lenient=lenient, created_at=_created_at(path),
                           harness_version=__version__)


def import_files(
    inputs: list[str | os.PathLike[str]], out_dir: str | os.PathLike[str], config: ImportConfig
) -> ImportReport:
    """Import every input file into `out_dir` (see the module docstring)."""
    from harness.atomic import atomic_write, new_file_mode
    from harness.engine.lock import Lock
    from harness.episode_files import episode_files

    started = time.perf_counter()
    paths = episode_files(inputs)
    names = [p.with_suffix(".jsonl").name for p in paths]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"inputs share file names ({', '.join(duplicates)}): their shards would overwrite "
                         "each other; import them into separate directories")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = ImportReport(config.importer, inputs=[str(p) for p in paths])
    counts: Counter[str] = Counter()
    partials: list[tuple[Path, Path]] = []
    lock = Lock(out / "import.lock", what=f"the imported episodes in {out}")
    lock.acquire()
    try:
        for path, name in zip(paths, names):
            target, partial = out / name, out / f".{name}.partial"
            with open(partial, "w", encoding="utf-8", newline="\n") as sink:
                os.chmod(partial, new_file_mode())
                partials.append((partial, target))
                for _, episode in episodes_of(path, config.importer, counts=counts, lenient=config.lenient):
                    sink.write(episode.to_json_line() + "\n")
                    report.episodes += 1
                sink.flush()
                os.fsync(sink.fileno())
        for key in ("records", "malformed", "skipped", "non_finite", "duplicate_keys"):
            setattr(report, key, counts[key])
        if report.episodes == 0 and not config.allow_empty:
            raise NothingImported(f"no records to import in {', '.join(map(str, paths))}"
                                  + (f" ({report.malformed} malformed line(s) left out)" if report.malformed else "")
                                  + "; --allow-empty writes empty shards")
        for partial, target in partials:
            os.replace(partial, target)
            report.outputs.append(str(target))
        partials = []
        report.seconds = time.perf_counter() - started
        with atomic_write(out / "manifest.json") as f:
            json.dump({"report": report.to_dict(), "settings": content_settings(config)}, f,
                      indent=2, sort_keys=True)
            f.write("\n")
    finally:
        for partial, _ in partials:
            partial.unlink(missing_ok=True)
        lock.release()
    return report
