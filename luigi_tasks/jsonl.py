"""Luigi tasks over `harness.jsonl`: deduplicate rollout files into one best-per-key file.

    luigi --module luigi_tasks.jsonl DedupRollouts --inputs '["r1.jsonl","r2.jsonl"]' \
        --output best.jsonl --key /task/id --score '["/reward"]' --local-scheduler
"""

from __future__ import annotations

import luigi

from harness import jsonl


class RolloutFile(luigi.ExternalTask):
    """A JSONL file some other run produced."""

    path = luigi.Parameter()

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(self.path)


class DedupRollouts(luigi.Task):
    """One record per key across the inputs (see `harness.jsonl.dedup`)."""

    inputs = luigi.ListParameter()
    output_path = luigi.Parameter(description="The deduplicated JSONL file.")
    key = luigi.Parameter(description="JSON pointer of the key, e.g. /task/id.")
    score = luigi.ListParameter(default=[], description="Score pointers (prefix '-' for lower wins).")
    keep = luigi.ChoiceParameter(choices=["best", "first", "last"], default="best")
    missing = luigi.ChoiceParameter(choices=["error", "skip", "keep"], default="error")

    def requires(self) -> list[RolloutFile]:
        return [RolloutFile(path=p) for p in self.inputs]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(self.output_path)

    def run(self) -> None:
        # dedup itself writes through a temporary file renamed into place, so the target
        # only ever exists complete.
        jsonl.dedup(
            list(self.inputs),
            self.output_path,
            self.key,
            score=list(self.score) or None,
            keep=self.keep,
            missing=self.missing,
            allow_empty=False,  # a dedup that keeps nothing fails the task, never a silent zero
        )
