"""`harness format …`: turn episodes into training files (see docs/formats.md).

Subcommands: `list` (the formatters), `run` (any formatter over episodes), `summaries` (seed
002's summary datasets from search episodes), `prm-mc` (PRM samples with Monte Carlo labels)
and `seed000` (seed 000's command line, also `python -m harness.prepare_finetune_data`).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import click

from harness.formats.run import FormatConfig
from harness.formats.summaries import DatasetConfig, SummaryConfig
from harness.labels.prm_mc import McConfig
from harness.options import click_options, from_cli

_INPUTS = click.argument("inputs", metavar="EPISODES...", nargs=-1, required=True,
                         type=click.Path(exists=True, path_type=Path))


def _errors() -> tuple[type[BaseException], ...]:
    from harness.formats import FormatError
    from harness.jsonl import JsonlError
    from harness.plugins import PluginError

    return (FormatError, JsonlError, PluginError, TypeError, ValueError, LookupError, OSError, RuntimeError)


@click.group(name="format")
def format_() -> None:
    """Turn episodes into training files: JSONL or Parquet, by the output's extension.

    Every formatter reads episode records (rollout shards, verified episodes, or seed files
    imported with `harness import`); `harness format list` names them. A run that makes no
    row fails, saying why, unless --allow-empty.
    """


@format_.command(name="list")
def list_() -> None:
    """Every registered formatter, with what it reads and writes."""
    from harness.plugins import registry

    reg = registry()
    for name in reg.names("formatter"):
        click.echo(f"{name:24} {getattr(reg.get('formatter', name), 'description', '')}")


@format_.command(name="run")
@click.argument("formatter")
@_INPUTS
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write atomically: *.jsonl or *.parquet.")
@click_options(FormatConfig, exclude=["formatter"])
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(formatter: str, inputs: tuple[Path, ...], output: Path, quiet: bool, **values: Any) -> None:
    """Run FORMATTER (see `harness format list`) over EPISODES (files, or directories of episode
    shards) into OUTPUT, streaming.

    Supervised formatters (SFT, PRM, search) keep only episodes that succeeded unless
    --include-failed; --where and --verdict choose episodes explicitly. The summary line says
    how many episodes each filter left out.
    """
    from harness.formats import format_files

    try:
        config = from_cli(FormatConfig, values, formatter=formatter)
        report = format_files(list(inputs), output, config, progress=not quiet)
    except _errors() as err:
        raise click.ClickException(str(err)) from None
    click.echo(report.summary(), err=True)


@format_.command(name="summaries")
@_INPUTS
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Work directory: splits.jsonl, summarized.jsonl and the four dataset files.")
@click_options(SummaryConfig)
@click_options(DatasetConfig)
@click.option("--include-failed", is_flag=True, help="Also split search episodes that did not succeed.")
def summaries(inputs: tuple[Path, ...], output: Path, include_failed: bool, **values: Any) -> None:
    """Seed 002: search EPISODES → splits → LLM summaries → summary_prefix / summary_only
    train/val files in OUTPUT.

    Rerunning resumes: summaries already written are not asked for again. A run where every
    summary failed writes no dataset and exits 1.
    """
    from harness.formats import format_files
    from harness.formats.summaries import summarize_splits, summary_datasets
    from harness.plugins import get

    try:
        summary_config = from_cli(SummaryConfig, values)
        dataset_config = from_cli(DatasetConfig, values)
        os.makedirs(output, exist_ok=True)
        splits, summarized = output / "splits.jsonl", output / "summarized.jsonl"
        report = format_files(list(inputs), splits, FormatConfig(formatter="search-splits",
                                                                 include_failed=include_failed))
        click.echo(f"{report.records} episodes -> {report.rows} split samples", err=True)

        async def go():
            backend = get("backend", summary_config.backend)(**summary_config.backend_kwargs())
            try:
                return await summarize_splits(splits, summarized, backend, config=summary_config)
            finally:
                await backend.aclose()

        summary = asyncio.run(go())
        click.echo(f"summaries: {summary.summarized} written ({summary.resumed} resumed), {summary.failed} failed, "
                   f"{summary.requests} requests", err=True)
        datasets = summary_datasets(summarized, output, config=dataset_config)
    except _errors() as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"datasets: {datasets.train} train / {datasets.val} val rows each -> "
               + ", ".join(os.path.basename(f) for f in datasets.files), err=True)


@format_.command(name="prm-mc")
@_INPUTS
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write atomically: *.jsonl or *.parquet.")
@click_options(McConfig)
@click.option("--continuations-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also keep every continuation episode (JSONL), to audit the labels.")
def prm_mc(inputs: tuple[Path, ...], output: Path, continuations_out: Path | None, **values: Any) -> None:
    """PRM samples of data-analysis EPISODES with Monte Carlo labels: each step's label is the
    share of --samples-per-task continuations from it (played by --backend in the data-analysis
    environment) that reach a correct answer."""
    from harness.labels.prm_mc import write_mc_prm

    try:
        config = from_cli(McConfig, values)
        report = write_mc_prm(list(inputs), output, config, continuations_out=continuations_out)
    except _errors() as err:
        raise click.ClickException(str(err)) from None
    click.echo(report.summary(output), err=True)


@format_.command(name="seed000", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--input", "input_path", required=True, help="Seed 000 episodes JSONL file.")
@click.option("--format", "fmt", default="sft-standard", show_default=True,
              type=click.Choice(["sft-standard", "sft-interleaved", "prm"]))
@click.option("--output", help="Output file, .jsonl or .parquet (default: data/training/{input stem}_{format}.jsonl).")
@click.option("--include-unverified", is_flag=True,
              help="Keep episodes whose gold answer was not verified (default: verified only).")
@click.option("--label-mode", default="episode", show_default=True, type=click.Choice(["episode", "first-error", "mc"]),
              help="prm labels: episode (1.0 if verified, the seed's), first-error (step labels against the gold "
                   "trace) or mc (share of continuations by --backend that reach a correct answer).")
@click.option("--merge-assistant", is_flag=True,
              help="sft-standard: join consecutive assistant messages (turns without output).")
@click.option("--lenient", is_flag=True, help="Leave malformed lines out (counted) instead of stopping at the first.")
@click.option("--allow-empty", is_flag=True,
              help="Exit 0 when no episode is left to convert (nothing is written, as the seed did).")
@click_options(McConfig, exclude=["include_failed", "allow_empty"])
@click.option("--continuations-out", help="--label-mode mc: also keep every continuation episode (JSONL).")
def seed000(**values: Any) -> None:
    """Seed 000's command: a seed 000 episodes file → sft-standard, sft-interleaved or prm.

    The records are imported as episodes (what `harness import seed000` writes) and formatted
    (what `harness format run` does), one record at a time; the output is the seed's, byte for
    byte. The Monte Carlo options apply with --label-mode mc.
    """
    from harness.prepare_finetune_data import run_seed000

    sys.exit(run_seed000(values))
