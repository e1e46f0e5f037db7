"""PNG figures: a run's loss curve, and the evaluation analysis (matplotlib, no display needed)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from harness.atomic import atomic_write

__all__ = ["bar_chart", "loss_curve"]


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, whatever display the machine has
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: str | os.PathLike[str]) -> None:
    with atomic_write(path, binary=True) as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def loss_curve(entries: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], *, title: str = "") -> None:
    """Training loss per step (and validation loss, where logged) from the training log."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 4))
    train = [(e["step"], e["loss"]) for e in entries if isinstance(e.get("loss"), (int, float))]
    evals = [(e["step"], e["eval_loss"]) for e in entries if isinstance(e.get("eval_loss"), (int, float))]
    if train:
        ax.plot(*zip(*train), label="training loss")
    if evals:
        ax.plot(*zip(*evals), "o-", label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss per token")
    ax.set_title(title or "loss")
    ax.grid(alpha=0.3)
    ax.legend()
    _save(plt, fig, path)


def bar_chart(groups: Mapping[str, Mapping[str, float]], path: str | os.PathLike[str], *, title: str,
              ylabel: str) -> None:
    """One group of bars per key of `groups` (e.g. per evaluation task), one bar per metric."""
    plt = _figure()
    metrics = sorted({m for values in groups.values() for m in values})
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(metrics) * len(groups)), 4))
    width = 0.8 / max(1, len(groups))
    for i, (name, values) in enumerate(groups.items()):
        xs = [j + i * width for j in range(len(metrics))]
        ax.bar(xs, [values.get(m, 0.0) for m in metrics], width, label=name)
    ax.set_xticks([j + width * (len(groups) - 1) / 2 for j in range(len(metrics))])
    ax.set_xticklabels(metrics, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend()
    _save(plt, fig, path)
