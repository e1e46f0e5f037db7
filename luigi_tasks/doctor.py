"""Luigi task over the doctor stage (harness.doctor.stage):

    luigi --module luigi_tasks.doctor DoctorRollouts --episodes '["data/verified/run"]' \
        --backend vllm --model Qwen/Qwen2.5-7B-Instruct --local-scheduler

writes `data/doctored/{backend,model}-{digest}/` (good.jsonl, doctored.jsonl, manifest.json).
The episodes are files the user brings (`ImportedFile`): a directory stands for its `*.jsonl`
files, and changing one of them gives a new output directory.
"""

from __future__ import annotations

import luigi

from harness.doctor.stage import DoctorConfig, doctor_files
from harness.episode_files import episode_files
from harness.options import luigi_parameters
from luigi_tasks.stage import ImportedFile, StageTask


class DoctorRollouts(luigi_parameters(DoctorConfig), StageTask):  # type: ignore[misc]
    """Best episode per task; the bad ones cut back, replayed and continued."""

    stage = "doctored"
    config_class = DoctorConfig
    episodes = luigi.ListParameter(description="Episode files, or directories of them (JSON list).")

    def requires(self) -> list[ImportedFile]:
        return [ImportedFile(path=str(p)) for p in episode_files(self.episodes)]

    def slug_parts(self) -> list[object]:
        return [self.backend, self.model]

    def run(self) -> None:
        self.progress(0, None, "doctoring")
        report = doctor_files([t.path for t in self.requires()], self.output_dir(), self.config(), progress=False)
        self.progress(1, 1, report.summary())
