"""Seed 002's progressive training: three SFT phases, each starting from the previous one's
latest checkpoint.

    phase1_multiturn       multi-turn conversations      10 epochs, lr 1e-5   from the base model
    phase2_summary_only    summary -> reasoning/answer   10 epochs, lr 1e-5   from phase 1's latest checkpoint
    phase3_summary_prefix  context -> summary + answer    5 epochs, lr 5e-6   from phase 2's latest checkpoint

    plan = progressive_plan(PhaseFiles(multiturn=…, summary_only=…, summary_prefix=…), "runs/prog",
                            overrides={"max_steps": 50})
    print(plan_text(plan))          # what --dry-run prints
    reports = run_progressive(plan)

Each phase is an ordinary `harness train` run in `{output}/{phase}` (so it resumes on its own,
and a finished phase is not trained again). Overrides (any TrainConfig setting) apply to every
phase and win over the phase's own epochs and learning rate, as the seed's overrides did. With
LoRA, a phase continues the previous phase's adapter (`init_adapter` = its latest checkpoint);
with full fine-tuning, the previous phase's latest checkpoint is the phase's model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.train.checkpoints import latest_checkpoint
from harness.train.config import TrainConfig
from harness.train.sft import TrainError, TrainReport, train

__all__ = [
    "PHASES",
    "PhaseFiles",
    "PhaseRun",
    "phase_config",
    "plan_text",
    "progressive_plan",
    "run_progressive",
    "start_from",
]


@dataclass(frozen=True)
class _Phase:
    name: str
    data: str
    epochs: float
    learning_rate: float


PHASES = (
    _Phase("phase1_multiturn", "multiturn", 10, 1e-5),
    _Phase("phase2_summary_only", "summary_only", 10, 1e-5),
    _Phase("phase3_summary_prefix", "summary_prefix", 5, 5e-6),
)


@dataclass(frozen=True)
class PhaseFiles:
    multiturn: str
    summary_only: str
    summary_prefix: str
    summary_only_val: str | None = None
    summary_prefix_val: str | None = None


@dataclass(frozen=True)
class PhaseRun:
    name: str
    inputs: list[str]
    output: str
    config: TrainConfig
    """The phase's settings; `init_adapter` / `model` is filled in from the previous phase when it has run."""
    starts_from: str | None
    """The previous phase's run directory (None for phase 1)."""


def phase_config(index: int, overrides: Mapping[str, Any], validation: str | None) -> TrainConfig:
    phase = PHASES[index]
    settings: dict[str, Any] = {"epochs": phase.epochs, "learning_rate": phase.learning_rate}
    if validation:
        settings.update(validation=[validation], val_ratio=0.0)
    settings.update(overrides)
    return TrainConfig(**settings)


def progressive_plan(files: PhaseFiles, output: str | os.PathLike[str],
                     overrides: Mapping[str, Any] | None = None) -> list[PhaseRun]:
    overrides = dict(overrides or {})
    for key in ("init_adapter",):
        if key in overrides:
            raise ValueError(f"{key} is set by the progressive plan (each phase starts from the previous one)")
    data = {"multiturn": (files.multiturn, None), "summary_only": (files.summary_only, files.summary_only_val),
            "summary_prefix": (files.summary_prefix, files.summary_prefix_val)}
    plan, previous = [], None
    for index, phase in enumerate(PHASES):
        path, validation = data[phase.data]
        out = str(Path(output) / phase.name)
        plan.append(PhaseRun(phase.name, [os.fspath(path)], out, phase_config(index, overrides, validation), previous))
        previous = out
    return plan


def start_from(config: TrainConfig, previous: str | os.PathLike[str], name: str = "the phase") -> TrainConfig:
    """`config` starting from the latest checkpoint of the run directory `previous`: its
    adapter (LoRA) or its model (full fine-tuning)."""
    checkpoint = latest_checkpoint(Path(previous) / "checkpoints")
    if checkpoint is None:
        raise TrainError(f"{name} starts from {os.fspath(previous)}, which has no complete checkpoint")
    if config.method == "full":
        return replace(config, model=str(checkpoint))
    return replace(config, init_adapter=str(checkpoint))


def _start_of(run: PhaseRun) -> TrainConfig:
    """The phase's settings with its start filled in: the previous phase's latest checkpoint."""
    return run.config if run.starts_from is None else start_from(run.config, run.starts_from, run.name)


def plan_text(plan: list[PhaseRun]) -> str:
    """The plan as --dry-run prints it: one block per phase."""
    lines = []
    defaults = TrainConfig()
    for i, run in enumerate(plan, 1):
        changed = {k: v for k, v in vars(run.config).items() if getattr(defaults, k) != v}
        start = ("the base model " + run.config.model if run.starts_from is None
                 else f"the latest checkpoint of {run.starts_from}/checkpoints")
        lines.append(f"phase {i}: {run.name}")
        lines.append(f"  data:        {', '.join(run.inputs)}")
        lines.append(f"  starts from: {start}")
        lines.append(f"  output:      {run.output}")
        lines.append("  settings:    " + (", ".join(f"{k}={v!r}" for k, v in sorted(changed.items())) or "defaults"))
    return "\n".join(lines)


def run_progressive(plan: list[PhaseRun], *, tokenizer: Any = None, base_models: Any = None,
                    progress: bool = True) -> list[TrainReport]:
    """Run the phases in order (a finished phase returns its report at once). `base_models`, a
    callable giving a fresh loaded base model per phase, spares reloading it (tests)."""
    reports = []
    for run in plan:
        config = _start_of(run)
        reports.append(train(run.inputs, run.output, config, tokenizer=tokenizer,
                             base_model=base_models() if base_models else None, progress=progress))
    return reports
