"""Luigi stage tasks over `harness.importers` and `harness.formats`: seed files → episodes →
training files, and Monte Carlo PRM labels.

    luigi --module luigi_tasks.formats FormatEpisodes --formatter trl-messages \
        --episodes '["data/rollouts/connections,scripted-3f9a2c1d0e"]' --local-scheduler
    luigi --module luigi_tasks.formats FormatEpisodes --formatter prm \
        --formatter-args '{"label_mode": "first-error"}' --importer seed000 \
        --import-files '["episodes.jsonl"]' --local-scheduler
    luigi --module luigi_tasks.formats PrmMonteCarloLabels --episodes '["data/rollouts/da"]' \
        --backend vllm --model Qwen/Qwen2.5-7B-Instruct --local-scheduler

Every parameter of `FormatEpisodes` is a setting of `harness.formats.FormatConfig` (of
`PrmMonteCarloLabels`, of `harness.labels.prm_mc.McConfig`), under the same name as on
`harness format run` (`--formatter-args` as one JSON object). Episodes come from one of:

- `--episodes`: files or directories of episode shards the user brings (`ImportedFile`s);
- `--importer seed000|seed001|seed002 --import-files '[...]'`: the seed's own files, imported
  first by an `ImportSeedFiles` task (the graph: import → format).

`FormatRollouts` and `FormatVerified` format a run that the graph makes first: they take the
rollout parameters of `GenerateRollouts` (and the verify parameters of `VerifyRollouts`) beside
the format settings, so one command generates (verifies) and formats:

    luigi --module luigi_tasks.formats FormatVerified --env code --verifier humaneval \
        --verdict '["humaneval=pass"]' --formatter trl-messages --local-scheduler

A pipeline whose episodes come from a stage of its own subclasses `FormatStage` and returns that
stage from `requires()` (luigi_tasks.data_analysis formats the triangulated episodes so).

Outputs are `{data_dir}/imported/…`, `{data_dir}/formatted/{formatter},{ext}-{hash}/` (the
training file `{formatter}.{ext}` and `manifest.json`, written last: the target) and
`{data_dir}/labels/…`; the hash covers every setting that decides the content and the inputs,
so a changed setting never reuses a stale output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import luigi

from harness.atomic import atomic_write
from harness.episode_files import episode_files
from harness.formats import FormatConfig, format_files
from harness.importers import run as importers
from harness.importers.run import ImportConfig
from harness.labels.prm_mc import McConfig, write_mc_prm
from harness.options import content_settings, luigi_parameters, settings_of
from harness.verify import VerifyConfig
from luigi_tasks.rollouts import (
    GenerateRollouts,
    RolloutParameters,
    VerifyParameters,
    VerifyRollouts,
    rollout_parameters,
)
from luigi_tasks.stage import ImportedFile, StageTask

__all__ = [
    "EpisodeInputs",
    "FormatEpisodes",
    "FormatRollouts",
    "FormatStage",
    "FormatVerified",
    "ImportSeedFiles",
    "PrmMonteCarloLabels",
    "write_manifest",
]


def write_manifest(directory: Path, report: dict[str, Any], config: Any, upstream: list[str]) -> None:
    """A stage directory's `manifest.json`: written last, atomically (the Luigi target)."""
    with atomic_write(directory / "manifest.json") as f:
        json.dump({"report": report, "settings": content_settings(config), "upstream": upstream}, f,
                  indent=2, sort_keys=True, default=str)
        f.write("\n")


class ImportSeedFiles(luigi_parameters(ImportConfig), StageTask):  # type: ignore[misc]
    """The seed's own files as episode shards (harness.importers), one per file."""

    stage = "imported"
    config_class = ImportConfig
    import_files = luigi.ListParameter(description="Files in the seed's own shape (JSON list).")

    def requires(self) -> list[ImportedFile]:
        return [ImportedFile(path=str(p)) for p in self.import_files]

    def slug_parts(self) -> list[object]:
        return [self.importer, Path(str(self.import_files[0])).stem if self.import_files else None]

    def run(self) -> None:
        self.progress(0, None, f"importing {len(self.import_files)} file(s)")
        report = importers.import_files([t.path for t in self.requires()], self.output_dir(), self.config())
        self.progress(1, 1, report.summary())


class EpisodeInputs:
    """Where a stage's episodes come from: `episodes` (files the user brings) or
    `importer` + `import_files` (the seed's files, imported first)."""

    episodes = luigi.ListParameter(default=[], description="Episode files, or directories of them (JSON list).")
    importer = luigi.OptionalChoiceParameter(
        default=None, choices=["seed000", "seed001", "seed002"], var_type=str,
        description="Import --import-files with this seed's import adapter first (instead of --episodes).")
    import_files = luigi.ListParameter(default=[], description="Files in the seed's own shape (with --importer).")

    def requires(self) -> Any:
        if bool(self.episodes) == bool(self.importer):
            raise ValueError("give the episodes (--episodes) or seed files to import (--importer and "
                             "--import-files), one of the two")
        if self.importer:
            if not self.import_files:
                raise ValueError("--importer needs --import-files")
            return ImportSeedFiles(importer=self.importer, import_files=self.import_files,
                                   data_dir=self.data_dir)  # type: ignore[attr-defined]
        return [ImportedFile(path=str(p)) for p in episode_files(self.episodes)]

    def episode_paths(self) -> list[str]:
        upstream = self.requires()
        if isinstance(upstream, ImportSeedFiles):
            return [str(upstream.output_dir())]
        return [t.path for t in upstream]


class FormatStage(luigi_parameters(FormatConfig), StageTask):  # type: ignore[misc]
    """Any registered formatter over the episodes of the stage this task requires
    (harness.formats.format_files). Subclasses say which stage that is: files the user brings or
    imports (`FormatEpisodes`), a run the graph generates (`FormatRollouts`), or one it generates
    and verifies (`FormatVerified`); a pipeline's own stage is one `requires()` away."""

    stage = "formatted"
    config_class = FormatConfig
    ext = luigi.ChoiceParameter(choices=["parquet", "jsonl"], default="parquet", var_type=str,
                                description="File format of the training file.")

    def slug_parts(self) -> list[object]:
        return [self.formatter, self.ext]

    def rows_path(self) -> Path:
        return self.output_dir() / f"{self.formatter}.{self.ext}"

    def episode_paths(self) -> list[str]:
        """The directory of the required stage's output (its episode shards)."""
        return [str(self.requires().output_dir())]

    def run(self) -> None:
        self.progress(0, None, f"formatting with {self.formatter}")
        # the absolute path: the summary and the errors name the file where a person (or another
        # node of the shared file system) finds it, whatever the worker's directory
        report = format_files(self.episode_paths(), self.rows_path().absolute(), self.config())
        write_manifest(self.output_dir(), report.to_dict(), self.config(), self.upstream_digests())
        self.progress(1, 1, report.summary())


class FormatEpisodes(EpisodeInputs, FormatStage):
    """A formatter over episode files the user brings (`--episodes`) or seed files imported first
    (`--importer`, `--import-files`)."""


class FormatRollouts(RolloutParameters, FormatStage):  # type: ignore[misc, valid-type]
    """A formatter over a run that the graph generates first (`GenerateRollouts` from this
    task's rollout parameters: `--env search --backend vllm …`)."""

    def requires(self) -> GenerateRollouts:
        return GenerateRollouts(**rollout_parameters(self))


class FormatVerified(VerifyParameters, RolloutParameters, FormatStage):  # type: ignore[misc, valid-type]
    """A formatter over a run that the graph generates and verifies first (`VerifyRollouts` from
    this task's rollout and verify parameters); `--verdict NAME=pass` keeps the passing episodes."""

    def requires(self) -> VerifyRollouts:
        verify = {s.name: getattr(self, s.name) for s in settings_of(VerifyConfig)}
        return VerifyRollouts(**rollout_parameters(self), **verify)


class PrmMonteCarloLabels(luigi_parameters(McConfig), EpisodeInputs, StageTask):  # type: ignore[misc]
    """PRM samples of data-analysis episodes labelled by Monte Carlo continuations: each step's
    label is the share of `samples_per_task` continuations from it that reach a correct answer
    (harness.labels.prm_mc)."""

    stage = "labels"
    config_class = McConfig
    ext = luigi.ChoiceParameter(choices=["parquet", "jsonl"], default="parquet", var_type=str,
                                description="File format of the labelled samples.")

    def slug_parts(self) -> list[object]:
        return ["prm-mc", self.model or self.backend, self.ext]

    def rows_path(self) -> Path:
        return self.output_dir() / f"prm_mc.{self.ext}"

    def run(self) -> None:
        self.progress(0, None, "labelling")
        report = write_mc_prm(self.episode_paths(), self.rows_path(), self.config())
        write_manifest(self.output_dir(), dict(report.__dict__), self.config(), self.upstream_digests())
        self.progress(1, 1, report.summary(self.rows_path()))
