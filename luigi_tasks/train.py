"""Luigi tasks of training: one SFT run, and seed 002's three progressive phases as a graph.

    luigi --module luigi_tasks.train TrainSFT --inputs '["data/train.parquet"]' --max-steps 200 \
        --local-scheduler
    luigi --module luigi_tasks.train TrainSummaryPrefixPhase --multiturn mt.parquet \
        --summary-only summary_only_train.parquet --summary-prefix summary_prefix_train.parquet \
        --overrides '{"max_steps": 50}' --local-scheduler

Each task is a thin layer over `harness.train.train`; its output is the run directory
`{data_dir}/train/{slug}-{digest}` (content-addressed: luigi_tasks.stage) and its target the run's
manifest.json, written last. A task killed mid-run resumes from its latest checkpoint when run
again. `TrainSummaryPrefixPhase` requires `TrainSummaryOnlyPhase`, which requires
`TrainMultiturnPhase`: each phase starts from the latest checkpoint of the one before.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import luigi
from luigi.freezing import recursively_unfreeze

from harness.options import luigi_parameters
from harness.train.checkpoints import latest_checkpoint
from harness.train.config import TrainConfig
from harness.train.progressive import PHASES, phase_config
from harness.train.sft import TrainError, train
from luigi_tasks.stage import ImportedFile, StageTask


class TrainSFT(StageTask, luigi_parameters(TrainConfig)):
    """`harness train` on files the user brings (or an upstream stage wrote)."""

    stage = "train"
    config_class = TrainConfig
    inputs = luigi.ListParameter(description="Training files (JSONL, Parquet or a JSON array).")

    def requires(self) -> list[ImportedFile]:
        return [ImportedFile(path=p) for p in [*self.inputs, *self.validation]]

    def slug_parts(self) -> list[object]:
        return [self.model, self.method, Path(self.inputs[0]).stem if self.inputs else None]

    def run(self) -> None:
        report = train(list(self.inputs), self.output_dir(), self.config(), progress=False,
                       on_progress=lambda done, total, text: self.progress(done, total, text))
        self.set_status_message(report.summary())


class _ProgressivePhase(StageTask):
    """One phase of seed 002's progressive training (see harness.train.progressive)."""

    stage = "train"
    config_class = TrainConfig
    phase: ClassVar[int]

    multiturn = luigi.Parameter(description="Phase 1 data: seed-002 multi-turn rows.")
    summary_only = luigi.Parameter(description="Phase 2 data: the summary-only training file.")
    summary_prefix = luigi.Parameter(description="Phase 3 data: the summary-prefix training file.")
    summary_only_val = luigi.OptionalParameter(default=None, description="Phase 2 validation file.")
    summary_prefix_val = luigi.OptionalParameter(default=None, description="Phase 3 validation file.")
    overrides = luigi.DictParameter(default={}, description="TrainConfig settings for every phase, winning "
                                    "over the phase's epochs and learning rate, e.g. {\"max_steps\": 50}.")

    def _data(self) -> tuple[str, str | None]:
        return [(self.multiturn, None), (self.summary_only, self.summary_only_val),
                (self.summary_prefix, self.summary_prefix_val)][self.phase]

    def config(self) -> TrainConfig:
        # Without its start: the previous phase's digest (upstream) stands for it.
        return phase_config(self.phase, recursively_unfreeze(self.overrides), self._data()[1])

    def previous(self) -> _ProgressivePhase | None:
        if self.phase == 0:
            return None
        cls = _PHASE_TASKS[self.phase - 1]
        return cls(**{name: getattr(self, name) for name, _ in self.get_params()})

    def requires(self) -> list[Any]:
        data, validation = self._data()
        out: list[Any] = [ImportedFile(path=data)] + ([ImportedFile(path=validation)] if validation else [])
        previous = self.previous()
        return out + ([previous] if previous else [])

    def slug_parts(self) -> list[object]:
        return [PHASES[self.phase].name, self.config().model]

    def run(self) -> None:
        config = self.config()
        previous = self.previous()
        if previous is not None:
            checkpoint = latest_checkpoint(previous.output_dir() / "checkpoints")
            if checkpoint is None:
                raise TrainError(f"{previous.output_dir()} has no complete checkpoint to start from")
            config = (replace(config, model=str(checkpoint)) if config.method == "full"
                      else replace(config, init_adapter=str(checkpoint)))
        report = train([self._data()[0]], self.output_dir(), config, progress=False,
                       on_progress=lambda done, total, text: self.progress(done, total, text))
        self.set_status_message(report.summary())


class TrainMultiturnPhase(_ProgressivePhase):
    """Phase 1: multi-turn conversations, 10 epochs at lr 1e-5, from the base model."""

    phase = 0


class TrainSummaryOnlyPhase(_ProgressivePhase):
    """Phase 2: summary-only rows, 10 epochs at lr 1e-5, from phase 1's latest checkpoint."""

    phase = 1


class TrainSummaryPrefixPhase(_ProgressivePhase):
    """Phase 3: summary-prefix rows, 5 epochs at lr 5e-6, from phase 2's latest checkpoint."""

    phase = 2


_PHASE_TASKS = (TrainMultiturnPhase, TrainSummaryOnlyPhase, TrainSummaryPrefixPhase)
