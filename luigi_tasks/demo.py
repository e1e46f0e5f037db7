"""The main job (`make demo`): the whole harness on the embedded SmolLM2-135M, in one command.

    luigi --module luigi_tasks.demo MainJob --local-scheduler
    python -m luigi_tasks.demo            # prints the finished job's summary again (make demo does)

Left to itself, a 135M model never writes the game's `<guess>` tag, so generation alone shows
nothing. The job first teaches it the Connections game's answer format with a short LoRA SFT on
games the environment plays perfectly itself, then plays, verifies, doctors and formats with the
adapter, and compares with the base model on the same puzzles. The graph (each box an existing
stage task with its own content-addressed directory):

    GenerateRollouts  the oracle's games (backend connections-oracle) on --train-puzzles train puzzles
    VerifyRollouts    the base model's games on --eval-puzzles test puzzles, judged by connections-rules
    FormatEpisodes    the oracle's games as trl-messages rows
    TrainSFT          LoRA SFT of the embedded model on those rows (--train-* settings)
    DoctorRollouts    the same test puzzles played with the adapter (GenerateRollouts, VerifyRollouts),
                      its bad games cut back and continued by the adapter
    FormatEpisodes    the won games and the doctored games that now win, as trl-messages rows
    MainJob           the report: figures counted from the episodes, report.html (the rollout viewer
                      with the plots), summary.txt (printed at the end), manifest.json

The stages after the first two are dynamic dependencies (yielded from `run`): each one's input is
a file the stage before writes (the adapter's path, say), so it is built once that stage is done.
See docs/main_job.md.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import luigi
from luigi.freezing import recursively_unfreeze

from harness.atomic import atomic_write
from harness.report import game_figures, write_main_job_report
from harness.train.config import TrainConfig
from harness.train.export import export_model
from luigi_tasks.doctor import DoctorRollouts
from luigi_tasks.formats import FormatEpisodes
from luigi_tasks.pipeline import stage_parameters, stage_settings
from luigi_tasks.rollouts import GenerateRollouts, VerifyRollouts
from luigi_tasks.stage import StageTask
from luigi_tasks.train import TrainSFT

__all__ = ["ENV_DEFAULTS", "TRAIN_DEFAULTS", "MainJob"]

log = logging.getLogger("luigi-interface")

ENV, ORACLE, VERIFIER, FORMATTER = "connections", "connections-oracle", "connections-rules", "trl-messages"

ENV_DEFAULTS: dict[str, Any] = {"max_turns": 4}
"""A game gets 4 turns (the environment's own default is 10): the base model's games use every
turn up, and on a CPU each turn costs the prefill of the whole conversation so far."""

TRAIN_DEFAULTS: dict[str, Any] = {
    "max_steps": 10, "learning_rate": 2e-3, "lr_scheduler": "constant", "batch_size": 2,
    "gradient_accumulation_steps": 1, "max_length": 480, "val_ratio": 0.0, "save_steps": 1000,
}
"""The demo's training size (docs/main_job.md: what it costs on a 2-core CPU): 20 of the oracle's
games, each cut after its first turn (480 tokens hold the rules, the board and the first guess;
the later turns would triple a step's cost), seen once at a high learning rate, one checkpoint at
the end."""


class ExportModel(StageTask):
    """The base model as a plain transformers directory (`harness model export`), which the four
    stages that load it share: a `.gguf` model takes half a minute of CPU to dequantize at each
    load, a directory a few seconds (the embedded default is converted once per machine anyway)."""

    stage = "models"
    config_class = type(None)
    model = luigi.Parameter(description="The model to export: the embedded default or any `harness train --model`.")

    def slug_parts(self) -> list[object]:
        return [self.model]

    def content(self) -> dict[str, Any]:
        return {"model": self.model, "dtype": "float32"}

    def model_dir(self) -> Path:
        return self.output_dir() / "model"

    def run(self) -> None:
        self.progress(0, None, f"exporting {self.model}")
        shutil.rmtree(self.model_dir(), ignore_errors=True)  # what a killed export left
        report = export_model(self.model, self.model_dir())
        with atomic_write(self.output_dir() / "manifest.json") as f:
            json.dump({"report": {"model": report.model, "parameters": report.parameters},
                       "settings": self.content()}, f, indent=2)
            f.write("\n")
        self.progress(1, 1, f"{self.model}: {report.parameters} parameters -> {self.model_dir().absolute()}")


class MainJob(stage_parameters(TrainConfig, "train_", defaults=TRAIN_DEFAULTS), StageTask):  # type: ignore[misc]
    """Teach the embedded model the game's format on the oracle's games, then generate, verify,
    doctor and format with the adapter, and report before and after."""

    stage = "main_job"
    config_class = type(None)

    env_args = luigi.DictParameter(
        default=ENV_DEFAULTS, description="Arguments of the connections environment for every game, the "
        "oracle's and the model's (docs/connections.md): the bank's 200 generated 4x4 puzzles, 4 turns a game.")
    train_puzzles = luigi.IntParameter(default=24, description="Train-split puzzles the oracle plays: the "
                                       "training games (one SFT row each).")
    eval_puzzles = luigi.IntParameter(default=6, description="Test-split puzzles the base model and the "
                                      "adapter play: the before and after figures.")
    max_tokens = luigi.IntParameter(default=64, description="Most tokens per model turn.")
    temperature = luigi.FloatParameter(default=0.7, description="Sampling temperature of the model's games.")
    seed = luigi.IntParameter(default=0, description="Seed of the model's games (the same for before and after).")
    min_salvage_quality = luigi.FloatParameter(default=0.0, description="Bad games whose cut is below this "
                                               "salvage quality are not doctored (docs/doctoring.md).")

    def slug_parts(self) -> list[object]:
        return [ENV]

    def content(self) -> dict[str, Any]:
        params = dict(self.get_params())
        return {name: recursively_unfreeze(value) for name, value in self.param_kwargs.items()
                if params[name].significant}

    def upstream_digests(self) -> list[str]:
        return []  # every stage is built from this task's parameters, all in content()

    # -- the stages ----------------------------------------------------------------------------

    def env(self) -> dict[str, Any]:
        return recursively_unfreeze(self.env_args)

    def base_model(self) -> ExportModel:
        return ExportModel(model=self.train_model, data_dir=self.data_dir)

    def games(self, **backend_args: Any) -> dict[str, Any]:
        """The settings of the model's games: the test puzzles, the base model."""
        return {"env": ENV, "env_args": self.env(), "backend": "transformers", "backend_args": backend_args,
                "model": str(self.base_model().model_dir()),
                "split": "test", "limit": self.eval_puzzles, "max_tokens": self.max_tokens,
                "temperature": self.temperature, "seed": self.seed, "data_dir": self.data_dir}

    def oracle(self) -> GenerateRollouts:
        return GenerateRollouts(env=ENV, env_args=self.env(), backend=ORACLE, backend_args={"env_args": self.env()},
                                split="train", limit=self.train_puzzles, data_dir=self.data_dir)

    def base(self) -> VerifyRollouts:
        return VerifyRollouts(verifier=VERIFIER, **self.games())

    def oracle_rows(self) -> FormatEpisodes:
        return FormatEpisodes(formatter=FORMATTER, ext="jsonl", episodes=[str(self.oracle().output_dir())],
                              data_dir=self.data_dir)

    def training(self) -> TrainSFT:
        settings = stage_settings(TrainConfig, self, "train_") | {"model": str(self.base_model().model_dir())}
        return TrainSFT(inputs=[str(self.oracle_rows().rows_path())], data_dir=self.data_dir, **settings)

    def adapter(self) -> Path:
        return self.training().output_dir() / "adapter"

    def doctored(self) -> DoctorRollouts:
        return DoctorRollouts(verifier=VERIFIER, min_salvage_quality=self.min_salvage_quality, allow_empty=True,
                              **self.games(adapter=str(self.adapter())))

    def doctored_rows(self) -> FormatEpisodes:
        directory = self.doctored().output_dir()
        return FormatEpisodes(formatter=FORMATTER, ext="jsonl", allow_empty=True, data_dir=self.data_dir,
                              episodes=[str(directory / "good.jsonl"), str(directory / "doctored.jsonl")])

    def requires(self) -> list[luigi.Task]:
        return [self.base_model()]

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> Iterator[Any]:
        self.progress(0, 6, "the oracle's and the base model's games")
        yield [self.oracle(), self.base()]
        self.progress(1, 6, "formatting the oracle's games")
        yield self.oracle_rows()
        self.progress(2, 6, "training the adapter")
        yield self.training()
        self.progress(3, 6, "playing with the adapter, verifying, doctoring")
        yield self.doctored()
        self.progress(4, 6, "formatting the good and doctored games")
        yield self.doctored_rows()
        self.progress(5, 6, "writing the report")
        text = self.report()
        self.set_status_message(text)
        self.set_progress_percentage(100)
        print(text, flush=True)

    def report(self) -> str:
        oracle, base, doctored = self.oracle().output_dir(), self.base().output_dir(), self.doctored()
        adapter_games = doctored.requires().output_dir()
        children = doctored.output_dir() / "doctored.jsonl"
        doctor = json.loads((doctored.output_dir() / "manifest.json").read_text(encoding="utf-8"))["report"]
        stages = [game_figures("oracle (training games)", [oracle]), game_figures("base model", [base]),
                  game_figures("with the adapter", [adapter_games])]
        if doctor["doctored"]:
            stages.append(game_figures("doctored by the adapter", [children]))
        before, after = stages[1], stages[2]
        rescued = doctor["good"] + doctor["succeeded"]
        good_bad = [("base model", before.wins, before.episodes - before.wins),
                    ("with the adapter", doctor["good"], doctor["bad"]),
                    ("after doctor loop 1", rescued, doctor["tasks"] - rescued)]
        training = self.training().output_dir()
        rows = self.doctored_rows().rows_path()
        outputs = {
            "oracle games": oracle, "SFT rows (oracle)": self.oracle_rows().rows_path(),
            "LoRA adapter": self.adapter(), "loss curve": training / "loss.png", "training log": training / "log.jsonl",
            "base model games": base, "adapter games": adapter_games, "doctored": doctored.output_dir(),
            "SFT rows (good + doctored)": rows,
        }
        notes = honest_notes(before, after, doctor)
        report = write_main_job_report(
            self.output_dir(), stages=stages, good_bad=good_bad, loss_log=training / "log.jsonl",
            episodes=[base, adapter_games, children], outputs=outputs, notes=notes)
        with atomic_write(self.output_dir() / "manifest.json") as f:
            json.dump({"task": self.task_id, "settings": self.content(), "figures": str(report.figures),
                       "report": str(report.page), "summary": str(report.summary),
                       "outputs": {k: str(Path(v).absolute()) for k, v in outputs.items()},
                       "doctor": doctor}, f, indent=2, sort_keys=True)
            f.write("\n")
        return f"{self.task_id}: done\n{report.text}this summary: {report.summary}"


def honest_notes(before: Any, after: Any, doctor: dict[str, Any]) -> list[str]:
    """What the figures say, in words, including when the adapter did not help."""
    def rate(s: Any) -> float:
        return s.valid_turns / s.turns if s.turns else 0.0

    notes = [f"valid turns {before.valid_turns}/{before.turns} -> {after.valid_turns}/{after.turns}; "
             f"won {before.wins}/{before.episodes} -> {after.wins}/{after.episodes}; "
             f"mean reward {before.mean_reward:.3f} -> {after.mean_reward:.3f}; "
             f"doctoring: {doctor['salvageable']} salvageable, {doctor['doctored']} continued, "
             f"{doctor['succeeded']} now won"]
    if rate(after) <= rate(before):
        notes.append("The adapter did not raise the share of valid turns at this size: train longer "
                     "(--train-max-steps) or on more games (--train-puzzles).")
    if not doctor["salvageable"]:
        notes.append("No bad game had a correct guess to keep (a cut needs one), so doctoring continued none.")
    notes.append("The test puzzles combine the same themed categories as the training games (the bank): "
                 "wins measure what the model learnt of this bank, not Connections in general.")
    return notes


def main(argv: list[str]) -> int:
    """Print the summary of the finished main job with these parameters (as `luigi` takes them)."""
    from luigi.cmdline_parser import CmdlineParser

    with CmdlineParser.global_instance(["MainJob", *argv]) as parser:
        task = parser.get_task_obj()
    summary = task.output_dir() / "summary.txt"
    if not summary.exists():
        print(f"the main job has not finished: no {summary.absolute()}; run "
              "luigi --module luigi_tasks.demo MainJob --local-scheduler", file=sys.stderr)
        return 1
    print(summary.read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
