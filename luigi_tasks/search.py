"""Luigi tasks for seed 002: traces → splits → summaries → summary datasets; and multi-turn.

    luigi --module luigi_tasks.search SummaryDatasets --traces '["traces.jsonl"]' \
        --work-dir data/search --backend openai --backend-args '{"model": "gpt-4o-mini"}' \
        --local-scheduler

Each stage is its own target, so a rerun resumes at the first missing one; the summary stage
also resumes inside itself (its journal), so an interrupted run never asks twice for a summary.
"""

from __future__ import annotations

import asyncio
import os

import luigi

from harness.formats import format_file, get_formatter
from harness.formats.search import split_traces
from harness.formats.summaries import summarize_splits, summary_datasets
from harness.plugins import get
from luigi_tasks.jsonl import RolloutFile


class SplitTraces(luigi.Task):
    """Traces → one sample per search result (Rust splitter)."""

    traces = luigi.ListParameter(description="Trace JSONL files ({question, trace}).")
    work_dir = luigi.Parameter()

    def requires(self) -> list[RolloutFile]:
        return [RolloutFile(path=p) for p in self.traces]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(os.path.join(self.work_dir, "splits.jsonl"))

    def run(self) -> None:
        os.makedirs(self.work_dir, exist_ok=True)
        split_traces(list(self.traces), self.output().path)


class MultiturnTraces(luigi.Task):
    """Traces → multi-turn conversations (`search-multiturn`)."""

    traces = luigi.ListParameter()
    work_dir = luigi.Parameter()
    ext = luigi.ChoiceParameter(choices=["jsonl", "parquet"], default="parquet")

    def requires(self) -> list[RolloutFile]:
        return [RolloutFile(path=p) for p in self.traces]

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(os.path.join(self.work_dir, f"multiturn.{self.ext}"))

    def run(self) -> None:
        os.makedirs(self.work_dir, exist_ok=True)
        format_file(get_formatter("search-multiturn"), list(self.traces), self.output().path)


class SummarizeSplits(luigi.Task):
    """Split samples → the same with an LLM `summary` (failed ones kept out, counted)."""

    traces = luigi.ListParameter()
    work_dir = luigi.Parameter()
    backend = luigi.Parameter(description="Registered backend name: scripted, transformers, openai, ...")
    backend_args = luigi.DictParameter(default={}, description="Keyword arguments of the backend.")
    concurrency = luigi.IntParameter(default=16)
    retries = luigi.IntParameter(default=3)
    backoff_s = luigi.FloatParameter(default=1.0)

    def requires(self) -> SplitTraces:
        return SplitTraces(traces=self.traces, work_dir=self.work_dir)

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(os.path.join(self.work_dir, "summarized.jsonl"))

    def run(self) -> None:
        async def go():
            backend = get("backend", self.backend)(**dict(self.backend_args))
            try:
                return await summarize_splits(self.input().path, self.output().path, backend,
                                              concurrency=self.concurrency, retries=self.retries,
                                              backoff_s=self.backoff_s)
            finally:
                await backend.aclose()

        report = asyncio.run(go())
        self.set_status_message(f"{report.summarized} summarized, {report.failed} failed")


class SummaryDatasets(luigi.Task):
    """Summarized splits → summary_prefix_{train,val} and summary_only_{train,val}."""

    traces = luigi.ListParameter()
    work_dir = luigi.Parameter()
    backend = luigi.Parameter()
    backend_args = luigi.DictParameter(default={})
    concurrency = luigi.IntParameter(default=16)
    ext = luigi.ChoiceParameter(choices=["jsonl", "parquet"], default="parquet")
    val_ratio = luigi.FloatParameter(default=0.1)
    seed = luigi.IntParameter(default=42)

    def requires(self) -> SummarizeSplits:
        return SummarizeSplits(traces=self.traces, work_dir=self.work_dir, backend=self.backend,
                               backend_args=self.backend_args, concurrency=self.concurrency)

    def output(self) -> dict[str, luigi.LocalTarget]:
        return {f"{name}_{part}": luigi.LocalTarget(os.path.join(self.work_dir, f"{name}_{part}.{self.ext}"))
                for name in ("summary_prefix", "summary_only") for part in ("train", "val")}

    def run(self) -> None:
        summary_datasets(self.input().path, self.work_dir, ext=self.ext, val_ratio=self.val_ratio, seed=self.seed)
