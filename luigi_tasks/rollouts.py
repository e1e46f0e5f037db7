"""Luigi tasks over the rollout engine: a run made of shards that worker nodes split between them.

    luigi --module luigi_tasks.rollouts GenerateRollouts --env connections --local-scheduler

runs the embedded SmolLM2-135M on the CPU with a demo size (4 tasks, 4 turns of at most 64
tokens) and writes `data/rollouts/connections/`. A real run names its size and backend:

    luigi --module luigi_tasks.rollouts GenerateRollouts --env connections --limit 0 \
        --backend vllm --model Qwen/Qwen2.5-7B-Instruct --samples-per-task 8 --num-shards 64 \
        --max-turns 10 --max-tokens 1024 --output-dir /shared/rollouts/c1

Against one central `luigid`, every node running that command takes shards no other node holds.
vLLM shards need one `gpu` resource each (declare `[resources] gpu=N` in the node's
luigi.cfg). Each shard resumes where a killed run left it (see harness.engine.shard).
"""

from __future__ import annotations

import json
import os
from typing import Any

import luigi
from luigi.freezing import recursively_unfreeze

from harness.engine import RolloutConfig, generate_shard
from harness.engine.run import write_run_manifest
from harness.engine.shard import ShardStore


class RolloutParameters:
    """The parameters a run and its shards share (a mixin: Luigi finds them on the tasks)."""

    env = luigi.Parameter(description="Environment plugin, e.g. connections.")
    env_args = luigi.DictParameter(default={}, description="Environment arguments (JSON object).")
    backend = luigi.Parameter(default="transformers", description="transformers, vllm, openai, scripted.")
    model = luigi.Parameter(default="", description="Model for the backend; empty: the backend's default.")
    backend_args = luigi.DictParameter(default={}, description="Backend arguments (JSON object).")
    split = luigi.Parameter(default="", description="Tasks of this split only; empty: all splits.")
    tasks = luigi.ListParameter(default=[], description="These task ids only; empty: all.")
    limit = luigi.IntParameter(default=4, description="The first N selected tasks; 0: no limit.")
    samples_per_task = luigi.IntParameter(default=1)
    temperature = luigi.FloatParameter(default=0.7)
    top_p = luigi.FloatParameter(default=1.0)
    top_k = luigi.IntParameter(default=-1)
    max_tokens = luigi.IntParameter(default=64, description="Per model turn.")
    stop = luigi.ListParameter(default=[])
    seed = luigi.IntParameter(default=0)
    max_turns = luigi.IntParameter(default=4, description="Cap on model turns per episode.")
    num_shards = luigi.IntParameter(default=1)
    output_dir = luigi.Parameter(default="", description="Default: data/rollouts/<env>.")
    concurrency = luigi.IntParameter(default=256, significant=False)
    chunk_size = luigi.IntParameter(default=16, significant=False)

    def config(self) -> RolloutConfig:
        return RolloutConfig(
            env=self.env,
            env_args=recursively_unfreeze(self.env_args),
            backend=self.backend,
            model=self.model or None,
            backend_args=recursively_unfreeze(self.backend_args),
            split=self.split or None,
            task_ids=[str(t) for t in self.tasks] or None,
            limit=self.limit or None,
            samples_per_task=self.samples_per_task,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            max_tokens=self.max_tokens,
            stop=list(self.stop),
            seed=self.seed,
            max_turns=self.max_turns,
            num_shards=self.num_shards,
        )

    def out_dir(self) -> str:
        return self.output_dir or os.path.join("data", "rollouts", self.env)

    def shared(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in GenerateRollouts.get_param_names()}


class GenerateRolloutShard(RolloutParameters, luigi.Task):
    """One shard: its JSONL file and manifest (written last, atomically: the target)."""

    shard_index = luigi.IntParameter()

    @property
    def resources(self) -> dict[str, int]:
        return {"gpu": 1} if self.backend == "vllm" else {}

    def output(self) -> luigi.LocalTarget:
        store = ShardStore(self.out_dir(), self.shard_index, self.num_shards)
        return luigi.LocalTarget(str(store.manifest_path))

    def run(self) -> None:
        generate_shard(self.config(), self.out_dir(), self.shard_index,
                       concurrency=self.concurrency, chunk_size=self.chunk_size)


class GenerateRollouts(RolloutParameters, luigi.Task):
    """Every shard of a run, then `manifest.json` with each shard's counts and the totals."""

    def requires(self) -> list[GenerateRolloutShard]:
        return [GenerateRolloutShard(shard_index=i, **self.shared()) for i in range(self.num_shards)]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(os.path.join(self.out_dir(), "manifest.json"))

    def run(self) -> None:
        manifests = []
        for target in self.input():
            with target.open("r") as f:
                manifests.append(json.load(f))
        write_run_manifest(self.out_dir(), manifests)
