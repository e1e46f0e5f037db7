"""`harness format …`: turn episodes, traces and rows into training files (see docs/formats.md)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import click


def _options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`key=value` pairs; the value is read as JSON when it parses (`true`, `3`, `"x"`), else as text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}")
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out


@click.group(name="format")
def format_() -> None:
    """Formatters: episodes, traces and rows → JSONL or Parquet training files (by extension)."""


@format_.command(name="list")
def list_() -> None:
    """Every registered formatter, with what it reads and writes."""
    from harness.plugins import registry

    reg = registry()
    for name in reg.names("formatter"):
        click.echo(f"{name:24} {getattr(reg.get('formatter', name), 'description', '')}")


@format_.command(name="run")
@click.argument("formatter")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write atomically: *.jsonl or *.parquet.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Formatter option, e.g. --option label_mode=first-error --option include_unverified=true.")
@click.option("--errors", type=click.Choice(["raise", "skip"]), default="raise", show_default=True,
              help="Malformed lines and records the formatter cannot read: stop, or leave them out (counted).")
def run(formatter: str, files: tuple[Path, ...], output: Path, options: tuple[str, ...], errors: str) -> None:
    """Run FORMATTER over FILES into OUTPUT, streaming."""
    from harness.formats import FormatError, format_file, get_formatter
    from harness.jsonl import JsonlError
    from harness.plugins import PluginError

    try:
        report = format_file(get_formatter(formatter, **_options(options)), list(files), output, errors=errors)  # type: ignore[arg-type]
    except (FormatError, JsonlError, PluginError, TypeError, ValueError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    rate = report.records / report.seconds if report.seconds else 0.0
    click.echo(f"{report.formatter}: {report.records} records -> {report.rows} rows in {report.output} "
               f"({report.malformed} malformed, {report.invalid} unreadable; {rate:,.0f} records/s)", err=True)


@format_.command(name="summaries")
@click.argument("traces", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--work-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where splits.jsonl, summarized.jsonl and the datasets go.")
@click.option("--backend", required=True, help="Registered backend: scripted, transformers, openai, ...")
@click.option("--backend-arg", "backend_args", multiple=True, metavar="KEY=VALUE", help="Backend keyword argument.")
@click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True)
@click.option("--ext", type=click.Choice(["jsonl", "parquet"]), default="parquet", show_default=True)
@click.option("--val-ratio", type=float, default=0.1, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
def summaries(traces: tuple[Path, ...], work_dir: Path, backend: str, backend_args: tuple[str, ...],
              concurrency: int, retries: int, ext: str, val_ratio: float, seed: int) -> None:
    """Seed 002: TRACES → splits → LLM summaries → summary_prefix / summary_only train/val files.

    Rerunning resumes: summaries already written are not asked for again.
    """
    from harness.formats.search import split_traces
    from harness.formats.summaries import summarize_splits, summary_datasets
    from harness.plugins import get

    os.makedirs(work_dir, exist_ok=True)
    splits, summarized = work_dir / "splits.jsonl", work_dir / "summarized.jsonl"
    n_traces, n_splits = split_traces(list(traces), splits)
    click.echo(f"{n_traces} traces -> {n_splits} split samples", err=True)

    async def go():
        instance = get("backend", backend)(**_options(backend_args))
        try:
            return await summarize_splits(splits, summarized, instance, concurrency=concurrency, retries=retries)
        finally:
            await instance.aclose()

    report = asyncio.run(go())
    click.echo(f"summaries: {report.summarized} written ({report.resumed} resumed), {report.failed} failed, "
               f"{report.requests} requests", err=True)
    datasets = summary_datasets(summarized, work_dir, ext=ext, val_ratio=val_ratio, seed=seed)
    click.echo(f"datasets: {datasets.train} train / {datasets.val} val rows each -> "
               + ", ".join(os.path.basename(f) for f in datasets.files), err=True)
