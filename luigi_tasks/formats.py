"""Luigi tasks over `harness.formats`: input JSONL targets → training-file targets.

    luigi --module luigi_tasks.formats FormatEpisodes --formatter trl-messages \
        --inputs '["episodes.jsonl"]' --output-path train.parquet --local-scheduler
    luigi --module luigi_tasks.formats PrepareFinetuneData --input-path episodes.jsonl \
        --format prm --label-mode first-error --output-path data/training/prm.jsonl --local-scheduler

Every output is written atomically by the library, so a target exists only when complete.
"""

from __future__ import annotations

import luigi

from harness.formats import format_file, get_formatter
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
