"""`harness train …`: fine-tune a model on training files (see docs/training.md).

    harness train FILES… -o DIR [settings]           LoRA (or full) SFT over TRL; `harness train sft` too
    harness train progressive --multiturn … -o DIR   seed 002's three phases, each from the last's checkpoint
    harness train evaluate FILES… -o DIR             seed 002's two evaluation tasks, with an analysis
    harness train generate FILES… -o FILE            seed 004: sample student code from a trained adapter
    harness train accelerate-config -o FILE          a config for `accelerate launch` (several GPUs)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from harness.cli.default_group import DefaultGroup
from harness.options import click_options, from_cli
from harness.train.config import TrainConfig
from harness.train.evaluate import EvaluateConfig
from harness.train.generation import GenerateConfig


def _fail(err: Exception) -> None:
    click.echo(f"error: {err}", err=True)
    sys.exit(1)


def _user_errors() -> tuple[type[Exception], ...]:
    from harness.engine.lock import LockHeld
    from harness.plugins import PluginError
    from harness.train.data import TrainDataError
    from harness.train.templates import TemplateNotFound

    return (ValueError, TrainDataError, TemplateNotFound, LockHeld, PluginError, FileNotFoundError, OSError)


@click.group(cls=DefaultGroup, name="train", default_command="sft")
def train() -> None:
    """Fine-tune a model with TRL's SFTTrainer and a peft LoRA adapter (or fully).

    `harness train FILES… -o DIR` is `harness train sft`. Training files are those the formatters
    write (JSONL, Parquet, or a JSON array): conversations (loss on every assistant turn),
    prompt/completion rows (loss on the completion), seed-002 multi-turn, split and summary rows,
    seed-004 student-code rows. A rerun into DIR resumes from its latest checkpoint.
    """


@train.command(name="sft")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run directory: adapter/ (or model/), checkpoints/, log.jsonl, loss.png, manifest.json.")
@click_options(TrainConfig)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def sft(files: tuple[Path, ...], output: Path, quiet: bool, **values: Any) -> None:
    """Train on FILES into OUTPUT; a rerun resumes (after a crash or kill -9) or says it is done.

    Several GPUs: `accelerate launch --config_file CONFIG -m harness train FILES -o DIR`
    (see `harness train accelerate-config`).
    """
    from harness.train.sft import train as run

    try:
        config = from_cli(TrainConfig, values)
        report = run(list(files), output, config, progress=not quiet)
    except _user_errors() as err:
        _fail(err)
    click.echo(report.summary(), err=True)
    click.echo(f"written to {output}", err=True)


def _overrides(ctx: click.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The TrainConfig settings given on the command line (not left at their defaults), read
    and checked as TrainConfig reads them."""
    from click.core import ParameterSource

    given = [name for name in values if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)]
    config = from_cli(TrainConfig, dict(values))
    return {name: getattr(config, name) for name in given}


@train.command()
@click.option("--multiturn", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Phase 1: seed-002 multi-turn rows (search-multiturn).")
@click.option("--summary-only", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Phase 2: the summary-only training file.")
@click.option("--summary-prefix", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Phase 3: the summary-prefix training file.")
@click.option("--summary-only-val", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Validation file of phase 2 (instead of a split).")
@click.option("--summary-prefix-val", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Validation file of phase 3 (instead of a split).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory of the three phase runs.")
@click.option("--dry-run", is_flag=True, help="Print the plan (each phase's data, settings and start) and stop.")
@click_options(TrainConfig)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def progressive(ctx: click.Context, multiturn: Path, summary_only: Path, summary_prefix: Path,
                summary_only_val: Path | None, summary_prefix_val: Path | None, output: Path, dry_run: bool,
                quiet: bool, **values: Any) -> None:
    """Seed 002's progressive training: multi-turn (10 epochs, lr 1e-5), then summary-only from
    phase 1's latest checkpoint (10 epochs, 1e-5), then summary-prefix from phase 2's (5 epochs,
    5e-6). Settings given here override those of every phase (e.g. --epochs 1 for a quick run)."""
    from harness.train.progressive import PhaseFiles, plan_text, progressive_plan, run_progressive

    try:
        files = PhaseFiles(multiturn=str(multiturn), summary_only=str(summary_only),
                           summary_prefix=str(summary_prefix),
                           summary_only_val=str(summary_only_val) if summary_only_val else None,
                           summary_prefix_val=str(summary_prefix_val) if summary_prefix_val else None)
        overrides = _overrides(ctx, values)
        plan = progressive_plan(files, output, overrides)
        if dry_run:
            click.echo(plan_text(plan))
            return
        reports = run_progressive(plan, progress=not quiet)
    except _user_errors() as err:
        _fail(err)
    for phase, report in zip(plan, reports):
        click.echo(f"{phase.name}: {report.summary()}", err=True)
    click.echo(f"written to {output}", err=True)


@train.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory: results.jsonl, analysis.json, analysis.md, analysis.png.")
@click_options(EvaluateConfig)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def evaluate(files: tuple[Path, ...], output: Path, quiet: bool, **values: Any) -> None:
    """Seed 002's evaluation on summarized rows (summarized.jsonl, or the summary datasets):
    task 1 full context -> summary + reasoning, task 2 summary -> reasoning/answer, sampled through
    any backend; writes every sample and an analysis (a table and a PNG)."""
    from harness.train.evaluate import evaluate as run

    try:
        config = from_cli(EvaluateConfig, values)
        report = run(list(files), output, config, progress=not quiet)
    except _user_errors() as err:
        _fail(err)
    click.echo(report.summary(), err=True)
    click.echo(f"written to {output}", err=True)


@train.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSONL or Parquet file of generations.")
@click_options(GenerateConfig)
def generate(files: tuple[Path, ...], output: Path, **values: Any) -> None:
    """Seed 004: sample student code for the prompts of FILES (student-code rows), without a chat
    template, left-padded, at T 0.7 / top-p 0.8 / top-k 20; keeps the first <code>…</code> block
    and whether <SUBMIT> was written."""
    from harness.train.generation import generate_code

    try:
        config = from_cli(GenerateConfig, values)
        report = generate_code(list(files), output, config)
    except _user_errors() as err:
        _fail(err)
    click.echo(report.summary(), err=True)


@train.command(name="accelerate-config")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The YAML file for `accelerate launch --config_file`.")
@click.option("--strategy", type=click.Choice(["ddp", "fsdp", "deepspeed"]), default="ddp", show_default=True,
              help="Data parallel (DDP), fully sharded (FSDP) or DeepSpeed ZeRO.")
@click.option("--num-processes", type=click.IntRange(min=1), default=8, show_default=True,
              help="GPUs in all (every machine's together).")
@click.option("--num-machines", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--machine-rank", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--main-process-ip", default=None, help="Address of machine 0 (several machines).")
@click.option("--main-process-port", type=int, default=29500, show_default=True)
@click.option("--mixed-precision", type=click.Choice(["bf16", "fp16", "no"]), default="bf16", show_default=True)
@click.option("--zero-stage", type=click.IntRange(1, 3), default=2, show_default=True, help="DeepSpeed only.")
def accelerate_config(output: Path, **values: Any) -> None:
    """Write a config for `accelerate launch`: then run
    `accelerate launch --config_file FILE -m harness train FILES -o DIR` on each machine."""
    from harness.train.launch import LaunchConfig, write_accelerate_config

    try:
        write_accelerate_config(output, LaunchConfig(**values))
    except _user_errors() as err:
        _fail(err)
    click.echo(f"written to {output}; launch with: accelerate launch --config_file {output} "
               "-m harness train FILES -o DIR", err=True)
