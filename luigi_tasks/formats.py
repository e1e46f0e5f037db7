"""Luigi tasks over `harness.formats`: input JSONL targets → training-file targets.

    luigi --module luigi_tasks.formats FormatEpisodes --formatter trl-messages \
        --inputs '["episodes.jsonl"]' --output-path train.parquet --local-scheduler
    luigi --module luigi_tasks.formats PrepareFinetuneData --input-path episodes.jsonl \
        --format prm --label-mode first-error --output-path data/training/prm.jsonl --local-scheduler
    luigi --module luigi_tasks.formats PrmMonteCarloLabels --input-path episodes.jsonl \
        --backend vllm --model Qwen/Qwen2.5-7B-Instruct --output-path data/training/prm_mc.parquet \
        --local-scheduler

Every output is written atomically by the library, so a target exists only when complete.
"""

from __future__ import annotations

import luigi
from luigi.freezing import recursively_unfreeze

from harness.engine import RolloutConfig
from harness.formats import format_file, get_formatter
from harness.formats.prm_mc import write_mc_prm
from harness.prepare_finetune_data import FORMATS, prepare
from luigi_tasks.jsonl import RolloutFile


class FormatEpisodes(luigi.Task):
    """Any registered formatter over JSONL inputs (see `harness.formats.format_file`)."""

    formatter = luigi.Parameter(description="Registered formatter name, e.g. trl-messages, verl, search-splits.")
    inputs = luigi.ListParameter(description="Input JSONL files.")
    output_path = luigi.Parameter(description="Output file, .jsonl or .parquet.")
    options = luigi.DictParameter(default={}, description="Formatter options, e.g. {\"variant\": \"exp2_with_context\"}.")

    def requires(self) -> list[RolloutFile]:
        return [RolloutFile(path=p) for p in self.inputs]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(self.output_path)

    def run(self) -> None:
        format_file(get_formatter(self.formatter, **dict(self.options)), list(self.inputs), self.output_path)


class PrepareFinetuneData(luigi.Task):
    """Seed 000: data-analysis episodes → sft-standard / sft-interleaved / prm."""

    input_path = luigi.Parameter(description="Seed 000 episodes JSONL.")
    format = luigi.ChoiceParameter(choices=list(FORMATS), default="sft-standard")
    output_path = luigi.Parameter(description="Output file, .jsonl or .parquet.")
    include_unverified = luigi.BoolParameter(default=False)
    label_mode = luigi.ChoiceParameter(choices=["episode", "first-error"], default="episode")

    def requires(self) -> RolloutFile:
        return RolloutFile(path=self.input_path)

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(self.output_path)

    def run(self) -> None:
        written, _, _ = prepare(self.input_path, self.format, self.output_path,
                                include_unverified=self.include_unverified, label_mode=self.label_mode)
        if written is None:
            # The seed's CLI writes nothing for zero episodes; a pipeline needs a clear failure.
            raise RuntimeError(f"{self.input_path}: no episodes to convert")


class PrmMonteCarloLabels(luigi.Task):
    """Seed 000 PRM samples labelled by Monte Carlo continuations (`--label-mode mc`): each
    step's label is the share of `mc_samples` continuations from it that reach a correct answer
    (see harness.formats.prm_mc)."""

    input_path = luigi.Parameter(description="Seed 000 episodes JSONL.")
    output_path = luigi.Parameter(description="Output file, .jsonl or .parquet.")
    backend = luigi.Parameter(description="Backend playing the continuations.")
    model = luigi.Parameter(default="", description="Model for the backend; empty: its default.")
    backend_args = luigi.DictParameter(default={})
    env_args = luigi.DictParameter(default={}, description="data-analysis environment arguments.")
    mc_samples = luigi.IntParameter(default=4, description="Continuations per step.")
    temperature = luigi.FloatParameter(default=0.7)
    max_tokens = luigi.IntParameter(default=1024, description="Per model turn.")
    seed = luigi.IntParameter(default=0)
    max_turns = luigi.IntParameter(default=64)
    include_unverified = luigi.BoolParameter(default=False)
    concurrency = luigi.IntParameter(default=64, significant=False)

    def requires(self) -> RolloutFile:
        return RolloutFile(path=self.input_path)

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(self.output_path)

    def run(self) -> None:
        config = RolloutConfig(
            env="data-analysis", backend=self.backend, model=self.model or None,
            env_args=recursively_unfreeze(self.env_args),
            backend_args=recursively_unfreeze(self.backend_args),
            samples_per_task=self.mc_samples, temperature=self.temperature,
            max_tokens=self.max_tokens, seed=self.seed, max_turns=self.max_turns,
        )
        report = write_mc_prm(self.input_path, self.output_path, config,
                              include_unverified=self.include_unverified,
                              concurrency=self.concurrency)
        if not report.episodes:
            raise RuntimeError(f"{self.input_path}: no episodes to label")
