"""The training log: one JSON object per line, appended and flushed as the Trainer logs.

    {"step": 12, "epoch": 0.5, "loss": 1.83, "learning_rate": 9.1e-05, "grad_norm": 0.7,
     "num_tokens": 3072.0, "mean_token_accuracy": 0.61, "time": 41.2}

Validation lines carry `eval_loss` instead of `loss`. `time` is seconds since the run (or its
resumption) started. A resumed run first drops the lines after its checkpoint's step, so the log
of a run killed and resumed reads as the log of one uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write

__all__ = ["log_callback", "read_log", "trim_log"]


def read_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The log's entries; a torn last line (a kill mid-write) is left out."""
    entries = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(entry, dict):
                    entries.append(entry)
    except FileNotFoundError:
        pass
    return entries


def trim_log(path: str | os.PathLike[str], step: int) -> None:
    """Keep the entries up to `step` (all of them when resuming from scratch means step 0)."""
    if not os.path.exists(path):
        return
    kept = [e for e in read_log(path) if isinstance(e.get("step"), int) and e["step"] <= step]
    with atomic_write(path) as f:
        for entry in kept:
            f.write(json.dumps(entry) + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def log_callback(path: str | os.PathLike[str]) -> Any:
    """A `transformers.TrainerCallback` appending each log event to `path` (main process only)."""
    from transformers import TrainerCallback

    class TrainingLog(TrainerCallback):
        def __init__(self) -> None:
            self.path = Path(path)
            self.start = time.monotonic()

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
        ) -> None:
            if not state.is_world_process_zero or not logs:
                return
            entry = {"step": state.global_step, **{k: _plain(v) for k, v in logs.items()},
                     "time": round(time.monotonic() - self.start, 3)}
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
                f.flush()

    return TrainingLog()
