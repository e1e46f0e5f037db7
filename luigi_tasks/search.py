"""Luigi stage tasks for seed 002: search episodes → splits → summaries → summary datasets.

    luigi --module luigi_tasks.search SummaryDatasets --episodes '["data/rollouts/search"]' \
        --backend openai --model gpt-4o-mini --backend-args '{"base_url": "…"}' --local-scheduler
    luigi --module luigi_tasks.search SummaryDatasets --importer seed002 \
        --import-files '["traces.jsonl"]' --backend scripted --backend-args '{"responses": ["…"]}' \
        --local-scheduler

The graph: (`ImportSeedFiles` →) `FormatEpisodes(search-splits)` → `SummarizeSplits` →
`SummaryDatasets`. Each is a stage with its own content-addressed directory
(`{data_dir}/summaries/…`, `{data_dir}/summary_datasets/…`), so a rerun resumes at the first
missing one; the summary stage also resumes inside itself (its journal, in its directory), so an
interrupted run never asks twice for a summary. The multi-turn rows are
`FormatEpisodes --formatter search-multiturn` (luigi_tasks.formats).
"""

from __future__ import annotations

import asyncio

import luigi

from harness.formats.summaries import DatasetConfig, SummaryConfig, summarize_splits, summary_datasets
from harness.options import luigi_parameters, settings_of
from harness.plugins import get
from luigi_tasks.formats import EpisodeInputs, FormatEpisodes, write_manifest
from luigi_tasks.stage import StageTask

__all__ = ["SearchInputs", "SummarizeSplits", "SummaryDatasets"]


class SearchInputs(EpisodeInputs):
    """The search episodes, and whether failed ones are split too."""

    include_failed = luigi.BoolParameter(default=False, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
                                         description="Also split search episodes that did not succeed.")

    def splits(self) -> FormatEpisodes:
        return FormatEpisodes(formatter="search-splits", ext="jsonl", include_failed=self.include_failed,
                              episodes=self.episodes, importer=self.importer, import_files=self.import_files,
                              data_dir=self.data_dir)  # type: ignore[attr-defined]

    def search_inputs(self) -> dict:
        return {"episodes": self.episodes, "importer": self.importer, "import_files": self.import_files,
                "include_failed": self.include_failed, "data_dir": self.data_dir}  # type: ignore[attr-defined]


class SummarizeSplits(luigi_parameters(SummaryConfig), SearchInputs, StageTask):  # type: ignore[misc]
    """Split samples → the same with an LLM `summary` (failed ones kept out, counted)."""

    stage = "summaries"
    config_class = SummaryConfig

    def requires(self) -> FormatEpisodes:
        return self.splits()

    def slug_parts(self) -> list[object]:
        return [self.model or self.backend]

    def summarized_path(self):
        return self.output_dir() / "summarized.jsonl"

    def run(self) -> None:
        config = self.config()
        self.output_dir().mkdir(parents=True, exist_ok=True)

        async def go():
            backend = get("backend", config.backend)(**config.backend_kwargs())
            try:
                return await summarize_splits(self.requires().rows_path(), self.summarized_path(), backend,
                                              config=config)
            finally:
                await backend.aclose()

        report = asyncio.run(go())
        write_manifest(self.output_dir(), dict(report.__dict__), config, self.upstream_digests())
        self.progress(1, 1, f"{report.summarized} summarized, {report.failed} failed")


class SummaryDatasets(luigi_parameters(DatasetConfig), luigi_parameters(SummaryConfig), SearchInputs,  # type: ignore[misc]
                      StageTask):
    """Summarized splits → summary_prefix_{train,val} and summary_only_{train,val}."""

    stage = "summary_datasets"
    config_class = DatasetConfig

    def requires(self) -> SummarizeSplits:
        summary = {s.name: getattr(self, s.name) for s in settings_of(SummaryConfig)}
        return SummarizeSplits(**summary, **self.search_inputs())

    def slug_parts(self) -> list[object]:
        return [self.model or self.backend, self.ext]

    def run(self) -> None:
        report = summary_datasets(self.requires().summarized_path(), self.output_dir(), config=self.config())
        write_manifest(self.output_dir(), dict(report.__dict__), self.config(), self.upstream_digests())
        self.progress(1, 1, f"{report.train} train / {report.val} val rows each")
