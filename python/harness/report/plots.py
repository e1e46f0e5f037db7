"""The main job's plots as matplotlib figures (the viewer embeds them as PNGs): the reward
distribution of each stage, good and bad games per stage of the doctoring, the loss curve."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.report.figures import GameFigures


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, whatever display the machine has
    import matplotlib.pyplot as plt

    return plt


def reward_chart(stages: Sequence[GameFigures], bins: int = 10) -> Any:
    """One histogram of episode rewards (0 to 1) per stage, side by side."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist([list(s.rewards) for s in stages], bins=bins, range=(0.0, 1.0),
            label=[f"{s.label} (mean {s.mean_reward:.3f})" for s in stages])
    ax.set_xlabel("episode reward")
    ax.set_ylabel("episodes")
    ax.set_title("Reward distribution")
    ax.legend()
    fig.tight_layout()
    plt.close(fig)  # the figure stays usable; pyplot forgets it
    return fig


def good_bad_chart(rows: Sequence[tuple[str, int, int]]) -> Any:
    """Stacked bars of (label, good, bad) games: before and after each doctor loop."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = [r[0] for r in rows]
    good = [r[1] for r in rows]
    ax.bar(labels, good, color="#3a7d44", label="good (won)")
    ax.bar(labels, [r[2] for r in rows], bottom=good, color="#c8553d", label="bad")
    ax.set_ylabel("puzzles")
    ax.set_title("Good and bad games per loop")
    ax.legend(loc="upper left")
    fig.tight_layout()
    plt.close(fig)
    return fig


def loss_chart(log_path: str | os.PathLike[str]) -> Any:
    """Training loss per optimizer step from a training run's log.jsonl."""
    lines = Path(log_path).read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    points = [(e["step"], e["loss"]) for e in entries if isinstance(e.get("loss"), (int, float))]
    if not points:
        raise ValueError(f"{log_path}: no training loss logged")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(*zip(*points), marker=".")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss per token")
    ax.set_title("LoRA SFT on the oracle's games")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig
