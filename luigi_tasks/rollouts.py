"""Luigi tasks over the rollout engine and the verify stage: a run made of shards that worker
nodes split between them, and the verdicts on its episodes.

    luigi --module luigi_tasks.rollouts GenerateRollouts --env connections --limit 4 --local-scheduler
    luigi --module luigi_tasks.rollouts VerifyRollouts --env code --backend vllm \
        --model Qwen/Qwen2.5-Coder-7B --samples-per-task 8 --num-shards 16 --verifier humaneval

Every parameter is a setting of `harness.engine.RolloutConfig` (and, for verification,
`harness.verify.VerifyConfig`), under the same name as on `harness rollouts generate`. The run
is written to `{data_dir}/rollouts/{env},{model}-{hash}/` and its verdicts to
`{data_dir}/verified/{env},{verifier}-{hash}/`, the hash covering every setting that decides the
content (and, for verification, the run it reads): other settings never reuse a stale output.

Against one central `luigid`, every node running the same command takes shards no other node
holds. vLLM shards need one `gpu` resource per GPU of their engine (tensor_parallel_size)
(Luigi counts resources in the scheduler: declare `[resources] gpu=N` in luigid's luigi.cfg,
or the node's with --local-scheduler). Each shard
resumes where a killed run left it (see harness.engine.shard). See docs/scale.md.

While a shard generates, its task status in the scheduler (the visualiser) says where it stands
— episodes done of the shard's, turns, tokens/s, episodes/s, failures — and its progress bar
shows the share of episodes done; when it ends, the status is the shard's summary, and the run's
task's status the run's (counts, and the directory they are in).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, ClassVar

import luigi

from harness import plugins
from harness.engine import RolloutConfig, generate_shard
from harness.engine.config import content_settings
from harness.engine.directory import write_run_manifest
from harness.engine.progress import ShardProgress, run_summary, shard_summary
from harness.engine.shard import ShardStore
from harness.episode_files import episode_files
from harness.options import luigi_parameters, settings_of
from harness.verify import VerifyConfig, verify_files
from luigi_tasks.stage import StageTask

log = logging.getLogger("luigi-interface")  # the logger the luigi command shows

RolloutParameters = luigi_parameters(RolloutConfig)
VerifyParameters = luigi_parameters(VerifyConfig)


class RolloutStage(RolloutParameters, StageTask):  # type: ignore[misc, valid-type]
    """What a run and its shards share: the settings, and so the output directory."""

    stage = "rollouts"
    config_class = RolloutConfig

    def slug_parts(self) -> list[object]:
        return [self.env, self.model or self.backend]

    def content(self) -> dict[str, Any]:
        config = self.config()
        return content_settings(config, plugins.get("backend", config.backend))

    def rollout_parameters(self) -> dict[str, Any]:
        return rollout_parameters(self)


def rollout_parameters(task: luigi.Task) -> dict[str, Any]:
    """The rollout settings of `task` (and its data_dir), to build the run it stands on."""
    return {s.name: getattr(task, s.name) for s in settings_of(RolloutConfig)} | {"data_dir": task.data_dir}


class GenerateRolloutShard(RolloutStage):
    """One shard: its JSONL file and manifest (written last, atomically: the target)."""

    shard_index = luigi.IntParameter(description="Which shard of the run (0-based).")

    status_every: ClassVar[float] = 1.0
    """Seconds between progress messages to the scheduler (each one is a request to luigid)."""

    def id_parts(self) -> list[object]:
        return [*self.slug_parts(), f"shard-{self.shard_index}"]

    @property
    def resources(self) -> dict[str, int]:
        if self.backend != "vllm":
            return {}
        # one engine spans tensor_parallel_size GPUs: the scheduler must count all of them
        return {"gpu": int(self.backend_args.get("tensor_parallel_size", 1))}

    def output(self) -> luigi.LocalTarget:
        store = ShardStore(self.output_dir(), self.shard_index, self.num_shards)
        return luigi.LocalTarget(str(store.manifest_path))

    def run(self) -> None:
        manifest = generate_shard(self.config(), self.output_dir(), self.shard_index,
                                  on_progress=SchedulerStatus(self, self.status_every))
        summary = shard_summary(manifest, self.output_dir().absolute())  # seen from other nodes
        self.set_status_message(summary)
        self.set_progress_percentage(100)
        log.info("%s: %s", self.task_id, summary)


class SchedulerStatus:
    """The engine's progress callback for a shard task: the latest `ShardProgress` as the task's
    status message and progress percentage, sent at most every `every` seconds (and whenever
    the shard's last episode is done)."""

    def __init__(self, task: StageTask, every: float) -> None:
        self.task = task
        self.every = every
        self.sent: float | None = None

    def __call__(self, progress: ShardProgress) -> None:
        now = time.monotonic()
        finished = progress.episodes == progress.total
        if self.sent is not None and now - self.sent < self.every and not finished:
            return
        self.sent = now
        self.task.set_status_message(progress.line())
        self.task.set_progress_percentage(round(progress.percentage, 1))


class GenerateRollouts(RolloutStage):
    """Every shard of a run, then `manifest.json` with each shard's counts and the totals."""

    def requires(self) -> list[GenerateRolloutShard]:
        return [GenerateRolloutShard(shard_index=i, **self.rollout_parameters())
                for i in range(self.num_shards)]

    def upstream_digests(self) -> list[str]:
        return []  # the shards are parts of this run, not stages it reads

    def run(self) -> None:
        manifests = []
        for target in self.input():
            with target.open("r") as f:
                manifests.append(json.load(f))
        write_run_manifest(self.output_dir(), manifests)
        summary = run_summary(manifests, self.output_dir().absolute())
        self.set_status_message(summary)
        self.set_progress_percentage(100)
        log.info("%s: %s", self.task_id, summary)


class VerifyRollouts(VerifyParameters, RolloutParameters, StageTask):  # type: ignore[misc, valid-type]
    """The run's episodes with a verdict of `verifier` appended to each (harness.verify)."""

    stage = "verified"
    config_class = VerifyConfig

    def requires(self) -> GenerateRollouts:
        return GenerateRollouts(**rollout_parameters(self))

    def slug_parts(self) -> list[object]:
        return [self.env, self.verifier]

    def content(self) -> dict[str, Any]:
        # The verifier's version names its rules: a new one re-verifies (the run stays done).
        return {**super().content(), "verifier_version": plugins.get("verifier", self.verifier).version}

    def run(self) -> None:
        report = verify_files(episode_files([self.requires().output_dir()]), self.output_dir(),
                              self.config(), progress=False)
        self.set_status_message(report.summary())
