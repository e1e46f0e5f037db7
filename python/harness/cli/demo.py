"""`harness demo`: the main job on the embedded default until the rollout engine lands.

It writes a realistic synthetic rollout file (every record a valid episode) and runs each
fastjsonl operation on it, printing what each did and how fast.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from harness import jsonl as fj
from harness.synthetic import write_synthetic_episodes


def _timed(label: str, size: int, action: Any) -> Any:
    start = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - start
    click.echo(f"{label:<44} {seconds:6.2f} s  {size / 1e9 / max(seconds, 1e-9):5.2f} GB/s")
    return result


@click.command()
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data/demo"), show_default=True, help="Where the files go.")
@click.option("--size-mb", type=click.IntRange(min=1), default=256, show_default=True, help="Size of the synthetic rollout file.")
@click.option("--unique-tasks", type=click.IntRange(min=1), default=20_000, show_default=True, help="Distinct task ids among the rollouts.")
@click.option("--seed", type=int, default=0, show_default=True)
def demo(out_dir: Path, size_mb: int, unique_tasks: int, seed: int) -> None:
    """Generate synthetic rollouts and run every fastjsonl operation on them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rollouts = out_dir / "rollouts.jsonl"
    start = time.perf_counter()
    stats = write_synthetic_episodes(rollouts, target_bytes=size_mb * 1_000_000, unique_tasks=unique_tasks, seed=seed)
    click.echo(
        f"wrote {stats.records:,} synthetic episodes ({stats.bytes / 1e6:,.0f} MB, {stats.unique_tasks:,} tasks) "
        f"to {rollouts} in {time.perf_counter() - start:.1f} s\n"
    )
    size = stats.bytes

    report = _timed("scan: validate every line", size, lambda: fj.scan(rollouts))
    click.echo(f"  {report.records:,} records, {report.malformed} malformed, {report.blank_lines} blank lines")

    best = out_dir / "best_per_task.jsonl"
    report = _timed("dedup: best reward per /task/id", size, lambda: fj.dedup(rollouts, best, "/task/id", score="/reward"))
    click.echo(f"  {report.records:,} records -> {report.written:,} (one per task) in {best}")

    report = _timed("count_by: episodes per /env/name", size, lambda: fj.count_by(rollouts, "/env/name"))
    click.echo("  " + ", ".join(f"{k}: {n:,}" for k, n in report.counts.items()))

    good = out_dir / "successful.jsonl"
    report = _timed(
        "filter: /outcome/success, /reward >= 0.5",
        size,
        lambda: fj.filter(rollouts, good, [("/outcome/success", "==", True), ("/reward", ">=", 0.5)]),
    )
    click.echo(f"  {report.written:,} of {report.records:,} records kept in {good}")

    searches = out_dir / "search_splits.jsonl"
    report = _timed(
        "split: search episodes at each search step",
        size,
        lambda: fj.split(
            rollouts, searches, "/steps", on=("/status/label", "search"), carry=["/episode_id", "/task"], missing="skip"
        ),
    )
    click.echo(f"  {report.written:,} context/response samples in {searches}")

    start = time.perf_counter()
    n = sum(1 for _ in fj.read(best, fields=["/task/id", "/reward"]))
    click.echo(f"{'read: /task/id and /reward of the winners':<44} {time.perf_counter() - start:6.2f} s  ({n:,} records)")
