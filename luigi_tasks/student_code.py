"""Seed 004 as one Luigi command: student-code rows → templates → LoRA fine-tuning → generation.

    luigi --module luigi_tasks.student_code StudentCodeFineTune \\
        --rows '["train_exp1_without_context.json"]' --limit 8 --max-steps 2 \\
        --generate-limit 2 --generate-max-tokens 64 --local-scheduler           # a CPU-sized run
    luigi --module luigi_tasks.student_code StudentCodeFineTune \\
        --rows '["train_exp2_with_context_k3.json"]' --variant exp2_with_context \\
        --model Qwen/Qwen2.5-Coder-7B --generate-rows '["test_exp2_with_context_k3.json"]' \\
        --local-scheduler                                                        # full size, a GPU node

The graph (each box a stage task with its own content-addressed directory, luigi_tasks/stage.py):

    StudentCodeRows        the seed's row files (a JSON array as the seed wrote them, JSONL or
                           Parquet) checked and gathered into `{data_dir}/rows/…/rows.jsonl`
    StudentCodeTemplates   the `student-code` formatter with `--variant`: `{prompt, completion}`
                           text rows (`{data_dir}/formatted/student-code,jsonl-…/`)
    StudentCodeTraining    `harness train` on them: seed 004's recipe by default (no chat
                           template, loss on the completion only, LoRA r16/α32, 90/10 split with
                           seed 42, lr 1e-4 cosine, 1 epoch, batch 4 × 4) (`{data_dir}/train/…`)
    GenerateStudentCode    sampling with the trained adapter as the seed did (left padding,
                           T 0.7, top-p 0.8, top-k 20, stop at `</code>`): each row's generation,
                           its first `<code>` block and `<SUBMIT>` (`{data_dir}/generations/…`)
    StudentCodeFineTune    a one-line summary per stage, and where every output is

Generation runs on the rows of `--generate-rows` (held-out rows, through rows and templates
stages of their own), or, when none are given, on the training rows (a check of what the model
learned; `--generate-limit` caps it). Every other parameter is a setting of a stage's config
under its own name: `limit` (rows read), the settings of `harness train` (`--max-steps`,
`--model`, …) and those of `harness train generate` prefixed `generate_`
(`--generate-max-tokens`, …).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import luigi

from harness.atomic import atomic_write
from harness.formats import FormatConfig
from harness.formats.student_code import VARIANTS
from harness.options import content_settings, from_luigi, luigi_parameters, setting
from harness.train.config import TrainConfig
from harness.train.data import TrainDataError, read_records
from harness.train.generation import GenerateConfig, generate_code
from harness.train.sft import train
from luigi_tasks.formats import FormatStage, write_manifest
from luigi_tasks.pipeline import Pipeline, Stage, stage_parameters, stage_settings
from luigi_tasks.stage import ImportedFile, StageTask

__all__ = [
    "GenerateStudentCode",
    "RowsConfig",
    "RowsReport",
    "StudentCodeFineTune",
    "StudentCodeRows",
    "StudentCodeTemplates",
    "StudentCodeTraining",
    "gather_rows",
]

ROWS_FILE = "rows.jsonl"
GENERATIONS_FILE = "generations.jsonl"
_NOT_TEMPLATE = ("formatter", "formatter_args", "verdict", "include_failed", "allow_empty", "row_group_size")
"""Format settings the templates stage does not take: it is the student-code formatter, and
verdicts and the success filter are for episodes (`where` and `errors` apply to rows)."""
_TRAIN_EXCLUDED = ("variant", "validation", "limit")
"""Train settings the pipeline sets itself: the rows are templated already, validation is the
seed's split of them (val_ratio), and `limit` is the rows stage's."""
_GENERATE_EXCLUDED = ("model", "adapter", "variant")
"""Generation settings that come from the training stage (its model and adapter)."""


# -- the rows stage ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RowsConfig:
    """The settings of the rows stage."""

    limit: int | None = setting(None, help="The first N rows of the row files (in order); none: all.")

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be at least 1 (none: all)")


@dataclass(frozen=True)
class RowsReport:
    output: str
    rows: int
    files: int

    def summary(self) -> str:
        return f"{self.rows} student-code rows from {self.files} file(s) -> {self.output}"


def gather_rows(inputs: list[str], output: str | os.PathLike[str], config: RowsConfig) -> RowsReport:
    """The seed-004 rows of `inputs` (JSON array, JSONL or Parquet), each checked to be an
    `{"INPUT": {...}, "OUTPUT": str}` row, written to the JSONL file `output` (atomically). A row
    of another shape is an error naming its file and row; no rows at all is one too."""
    rows = 0
    with atomic_write(output) as f:
        for path in inputs:
            if config.limit is not None and rows >= config.limit:
                break
            for number, record in read_records(path):
                if config.limit is not None and rows >= config.limit:
                    break
                if not isinstance(record.get("INPUT"), dict):
                    raise TrainDataError(path, number, "/INPUT", "expected the object of a seed-004 row "
                                         "{\"INPUT\": {...}, \"OUTPUT\": str}")
                if not isinstance(record.get("OUTPUT"), str):
                    raise TrainDataError(path, number, "/OUTPUT", "expected the student's code (a string)")
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                rows += 1
        if not rows:
            raise ValueError(f"no student-code rows in {', '.join(inputs)}")  # nothing left behind
    return RowsReport(os.fspath(output), rows, len(inputs))


class StudentCodeRows(luigi_parameters(RowsConfig), StageTask):  # type: ignore[misc]
    """The row files the user brings, gathered into one checked JSONL file."""

    stage = "rows"
    config_class = RowsConfig
    rows = luigi.ListParameter(description="Seed 004 row files: the seed's JSON arrays "
                               "(train_exp1_without_context.json, …), JSONL or Parquet (JSON list).")

    def requires(self) -> list[ImportedFile]:
        if not self.rows:
            raise ValueError("--rows: give the seed-004 row files, e.g. '[\"train_exp1_without_context.json\"]'")
        return [ImportedFile(path=str(p)) for p in self.rows]

    def slug_parts(self) -> list[object]:
        return ["student-code", Path(str(self.rows[0])).stem if self.rows else None]

    def rows_path(self) -> Path:
        return self.output_dir() / ROWS_FILE

    def summary(self) -> str:
        report = json.loads(Path(self.output().path).read_text(encoding="utf-8"))["report"]
        return RowsReport(**report).summary()

    def run(self) -> None:
        report = gather_rows([t.path for t in self.requires()], self.rows_path(), self.config())
        write_manifest(self.output_dir(), dict(report.__dict__), self.config(), self.upstream_digests())
        self.progress(1, 1, report.summary())


# -- parameters shared down the graph ---------------------------------------------------------


class RowsParameters(luigi_parameters(RowsConfig),  # type: ignore[misc]
                     luigi_parameters(FormatConfig, exclude=_NOT_TEMPLATE),  # type: ignore[misc]
                     luigi_parameters(TrainConfig, exclude=_TRAIN_EXCLUDED)):  # type: ignore[misc]
    """What the stages up to training take: the rows, the template variant, the training settings."""

    rows = StudentCodeRows.rows
    variant = luigi.ChoiceParameter(choices=VARIANTS, default="exp1_without_context", var_type=str,
                                    description="Template variant: " + ", ".join(VARIANTS) + ".")

    def templates(self, files: Any = None) -> StudentCodeTemplates:
        """The templated rows of `files`, or of the training rows (`limit` is theirs; held-out
        rows have `generate_limit`)."""
        return StudentCodeTemplates(formatter="student-code", formatter_args={"variant": self.variant}, ext="jsonl",
                                    where=self.where, errors=self.errors, rows=self.rows if files is None else files,
                                    limit=self.limit if files is None else None,
                                    data_dir=self.data_dir)  # type: ignore[attr-defined]

    def training(self) -> StudentCodeTraining:
        return StudentCodeTraining(**{name: getattr(self, name) for name, _ in StudentCodeTraining.get_params()})


class StudentCodeTemplates(FormatStage):
    """The `student-code` formatter over the gathered rows: `{prompt, completion}` text."""

    rows = StudentCodeRows.rows
    limit = StudentCodeRows.limit

    def requires(self) -> StudentCodeRows:
        return StudentCodeRows(rows=self.rows, limit=self.limit, data_dir=self.data_dir)


class StudentCodeTraining(RowsParameters, StageTask):
    """`harness train` on the templated rows (harness.train.train)."""

    stage = "train"
    config_class = TrainConfig

    def requires(self) -> StudentCodeTemplates:
        return self.templates()

    def config(self) -> TrainConfig:
        return from_luigi(TrainConfig, self, limit=None)  # `limit` here is the rows stage's

    def slug_parts(self) -> list[object]:
        return [self.model, self.method, self.variant]  # type: ignore[attr-defined]

    def run(self) -> None:
        report = train([self.requires().rows_path()], self.output_dir(), self.config(), progress=False,
                       on_progress=lambda done, total, text: self.progress(done, total, text))
        self.set_status_message(report.summary())

    def weights(self) -> tuple[str, str | None]:
        """(model, adapter) to generate with: the base model and the trained adapter, or the
        full fine-tune's model directory and none."""
        report = json.loads(Path(self.output().path).read_text(encoding="utf-8"))["report"]
        weights = str(Path(report["weights"]).absolute())
        if report["method"] == "full":
            return weights, None
        return self.model, weights  # type: ignore[attr-defined]


class GenerationParameters(stage_parameters(GenerateConfig, "generate_", exclude=_GENERATE_EXCLUDED),  # type: ignore[misc]
                           RowsParameters):
    """The stages up to training's parameters, and the generation's (prefixed `generate_`)."""

    generate_rows = luigi.ListParameter(default=[], description="Row files to generate for (held-out rows, "
                                        "templated like the training rows); none: the training rows.")

    def generation(self) -> GenerateStudentCode:
        return GenerateStudentCode(**{name: getattr(self, name) for name, _ in GenerateStudentCode.get_params()})


class GenerateStudentCode(GenerationParameters, StageTask):
    """Student code sampled from the trained model for the rows of `generate_rows` (or the
    training rows): harness.train.generation.generate_code."""

    stage = "generations"
    config_class = GenerateConfig

    def requires(self) -> dict[str, StageTask]:
        return {"training": self.training(), "rows": self.templates(self.generate_rows or None)}

    def config(self) -> GenerateConfig:
        return GenerateConfig(**stage_settings(GenerateConfig, self, "generate_", exclude=_GENERATE_EXCLUDED))

    def content(self) -> dict[str, Any]:
        return content_settings(self.config())  # the model and adapter: the training stage's digest

    def slug_parts(self) -> list[object]:
        return [self.model, self.variant]  # type: ignore[attr-defined]

    def generations_path(self) -> Path:
        return self.output_dir() / GENERATIONS_FILE

    def summary(self) -> str:
        report = json.loads(Path(self.output().path).read_text(encoding="utf-8"))["report"]
        return (f"{report['rows']} generations: {report['with_code']} with a <code> block, "
                f"{report['submitted']} with <SUBMIT> -> {self.generations_path().absolute()}")

    def run(self) -> None:
        model, adapter = self.requires()["training"].weights()
        config = GenerateConfig(**{**vars(self.config()), "model": model, "adapter": adapter})
        self.progress(0, None, f"generating with {adapter or model}")
        report = generate_code([self.requires()["rows"].rows_path()], self.generations_path(), config)
        write_manifest(self.output_dir(), dict(report.__dict__), self.config(), self.upstream_digests())
        self.progress(1, 1, report.summary())


class StudentCodeFineTune(GenerationParameters, Pipeline):
    """Seed 004 end to end: rows, templates, fine-tuning, generation."""

    name = "student-code"

    def stages(self) -> list[Stage]:
        training = self.training()
        templates = training.requires()
        weights = "adapter" if self.method == "lora" else "model"  # type: ignore[attr-defined]
        stages = [Stage("rows", templates.requires(), (ROWS_FILE,)),
                  Stage("templates", templates, (templates.rows_path().name,)),
                  Stage("fine-tune", training, (weights, "loss.png", "log.jsonl"))]
        generation = self.generation()
        if self.generate_rows:
            held_out = generation.requires()["rows"]
            stages += [Stage("rows (generation)", held_out.requires(), (ROWS_FILE,)),
                       Stage("templates (generation)", held_out, (held_out.rows_path().name,))]
        return [*stages, Stage("generation", generation, (GENERATIONS_FILE,))]
