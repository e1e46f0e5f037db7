"""Luigi stage tasks for seed 002, and seed 002 as one command.

    luigi --module luigi_tasks.search SearchSummarySFT --importer seed002 \
        --import-files '["traces.jsonl"]' --summary-backend openai --summary-model gpt-4o-mini \
        --overrides '{"max_steps": 2}' --eval-limit 4 --local-scheduler
    luigi --module luigi_tasks.search SummaryDatasets --episodes '["data/rollouts/search"]' \
        --backend openai --model gpt-4o-mini --backend-args '{"base_url": "…"}' --local-scheduler

`SearchSummarySFT`, the whole of seed 002 (docs/search.md#seed-002-from-one-command):

    traces                GenerateRollouts of the search environment (the rollout settings under
                          their own names), or ImportSeedFiles (--importer seed002), or --episodes
    splits, multi-turn    FormatRollouts / FormatEpisodes with search-splits and search-multiturn
    summaries             SearchSummaries: an LLM summary per split sample (settings summary_*)
    datasets              SearchDatasets: summary_prefix / summary_only, train / val (dataset_*)
    phase 1, 2, 3         SearchTrainingPhase: multi-turn, summary-only, summary-prefix, each from
                          the previous phase's latest checkpoint (--overrides for every phase)
    evaluation            EvaluateSearchModel: both tasks on the summary-prefix validation rows,
                          with phase 3's weights (settings eval_*)

Each is a stage with its own content-addressed directory, so a rerun resumes at the first
missing one; the summary stage also resumes inside itself (its journal, in its directory), so an
interrupted run never asks twice for a summary, and a training phase from its checkpoints.

The stand-alone stages `SummarizeSplits` and `SummaryDatasets` take the summary settings under
their own names over episodes the user brings or imports: (`ImportSeedFiles` →)
`FormatEpisodes(search-splits)` → `SummarizeSplits` → `SummaryDatasets`. The multi-turn rows
alone are `FormatEpisodes --formatter search-multiturn` (luigi_tasks.formats).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import luigi
from luigi.freezing import recursively_unfreeze

from harness.engine import RolloutConfig
from harness.formats import FormatConfig
from harness.formats.summaries import DatasetConfig, SummaryConfig, summarize_splits, summary_datasets
from harness.options import content_settings, luigi_parameters, settings_of
from harness.plugins import get
from harness.train.config import TrainConfig
from harness.train.evaluate import EvaluateConfig, EvaluateReport, evaluate
from harness.train.progressive import PHASES, phase_config, start_from
from harness.train.sft import train
from luigi_tasks.formats import EpisodeInputs, FormatEpisodes, FormatRollouts, FormatStage, write_manifest
from luigi_tasks.pipeline import Pipeline, Stage, stage_config, stage_parameters
from luigi_tasks.rollouts import rollout_parameters
from luigi_tasks.stage import StageTask

__all__ = [
    "DatasetStage",
    "EvaluateSearchModel",
    "SearchDatasets",
    "SearchInputs",
    "SearchSummaries",
    "SearchSummarySFT",
    "SearchTrainingPhase",
    "SummarizeSplits",
    "SummaryDatasets",
    "SummaryStage",
]

SUMMARIZED_FILE = "summarized.jsonl"
WEIGHT_BACKENDS = ("transformers", "vllm")
"""Backends that load a model's weights themselves: the evaluation hands them the trained ones."""
_NOT_SEARCH_FORMAT = ("formatter", "formatter_args", "verdict", "allow_empty", "row_group_size")
"""Format settings the pipeline sets itself (the search formatters, JSONL rows); `include_failed`,
`where` and `errors` are the user's."""


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


class SummaryStage(StageTask):
    """The summary stage's work, whatever its parameters: `requires()` is the split samples'
    format stage and `config()` the `SummaryConfig`."""

    stage = "summaries"
    config_class = SummaryConfig

    def summarized_path(self) -> Path:
        return self.output_dir() / SUMMARIZED_FILE

    def summary(self) -> str:
        report = _report(self)
        return (f"{report['summarized']} of {report['samples']} split samples summarized, {report['failed']} failed "
                f"(kept out) -> {self.summarized_path().absolute()}")

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


class DatasetStage(StageTask):
    """The summary datasets' work: `requires()` is a `SummaryStage`, `config()` the `DatasetConfig`."""

    stage = "summary_datasets"
    config_class = DatasetConfig

    def dataset_path(self, name: str, part: str) -> Path:
        """`name` (summary_prefix, summary_only) and `part` (train, val): one of the four files."""
        return self.output_dir() / f"{name}_{part}.{self.config().ext}"

    def summary(self) -> str:
        report = _report(self)
        return (f"{report['train']} train / {report['val']} val rows in each dataset ({report['failed']} without a "
                f"summary left out) -> {self.output_dir().absolute()}")

    def run(self) -> None:
        report = summary_datasets(self.requires().summarized_path(), self.output_dir(), config=self.config())
        write_manifest(self.output_dir(), dict(report.__dict__), self.config(), self.upstream_digests())
        self.progress(1, 1, f"{report.train} train / {report.val} val rows each")


class SummarizeSplits(luigi_parameters(SummaryConfig), SearchInputs, SummaryStage):  # type: ignore[misc]
    """Split samples → the same with an LLM `summary` (failed ones kept out, counted)."""

    def requires(self) -> FormatEpisodes:
        return self.splits()

    def slug_parts(self) -> list[object]:
        return [self.model or self.backend]


class SummaryDatasets(luigi_parameters(DatasetConfig), luigi_parameters(SummaryConfig), SearchInputs,  # type: ignore[misc]
                      DatasetStage):
    """Summarized splits → summary_prefix_{train,val} and summary_only_{train,val}."""

    def requires(self) -> SummarizeSplits:
        summary = {s.name: getattr(self, s.name) for s in settings_of(SummaryConfig)}
        return SummarizeSplits(**summary, **self.search_inputs())

    def slug_parts(self) -> list[object]:
        return [self.model or self.backend, self.ext]


def _report(task: StageTask) -> dict[str, Any]:
    return json.loads(Path(task.output().path).read_text(encoding="utf-8"))["report"]


def _build(cls: type[luigi.Task], task: luigi.Task, **values: Any) -> Any:
    """A task of `cls` holding the values of `task`'s parameters of the same names."""
    return cls(**{name: getattr(task, name) for name, _ in cls.get_params() if name not in values}, **values)


# -- seed 002 from one command -----------------------------------------------------------------


class TraceParameters(stage_parameters(RolloutConfig, defaults={"env": "search", "limit": 2}),  # type: ignore[misc]
                      luigi_parameters(FormatConfig, exclude=_NOT_SEARCH_FORMAT)):  # type: ignore[misc]
    """Where the traces come from: episodes the user brings (`episodes`), the seed's traces
    imported (`importer seed002`, `import_files`), or, when neither is given, a run of the
    search environment with the rollout settings."""

    episodes = EpisodeInputs.episodes
    importer = EpisodeInputs.importer
    import_files = EpisodeInputs.import_files

    def brought(self) -> bool:
        return bool(self.episodes or self.importer)

    def formatted(self, formatter: str) -> FormatStage:
        """The traces through `formatter` (search-splits, search-multiturn), as JSONL."""
        common = {"formatter": formatter, "formatter_args": {}, "ext": "jsonl", "include_failed": self.include_failed,
                  "where": self.where, "errors": self.errors}  # type: ignore[attr-defined]
        if self.brought():
            return FormatEpisodes(episodes=self.episodes, importer=self.importer, import_files=self.import_files,
                                  data_dir=self.data_dir, **common)  # type: ignore[attr-defined]
        return FormatRollouts(**rollout_parameters(self), **common)  # rollout_parameters holds data_dir


class SummaryParameters(TraceParameters, stage_parameters(SummaryConfig, "summary_",  # type: ignore[misc]
                                                          defaults={"backend": "transformers"})):
    """The traces' parameters and the summary stage's (prefixed summary_)."""


class SearchSummaries(SummaryParameters, SummaryStage):
    """The pipeline's summary stage: the split samples of its traces, each with a summary."""

    def requires(self) -> FormatStage:
        return self.formatted("search-splits")

    def config(self) -> SummaryConfig:
        return stage_config(SummaryConfig, self, "summary_")

    def slug_parts(self) -> list[object]:
        return [self.summary_model or self.summary_backend]  # type: ignore[attr-defined]


class DatasetParameters(SummaryParameters, stage_parameters(DatasetConfig, "dataset_")):  # type: ignore[misc]
    """… and the datasets' (prefixed dataset_)."""

    def summaries(self) -> SearchSummaries:
        return _build(SearchSummaries, self)


class SearchDatasets(DatasetParameters, DatasetStage):
    """The pipeline's summary-prefix and summary-only datasets."""

    def requires(self) -> SearchSummaries:
        return self.summaries()

    def config(self) -> DatasetConfig:
        return stage_config(DatasetConfig, self, "dataset_")

    def slug_parts(self) -> list[object]:
        return [self.summary_model or self.summary_backend, self.dataset_ext]  # type: ignore[attr-defined]


class TrainingParameters(DatasetParameters):
    """… and the progressive training's: one set of overrides for every phase."""

    overrides = luigi.DictParameter(default={}, description="TrainConfig settings for every phase of the "
                                    "progressive training, winning over the phase's epochs and learning rate, "
                                    'e.g. {"max_steps": 50, "model": "Qwen/Qwen2.5-7B-Instruct"}.')

    def datasets(self) -> SearchDatasets:
        return _build(SearchDatasets, self)

    def training_phase(self, index: int) -> SearchTrainingPhase:
        return _build(SearchTrainingPhase, self, phase=index)


class SearchTrainingPhase(TrainingParameters, StageTask):
    """One phase of seed 002's progressive training (harness.train.progressive) on the
    pipeline's rows: phase 0 on the multi-turn rows, 1 on summary-only, 2 on summary-prefix
    (with the datasets' validation files), each from the previous phase's latest checkpoint."""

    stage = "train"
    config_class = TrainConfig
    phase = luigi.IntParameter(description="0: multi-turn, 1: summary-only, 2: summary-prefix.")

    def rows(self) -> tuple[Path, Path | None]:
        """The phase's training file and validation file."""
        if self.phase == 0:
            return self.formatted("search-multiturn").rows_path(), None
        name = PHASES[self.phase].data
        return self.datasets().dataset_path(name, "train"), self.datasets().dataset_path(name, "val")

    def previous(self) -> SearchTrainingPhase | None:
        return self.training_phase(self.phase - 1) if self.phase else None

    def requires(self) -> list[StageTask]:
        data = self.formatted("search-multiturn") if self.phase == 0 else self.datasets()
        previous = self.previous()
        return [data, *([previous] if previous else [])]

    def config(self) -> TrainConfig:
        validation = self.rows()[1]
        return phase_config(self.phase, recursively_unfreeze(self.overrides), str(validation) if validation else None)

    def content(self) -> dict[str, Any]:
        # The validation file is the datasets stage's (an upstream digest); its path holds data_dir.
        return {"phase": PHASES[self.phase].name, **{k: v for k, v in content_settings(self.config()).items()
                                                     if k != "validation"}}

    def slug_parts(self) -> list[object]:
        return [PHASES[self.phase].name, self.config().model]

    def run(self) -> None:
        config = self.config()
        if self.phase:
            config = start_from(config, self.training_phase(self.phase - 1).output_dir(), PHASES[self.phase].name)
        report = train([self.rows()[0]], self.output_dir(), config, progress=False,
                       on_progress=lambda done, total, text: self.progress(done, total, text))
        self.set_status_message(report.summary())


class EvaluationParameters(TrainingParameters, stage_parameters(EvaluateConfig, "eval_")):  # type: ignore[misc]
    """… and the evaluation's (prefixed eval_)."""

    def evaluation(self) -> EvaluateSearchModel:
        return _build(EvaluateSearchModel, self)


class EvaluateSearchModel(EvaluationParameters, StageTask):
    """Seed 002's evaluation (harness.train.evaluate) of the last phase's model on the
    summary-prefix validation rows: task 1 (context → summary + next step) and task 2 (summary
    → next step). A backend that loads weights (transformers, vllm) gets the phase's adapter
    (or its model, after full fine-tuning); any other is asked as configured."""

    stage = "evaluations"
    config_class = EvaluateConfig

    def requires(self) -> dict[str, StageTask]:
        return {"model": self.training_phase(len(PHASES) - 1), "rows": self.datasets()}

    def config(self) -> EvaluateConfig:
        return stage_config(EvaluateConfig, self, "eval_")

    def slug_parts(self) -> list[object]:
        return [self.eval_backend, PHASES[-1].name]  # type: ignore[attr-defined]

    def rows_path(self) -> Path:
        return self.requires()["rows"].dataset_path("summary_prefix", "val")

    def evaluated(self) -> EvaluateConfig:
        """The config with the trained weights in it (for the backends that load weights)."""
        config = self.config()
        if config.backend not in WEIGHT_BACKENDS:
            return config
        model = self.requires()["model"]
        report = _report(model)
        weights = str(Path(report["weights"]).absolute())
        if report["method"] == "full":
            return replace(config, model=weights)
        base = config.model or model.config().model
        return replace(config, model=base, backend_args={**config.backend_args, "adapter": weights})

    def summary(self) -> str:
        return f"{EvaluateReport(**_report(self)).summary()} -> {self.output_dir().absolute()}"

    def run(self) -> None:
        self.progress(0, None, "evaluating")
        config = self.evaluated()
        report = evaluate([self.rows_path()], self.output_dir(), config, progress=False)
        write_manifest(self.output_dir(), dict(report.__dict__), config, self.upstream_digests())  # what was evaluated
        self.progress(1, 1, report.summary())


class SearchSummarySFT(EvaluationParameters, Pipeline):
    """Seed 002 end to end: traces, splits and multi-turn rows, summaries, the two datasets,
    progressive training in three phases, evaluation."""

    name = "search-summary"

    def stages(self) -> list[Stage]:
        splits = self.formatted("search-splits")
        multiturn = self.formatted("search-multiturn")
        traces = splits.requires()
        datasets = self.datasets()
        files = [f"{name}_{part}.{self.dataset_ext}" for name in ("summary_prefix", "summary_only")  # type: ignore[attr-defined]
                 for part in ("train", "val")]
        stages = [Stage("traces", traces)] if isinstance(traces, StageTask) else []
        stages += [Stage("splits", splits, (splits.rows_path().name,)),
                   Stage("multi-turn", multiturn, (multiturn.rows_path().name,)),
                   Stage("summaries", self.summaries(), (SUMMARIZED_FILE,)),
                   Stage("datasets", datasets, tuple(files))]
        weights = "model" if recursively_unfreeze(self.overrides).get("method") == "full" else "adapter"
        stages += [Stage(PHASES[i].name, self.training_phase(i), (weights, "loss.png")) for i in range(len(PHASES))]
        return [*stages, Stage("evaluation", self.evaluation(), ("analysis.md", "results.jsonl", "analysis.png"))]
