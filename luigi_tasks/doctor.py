"""Luigi tasks over the doctor stage (harness.doctor.stage).

    luigi --module luigi_tasks.doctor DoctorRollouts --env code \
        --env-args '{"dataset": "mbpp", "path": "mbpp.jsonl", "max_turns": 2}' --backend vllm \
        --model Qwen/Qwen2.5-Coder-7B --samples-per-task 4 --verifier mbpp \
        --verifier-args '{"path": "mbpp.jsonl"}' --local-scheduler

generates the run, verifies it (luigi_tasks.rollouts: GenerateRollouts, VerifyRollouts) and
doctors it with the same backend and sampling: `data/doctored/{env},{verifier}-{digest}/`
(good.jsonl, doctored.jsonl, manifest.json). The verifier's latest verdict decides good or bad.

    luigi --module luigi_tasks.doctor DoctorFiles --episodes '["data/verified/run"]' --backend vllm ...

doctors episode files the user brings (`ImportedFile`: a directory stands for its `*.jsonl`
files, and changing one of them gives a new output directory).
"""

from __future__ import annotations

from typing import Any

import luigi

from harness.doctor.stage import DoctorConfig, doctor_files
from harness.episode_files import episode_files
from harness.options import luigi_parameters, settings_of
from harness.verify import VerifyConfig
from luigi_tasks.rollouts import RolloutParameters, VerifyParameters, VerifyRollouts, rollout_parameters
from luigi_tasks.stage import ImportedFile, StageTask

SHARED = {s.name for s in settings_of(VerifyConfig)} | set(RolloutParameters.__dict__)
"""Doctor settings the run and its verification already have: one parameter each (the run's
backend and sampling continue its episodes; its verifier decides what is good)."""


class DoctorRollouts(VerifyParameters, RolloutParameters,  # type: ignore[misc, valid-type]
                     luigi_parameters(DoctorConfig, exclude=SHARED), StageTask):
    """A run, its verdicts, then the bad episodes cut back, replayed and continued."""

    stage = "doctored"
    config_class = DoctorConfig

    def requires(self) -> VerifyRollouts:
        verify = {s.name: getattr(self, s.name) for s in settings_of(VerifyConfig)}
        return VerifyRollouts(**rollout_parameters(self), **verify)

    def slug_parts(self) -> list[object]:
        return [self.env, self.verifier]

    def run(self) -> None:
        self.progress(0, None, "doctoring")
        report = doctor_files(episode_files([self.requires().output_dir()]), self.output_dir(), self.config(),
                              progress=False)
        self.progress(1, 1, report.summary())


class DoctorFiles(luigi_parameters(DoctorConfig), StageTask):  # type: ignore[misc]
    """Episode files the user brings, doctored."""

    stage = "doctored"
    config_class = DoctorConfig
    episodes = luigi.ListParameter(description="Episode files, or directories of them (JSON list).")

    def requires(self) -> list[ImportedFile]:
        return [ImportedFile(path=str(p)) for p in episode_files(self.episodes)]

    def slug_parts(self) -> list[object]:
        return [self.backend, self.model]

    def run(self) -> None:
        self.progress(0, None, "doctoring")
        paths: list[Any] = [t.path for t in self.requires()]
        report = doctor_files(paths, self.output_dir(), self.config(), progress=False)
        self.progress(1, 1, report.summary())
