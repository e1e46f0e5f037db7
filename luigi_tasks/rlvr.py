"""Luigi tasks of RLVR (seed 003): the datasets, RAFT cycles as a graph, pass@k across checkpoints.

    luigi --module luigi_tasks.rlvr RaftPipeline --config-file configs/validation_run.yaml --local-scheduler
    luigi --module luigi_tasks.rlvr RaftCycles --problems data/rlvr/mbpp_train_full.jsonl --cycles 3 \\
        --local-scheduler
    luigi --module luigi_tasks.rlvr PassAtKAcrossCheckpoints --config-file configs/validation_run.yaml \\
        --raft-settings '{"cycles": 2}' --local-scheduler

Every parameter is a setting of `PrepareConfig`, `RaftConfig` or `PassAtKConfig` under the name
`harness rlvr prepare`, `harness raft` and `harness rlvr passk` give it; `--config-file FILE`
reads a YAML run configuration (harness.rlvr.config_files), a parameter given on the command line
winning over the file (a value equal to the default counts as not given).

RAFT is one task per stage per cycle: `RaftSamples(cycle)` requires `RaftTrain(cycle - 1)`, then
`RaftVerify`, `RaftKeep`, `RaftTrain`; `RaftCycles` requires the last cycle's `RaftTrain` and
writes the stats. They share one run directory `{data_dir}/raft/{dataset},{model}-{hash}/`
(harness.rlvr.raft's layout: what `harness raft -o DIR` writes), the hash covering every setting
that decides the content and the problem files' bytes; `cycles` is not part of it, so asking
for more cycles continues the run. Each target is its stage's file written last.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import luigi
from luigi.freezing import recursively_unfreeze

from harness.atomic import atomic_write
from harness.options import content_settings, from_luigi, luigi_parameters, settings_digest, settings_of
from harness.rlvr.checkpoints import PassAtKConfig, pass_at_k_across, raft_checkpoints
from harness.rlvr.config_files import file_overrides, read_config_file, section_values
from harness.rlvr.prepare import PrepareConfig, prepare_config
from harness.rlvr.raft import RaftConfig, RaftRun, file_digest
from luigi_tasks.stage import StageTask, slug

CONFIG_FILE_HELP = "A YAML run configuration (configs/*.yaml); a parameter given here wins over it."


def config_from_task(cls: type, task: luigi.Task, section: str) -> Any:
    """`cls` from a task's parameters, the configuration file's section filling in those left at
    their defaults."""
    given = {s.name: recursively_unfreeze(getattr(task, s.name)) != s.default
             for s in settings_of(cls) if hasattr(task, s.name)}
    return from_luigi(cls, task, **file_overrides(cls, section_values(task.config_file, section), given))


class PrepareRLVR(luigi_parameters(PrepareConfig), luigi.Task):  # type: ignore[misc]
    """`harness rlvr prepare` as a task; complete when dataset_summary.json exists (written last)."""

    output_dir = luigi.OptionalParameter(default=None, description="Where the files go; none: the "
                                         "configuration file's prepare.output, else data/rlvr.")
    config_file = luigi.OptionalParameter(default=None, description=CONFIG_FILE_HELP)

    def directory(self) -> Path:
        return Path(self.output_dir or section_values(self.config_file, "prepare").get("output") or "data/rlvr")

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(self.directory() / "dataset_summary.json"))

    def run(self) -> None:
        summary = prepare_config(config_from_task(PrepareConfig, self, "prepare"), self.directory())
        self.set_status_message(f"prepared {', '.join(k for k in ('humaneval', 'mbpp') if k in summary)} "
                                f"-> {self.directory()}")


# -- RAFT --------------------------------------------------------------------------------------


class _RaftTask(luigi_parameters(RaftConfig), StageTask):  # type: ignore[misc]
    """What the tasks of one RAFT run share: the settings, the run directory."""

    stage = "raft"
    config_class = RaftConfig
    config_file = luigi.OptionalParameter(default=None, significant=False, description=CONFIG_FILE_HELP)

    def config(self) -> RaftConfig:
        cached = self.__dict__.get("_config")
        if cached is None:
            cached = self.__dict__["_config"] = config_from_task(RaftConfig, self, "raft")
        return cached

    def slug_parts(self) -> list[object]:
        config = self.config()
        return [config.dataset, config.model]

    def raft_run(self) -> RaftRun:
        cached = self.__dict__.get("_run")
        if cached is None:
            probe = RaftRun(".", self.config())
            directory = Path(self.data_dir) / "raft" / f"{slug(*self.slug_parts())}-{probe.digest()}"
            cached = self.__dict__["_run"] = RaftRun(directory, self.config())
        return cached

    def content(self) -> dict[str, Any]:
        return {"run": self.raft_run().digest()}

    def upstream_digests(self) -> list[str]:
        return []  # the run's digest covers the cycles before: they are parts of this run


class _CycleTask(_RaftTask):
    cycle = luigi.IntParameter(description="Which RAFT cycle (1-based).")

    def id_parts(self) -> list[object]:
        return [*self.slug_parts(), f"cycle-{self.cycle}"]

    def content(self) -> dict[str, Any]:
        return {**super().content(), "cycle": self.cycle}

    def target(self) -> Path:
        raise NotImplementedError

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(self.target()))


class RaftSamples(_CycleTask):
    """Cycle N's samples: a rollout run of the code environment with cycle N-1's adapter."""

    @property
    def resources(self) -> dict[str, int]:
        return {"gpu": 1} if self.backend == "vllm" else {}

    def requires(self) -> list[luigi.Task]:
        return [self.clone(RaftTrain, cycle=self.cycle - 1)] if self.cycle > 1 else []

    def target(self) -> Path:
        return self.raft_run().samples_dir(self.cycle) / "manifest.json"

    def run(self) -> None:
        run = self.raft_run()
        run.check_settings()
        self.set_status_message(f"cycle {self.cycle}: sampling")
        run.generate(self.cycle, progress=False)
        self.set_status_message(f"cycle {self.cycle}: samples -> {run.samples_dir(self.cycle)}")


class RaftVerify(_CycleTask):
    """Cycle N's samples with the verifier's verdicts (the verify stage)."""

    def requires(self) -> RaftSamples:
        return self.clone(RaftSamples)

    def target(self) -> Path:
        return self.raft_run().verified_dir(self.cycle) / "manifest.json"

    def run(self) -> None:
        run = self.raft_run()
        run.verify(self.cycle, progress=False)
        report = json.loads(self.target().read_text())["report"]
        self.set_status_message(f"cycle {self.cycle}: {report['passed']} pass, {report['failed']} fail, "
                                f"{report['no_verdict']} no verdict")


class RaftKeep(_CycleTask):
    """The samples cycle N trains on (the keep policy), as prompt/completion rows."""

    def requires(self) -> RaftVerify:
        return self.clone(RaftVerify)

    def target(self) -> Path:
        return self.raft_run().kept_dir(self.cycle) / "manifest.json"

    def run(self) -> None:
        self.raft_run().keep(self.cycle)
        report = json.loads(self.target().read_text())["report"]
        self.set_status_message(f"cycle {self.cycle}: kept {report['kept']} of {report['samples']}")


class RaftTrain(_CycleTask):
    """Cycle N's LoRA epoch from cycle N-1's adapter; its target is the cycle's record
    (cycle.json: the adapter the next cycle starts from, the cycle's stats)."""

    @property
    def resources(self) -> dict[str, int]:
        return {"gpu": 1} if self.backend == "vllm" else {}  # the node's GPU: not two at once

    def requires(self) -> RaftKeep:
        return self.clone(RaftKeep)

    def target(self) -> Path:
        return self.raft_run().cycle_record(self.cycle)

    def run(self) -> None:
        run = self.raft_run()
        run.train(self.cycle, progress=False, on_progress=self.progress)
        stats = run.cycle_stats(self.cycle)
        self.set_status_message(f"cycle {self.cycle}: {stats['train_steps']} steps, loss "
                                f"{stats['first_loss']} -> {stats['last_loss']}")


class RaftCycles(_RaftTask):
    """Cycles 1..N, then stats.json and stats.md of the run (complete when they cover N cycles)."""

    def wanted(self) -> int:
        """N: the `cycles` parameter, or the configuration file's."""
        return self.config().cycles

    def requires(self) -> RaftTrain:
        return self.clone(RaftTrain, cycle=self.wanted())

    def id_parts(self) -> list[object]:
        return [*self.slug_parts(), f"{self.wanted()}-cycles"]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(self.raft_run().out / "stats.json"))

    def complete(self) -> bool:
        path = Path(self.output().path)
        if not path.exists():
            return False
        return len(json.loads(path.read_text(encoding="utf-8"))["cycles"]) >= self.wanted()

    def run(self) -> None:
        report = self.raft_run().write_stats(self.wanted())
        self.set_status_message(report.summary())


# -- pass@k ------------------------------------------------------------------------------------


class _PassAtKTask(luigi_parameters(PassAtKConfig), StageTask):  # type: ignore[misc]
    stage = "passk"
    config_class = PassAtKConfig
    config_file = luigi.OptionalParameter(default=None, significant=False, description=CONFIG_FILE_HELP)

    def config(self) -> PassAtKConfig:
        cached = self.__dict__.get("_config")
        if cached is None:
            cached = self.__dict__["_config"] = config_from_task(PassAtKConfig, self, "passk")
        return cached

    def content(self) -> dict[str, Any]:
        config = self.config()
        return {**content_settings(config), "problems_sha256": file_digest(config.problems)}

    def slug_parts(self) -> list[object]:
        config = self.config()
        return [config.dataset, config.model]

    def measure(self, checkpoints: list[Any]) -> None:
        report = pass_at_k_across(checkpoints, self.output_dir(), self.config(), progress=False,
                                  say=self.set_status_message)
        self.set_status_message(", ".join(f"{c['label']} {c['pass_at_k']}" for c in report["checkpoints"]))


class PassAtK(_PassAtKTask):
    """pass@k of the base model and the given checkpoints: passk.json, passk.md, passk.png."""

    checkpoints = luigi.DictParameter(default={}, description='{"label": "adapter directory or model"}, '
                                      "measured after the base model.")

    def content(self) -> dict[str, Any]:
        return {**super().content(), "checkpoints": recursively_unfreeze(self.checkpoints)}

    def run(self) -> None:
        extra = list(recursively_unfreeze(self.checkpoints).items())
        self.measure(raft_checkpoints(None, self.config(), extra))


class PassAtKAcrossCheckpoints(_PassAtKTask):
    """pass@k of a RAFT run's checkpoints: the base model, the SFT adapter if any, each cycle."""

    raft_settings = luigi.DictParameter(default={}, description="Settings of the RAFT run (RaftCycles' "
                                        'parameters, e.g. {"cycles": 2}), winning over the configuration file.')

    def requires(self) -> RaftCycles:
        return RaftCycles(config_file=self.config_file, data_dir=self.data_dir,
                          **recursively_unfreeze(self.raft_settings))

    def content(self) -> dict[str, Any]:
        cycles = self.requires()
        return {**super().content(), "raft_run": cycles.raft_run().digest(), "cycles": cycles.wanted()}

    def upstream_digests(self) -> list[str]:
        return []  # the RAFT run is in the content (its digest and cycles)

    def slug_parts(self) -> list[object]:
        cycles = self.requires()
        return [self.config().dataset, cycles.config().model, f"{cycles.wanted()}-cycles"]

    def run(self) -> None:
        cycles = self.requires()
        checkpoints = [c for c in raft_checkpoints(cycles.raft_run().out, self.config())
                       if not c.label.startswith("cycle-") or int(c.label.split("-")[1]) <= cycles.wanted()]
        self.measure(checkpoints)


class RaftPipeline(luigi.Task):
    """Seed 003 end to end from one configuration file: the datasets (PrepareRLVR), the RAFT
    cycles (RaftCycles), pass@k across the checkpoints (PassAtKAcrossCheckpoints). Its target,
    `{data_dir}/pipelines/raft-{hash}.json`, says where each part went."""

    config_file = luigi.Parameter(description="The YAML run configuration (configs/validation_run.yaml).")
    data_dir = luigi.Parameter(default="data", significant=False, description="Root of the stages' outputs.")
    prepare_settings = luigi.DictParameter(default={}, description="PrepareRLVR's parameters, over the file's.")
    raft_settings = luigi.DictParameter(default={}, description="RaftCycles' parameters, over the file's.")
    passk_settings = luigi.DictParameter(default={},
                                         description="PassAtKAcrossCheckpoints' parameters, over the file's.")

    def output(self) -> luigi.LocalTarget:
        read_config_file(self.config_file)  # a bad file fails here, naming its line
        digest = settings_digest({"config": file_digest(self.config_file),
                                  **{k: recursively_unfreeze(getattr(self, k))
                                     for k in ("prepare_settings", "raft_settings", "passk_settings")}})
        return luigi.LocalTarget(str(Path(self.data_dir) / "pipelines" / f"raft-{digest}.json"))

    def run(self) -> Any:
        # Dynamic dependencies: the RAFT and pass@k tasks hash the problem files' bytes, which
        # exist once the datasets are prepared.
        prepared = PrepareRLVR(config_file=self.config_file, **recursively_unfreeze(self.prepare_settings))
        yield prepared
        raft_settings = recursively_unfreeze(self.raft_settings)
        cycles = RaftCycles(config_file=self.config_file, data_dir=self.data_dir, **raft_settings)
        yield cycles
        passk = PassAtKAcrossCheckpoints(config_file=self.config_file, data_dir=self.data_dir,
                                         raft_settings=raft_settings, **recursively_unfreeze(self.passk_settings))
        yield passk
        summary = {"datasets": str(prepared.directory()), "raft": str(cycles.raft_run().out),
                   "stats": str(cycles.raft_run().out / "stats.md"), "passk": str(passk.output_dir()),
                   "chart": str(passk.output_dir() / "passk.png")}
        with atomic_write(self.output().path) as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
        self.set_status_message(f"RAFT {cycles.wanted()} cycles -> {summary['raft']}; pass@k -> {summary['chart']}")
