"""Seed 000 as one Luigi command: data-analysis episodes → triangulation → the `sft-standard`,
`sft-interleaved` and `prm` training files.

    luigi --module luigi_tasks.data_analysis DataAnalysisTraining --local-scheduler     # demo size
    luigi --module luigi_tasks.data_analysis DataAnalysisTraining --limit '' --backend vllm \\
        --model Qwen/Qwen2.5-7B-Instruct --num-shards 16 --consistency-runs 5     # full size, GPU nodes

The graph (each box a stage task with its own content-addressed directory, docs/data_analysis.md):

    GenerateRollouts  gold runs: the data-analysis environment, the hint shown
    GenerateRollouts  consistency runs: the same tasks, env_args hint=false, consistency_runs
                      samples per task, a seed derived from the run's
    TriangulateRollouts   the gold episodes with a `triangulation` verdict (the plugin's verifier:
                          the gold answer is the majority answer of the consistency runs)
    FormatTriangulated    one per training file: the formatter over the triangulated episodes,
                          keeping those that pass (--verdict triangulation=pass) and, by the
                          formatters' success filter, answered right
    DataAnalysisTraining  a one-line summary per stage, and where every output is

Every parameter is a setting of a stage's config under its own name: the rollout settings of
`harness rollouts generate` but `env`, always data-analysis (the gold and the consistency runs
share them; `limit` defaults to 2 tasks here, a demo size: `--limit ''` takes every task),
`consistency_runs`, the verify stage's
`batch_size` and `allow_no_verdict`, and the format settings of `harness format run` for all
three files (`--formats` names the files and their formatter arguments).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import luigi
from luigi.freezing import recursively_unfreeze

from harness import plugins
from harness.engine import RolloutConfig
from harness.environment import derive_seed
from harness.episode_files import episode_files
from harness.formats import FormatConfig
from harness.options import content_settings, luigi_parameters, setting, settings_of
from harness.verify import VerifyConfig, verify_files
from luigi_tasks.formats import FormatStage
from luigi_tasks.pipeline import Pipeline, Stage, stage_parameters
from luigi_tasks.rollouts import GenerateRollouts, rollout_parameters
from luigi_tasks.stage import StageTask

__all__ = ["DataAnalysisTraining", "FormatTriangulated", "TriangulateRollouts", "TriangulationConfig"]

ENV = "data-analysis"
VERIFIER = "triangulation"
FILES = {"sft-standard": {}, "sft-interleaved": {}, "prm": {}}


@dataclass(frozen=True)
class TriangulationConfig:
    """How the consistency runs are made."""

    consistency_runs: int = setting(3, help="Runs of each task without the hint (the consistency runs); a "
                                    "gold episode is verified when its answer is their majority answer.")

    def __post_init__(self) -> None:
        if self.consistency_runs < 1:
            raise ValueError("consistency_runs must be at least 1")


class TriangulationParameters(
        stage_parameters(RolloutConfig, exclude=("env",), defaults={"limit": 2}),  # type: ignore[misc]
        luigi_parameters(TriangulationConfig),  # type: ignore[misc]
        luigi_parameters(VerifyConfig, exclude=("verifier", "verifier_args"))):  # type: ignore[misc]
    """The gold runs' settings, the consistency runs', and the verify stage's. The environment is
    not one of them: triangulation and the seed 000 formatters judge data-analysis episodes."""

    env = ENV

    def gold(self) -> GenerateRollouts:
        return GenerateRollouts(**rollout_parameters(self))

    def consistency(self) -> GenerateRollouts:
        """The same tasks without the hint, `consistency_runs` samples of each, under a seed of
        their own (derived from the run's): samples independent of the gold runs'."""
        params = rollout_parameters(self)
        params["env_args"] = {**recursively_unfreeze(params["env_args"]), "hint": False}
        params["samples_per_task"] = self.consistency_runs  # type: ignore[attr-defined]
        params["seed"] = derive_seed("consistency", params["seed"]) % 2**31
        return GenerateRollouts(**params)

    def triangulation_parameters(self) -> dict[str, Any]:
        names = [s.name for s in settings_of(RolloutConfig) + settings_of(TriangulationConfig) if s.name != "env"]
        names += ["batch_size", "allow_no_verdict", "data_dir"]
        return {name: getattr(self, name) for name in names}


class TriangulateRollouts(TriangulationParameters, StageTask):
    """The gold episodes, each with a `triangulation` verdict (harness_data_analysis.verifier)
    judged against the consistency runs: `{data_dir}/verified/{env},triangulation-{hash}/`."""

    stage = "verified"
    config_class = VerifyConfig

    def requires(self) -> list[GenerateRollouts]:
        return [self.gold(), self.consistency()]

    def slug_parts(self) -> list[object]:
        return [self.env, VERIFIER]  # type: ignore[attr-defined]

    def config(self) -> VerifyConfig:
        consistency = str(self.consistency().output_dir())
        return VerifyConfig(verifier=VERIFIER, verifier_args={"consistency": [consistency]},
                            batch_size=self.batch_size, allow_no_verdict=self.allow_no_verdict)  # type: ignore[attr-defined]

    def content(self) -> dict[str, Any]:
        # The consistency run's path is an upstream digest already (and holds data_dir, which
        # never decides content); the verifier's version names its rules.
        settings = {k: v for k, v in content_settings(self.config()).items() if k != "verifier_args"}
        return {**settings, "verifier_version": plugins.get("verifier", VERIFIER).version}

    def run(self) -> None:
        self.progress(0, None, "triangulating")
        report = verify_files(episode_files([self.gold().output_dir()]), self.output_dir(), self.config(),
                              progress=False)
        self.progress(1, 1, report.summary())


class FormatTriangulated(TriangulationParameters, FormatStage):
    """A formatter over the triangulated episodes (`--verdict '["triangulation=pass"]'` keeps the
    verified ones)."""

    def requires(self) -> TriangulateRollouts:
        return TriangulateRollouts(**self.triangulation_parameters())


class DataAnalysisTraining(TriangulationParameters,
                           luigi_parameters(FormatConfig, exclude=("formatter", "formatter_args")),  # type: ignore[misc]
                           Pipeline):
    """Seed 000 end to end: gold and consistency runs, triangulation, the three training files."""

    name = "data-analysis"
    formats = luigi.DictParameter(
        default=FILES, description="The training files: formatter -> its arguments (formatter_args), e.g. "
        '{"sft-standard": {}, "prm": {"label_mode": "first-error"}}.')
    ext = luigi.ChoiceParameter(choices=["jsonl", "parquet"], default="jsonl", var_type=str,
                                description="File format of the training files (the seed wrote JSONL).")

    def verdicts(self) -> list[str]:
        """The verdict filter: the verified episodes, unless `verdict` asks for triangulation itself."""
        given = list(self.verdict)  # type: ignore[attr-defined]
        ask = any(v.partition("=")[0] == VERIFIER for v in given)
        return given if ask else [f"{VERIFIER}=pass", *given]

    def files(self) -> list[FormatTriangulated]:
        formats = recursively_unfreeze(self.formats)
        if not formats:
            raise ValueError("formats: name at least one training file, e.g. {\"sft-standard\": {}}")
        shared = {s.name: getattr(self, s.name) for s in settings_of(FormatConfig)
                  if s.name not in ("formatter", "formatter_args", "verdict")}
        return [FormatTriangulated(formatter=name, formatter_args=args or {}, verdict=self.verdicts(), ext=self.ext,
                                   **shared, **self.triangulation_parameters())
                for name, args in formats.items()]

    def stages(self) -> list[Stage]:
        first = self.files()[0]
        triangulated = first.requires()
        return [Stage("generate (gold)", self.gold()), Stage("generate (consistency)", self.consistency()),
                Stage("triangulate", triangulated),
                *(Stage(f.formatter, f, (f.rows_path().name,)) for f in self.files())]
