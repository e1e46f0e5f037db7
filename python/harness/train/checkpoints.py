"""Checkpoints of a run and where a rerun resumes.

The Hugging Face Trainer writes `checkpoints/checkpoint-N/` every `save_steps` optimizer steps
and at the end: the weights (the adapter, or the whole model), the optimizer and scheduler
states, the RNG states of every generator, and `trainer_state.json` (the step, hence the data
position: a resumed run skips the batches already seen). `trainer_state.json` is written last,
so a checkpoint is complete when it parses and names its own step. A process killed while
writing a checkpoint leaves an incomplete one: a rerun removes it and resumes from the latest
complete checkpoint, and drops the log lines written after that step (they are written again).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

__all__ = ["CHECKPOINT", "checkpoint_step", "discard_incomplete", "is_complete", "latest_checkpoint"]

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin", "model.safetensors",
            "model.safetensors.index.json", "pytorch_model.bin")


def checkpoint_step(path: str | os.PathLike[str]) -> int | None:
    match = CHECKPOINT.match(Path(path).name)
    return int(match.group(1)) if match else None


def is_complete(path: str | os.PathLike[str]) -> bool:
    """Weights, optimizer state and a `trainer_state.json` that parses and names this step."""
    path = Path(path)
    step = checkpoint_step(path)
    if step is None or not (path / "optimizer.pt").is_file():
        return False
    if not any((path / name).is_file() for name in _WEIGHTS):
        return False
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and state.get("global_step") == step


def _numbered(directory: Path) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = [(checkpoint_step(p), p) for p in directory.iterdir() if p.is_dir()]
    return sorted((step, p) for step, p in found if step is not None)


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The complete checkpoint with the highest step under `directory`, or None."""
    for _, path in reversed(_numbered(Path(directory))):
        if is_complete(path):
            return path
    return None


def discard_incomplete(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove the checkpoints a killed run left half-written (only the run's lock holder may)."""
    removed = []
    for _, path in _numbered(Path(directory)):
        if not is_complete(path):
            shutil.rmtree(path)
            removed.append(path)
    return removed
