"""The run directory's own files, beside its shards (harness.engine.shard):

    out/settings.json   the content settings of the run: written by its first writer, checked by
                        every later one, whichever shard it writes
    out/manifest.json   every shard's file and counts, and the run's totals
    out/run.lock        held while either of them is read or written (a moment)

The settings file makes the directory one run: a rerun with another `--shards`, other
sampling or other backend content arguments is refused before it writes anything, even when it
writes a shard that does not exist yet (shards of one run are written by many processes).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write, leftovers
from harness.engine.config import check_same_settings
from harness.engine.lock import Lock

SETTINGS = "settings.json"
MANIFEST = "manifest.json"
LOCK = "run.lock"


def check_run_settings(out_dir: str | os.PathLike[str], settings: dict[str, Any], *, record: bool) -> None:
    """Refuse (`ConfigMismatch`) a directory whose episodes were generated with other settings.
    With `record`, a directory without settings gets `settings` as its own: a writer records
    them once it is about to generate (its environment, backend and plan are ready), so a run
    that fails before that (an unknown task, a model that does not load) binds no one."""
    out = Path(out_dir)
    path = out / SETTINGS
    if not (record or path.exists() or out.exists()):
        return
    out.mkdir(parents=True, exist_ok=True)
    with Lock(out / LOCK, what="the run's settings"):
        if path.exists():
            check_same_settings(path, json.loads(path.read_text(encoding="utf-8")), settings, out)
            return
        # a directory written before settings.json existed: its shards say how they were made
        for manifest in sorted(out.glob("shard-*-of-*.manifest.json")):
            before = json.loads(manifest.read_text(encoding="utf-8")).get("settings", {})
            check_same_settings(manifest, before, settings, out)
        for run_file in sorted(out.glob("shard-*-of-*.chunks/run.json")):
            check_same_settings(run_file, json.loads(run_file.read_text(encoding="utf-8")), settings, out)
        if record:
            _remove(leftovers(path))
            with atomic_write(path) as f:  # ASCII: settings may hold any string exactly
                json.dump(settings, f, indent=2, sort_keys=True)
                f.write("\n")


def write_run_manifest(out_dir: str | os.PathLike[str], manifests: list[dict[str, Any]]) -> Path:
    """`out_dir/manifest.json`: every shard's file and counts, and the run's totals."""
    out = Path(out_dir)
    path = out / MANIFEST
    totals: Counter[str] = Counter()
    for m in manifests:
        for key, value in m["counts"].items():
            if isinstance(value, int):
                totals[key] += value
    with Lock(out / LOCK, what="the run's manifest"):
        _remove(leftovers(path))
        with atomic_write(path) as f:
            json.dump({"shards": [{"path": m["shard"]["path"], **m["counts"]} for m in manifests],
                       "totals": dict(totals)}, f, indent=2, sort_keys=True)
            f.write("\n")
    return path


def _remove(paths: list[str]) -> None:
    for leftover in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leftover)
