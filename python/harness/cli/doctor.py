"""`harness doctor`: repair bad rollouts by cutting them back and continuing (see docs/doctoring.md).

    harness doctor EPISODES... -o OUT            the doctor stage over episode files
    harness doctor loop --loops N --results-dir DIR   seed 001's loop, to the final SFT file
    harness doctor reduce EXAMPLES -o OUT        token reduction of examples
    harness doctor collate EXAMPLES... -o OUT    the final SFT rows
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harness.cli.default_group import DefaultGroup
from harness.doctor.loop import LoopConfig
from harness.doctor.reduce import ReduceConfig
from harness.doctor.stage import DoctorConfig
from harness.options import click_options, from_cli

USER_ERRORS = (ValueError, LookupError, RuntimeError, OSError)


@click.group(cls=DefaultGroup, default_command="episodes")
def doctor() -> None:
    """Doctor bad rollouts: cut each back to its last state worth continuing, replay it into a
    fresh session and let a model continue (docs/doctoring.md).

    `harness doctor EPISODES... -o OUT` is the doctor stage (the same as `harness doctor
    episodes`); `harness doctor loop` is seed 001's iterative loop over a results directory,
    through to the final SFT file; `reduce` and `collate` are its last two steps on their own.
    """


@doctor.command()
@click.argument("episodes", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Directory for good.jsonl (the good episodes), doctored.jsonl (the children) and manifest.json.")
@click_options(DoctorConfig)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def episodes(episodes: tuple[str, ...], output: str, quiet: bool, **values: Any) -> None:
    """Doctor EPISODES (JSONL files, or directories of them) into OUTPUT.

    The best episode of each task is chosen across all inputs (good first, then reward, then
    fewest tokens); good ones are copied to good.jsonl; for the other tasks the environment cuts
    each episode back (its doctoring protocol: `salvage`, `salvage_quality`), the best cut is
    replayed and the backend continues it. Children (doctored.jsonl) name their parent, the
    steps kept and the reason. A rerun resumes; nothing to doctor exits 1 unless --allow-empty.
    """
    from harness.doctor.stage import doctor_files
    from harness.episode_files import episode_files

    try:
        config = from_cli(DoctorConfig, values)
        report = doctor_files(episode_files(episodes), output, config, progress=not quiet)
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{report.summary()} -> {output}", err=True)


@doctor.command()
@click.option("--results-dir", required=True, type=click.Path(file_okay=False),
              help="Directory of results_N.jsonl files (seed 001's); new results are added to it.")
@click.option("-o", "--output", type=click.Path(file_okay=False), default=None,
              help="Directory for the examples and the SFT file (default: RESULTS_DIR/sft).")
@click_options(LoopConfig)
@click.option("--reduce/--no-reduce", default=True, show_default=True,
              help="Reduce tokens (step 5) with the same backend before collating; for another model, "
                   "use --no-reduce and then `harness doctor reduce`.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def loop(results_dir: str, output: str | None, reduce: bool, quiet: bool, **values: Any) -> None:
    """Seed 001's iterative loop over RESULTS_DIR, then the final SFT file.

    Each loop analyses every results_N.jsonl (best rollout per puzzle, good or bad), truncates
    the bad ones, continues the salvageable ones and runs the missing puzzles fresh, and saves
    the new rollouts as the next results_N.jsonl. It prints `Loop k: G Good, B Bad | ...` and
    the salvageable / unsalvageable / missing counts, and stops when nothing is bad and nothing
    is missing. --loops N counts every loop the directory's journal (loops.json) records, so a
    rerun after a crash finishes what is missing. Then: good_examples.jsonl, reduced.jsonl,
    sft_examples.jsonl in OUTPUT, and stats.json / stats.md / good_per_loop.png in RESULTS_DIR.
    """
    from harness.doctor.pipeline import connections_sft

    out = Path(output) if output else Path(results_dir) / "sft"
    try:
        config = from_cli(LoopConfig, values)
        reduction = ReduceConfig(backend=config.backend, model=config.model, backend_args=config.backend_args,
                                 tokenizer=config.tokenizer, seed=config.seed) if reduce else None
        connections_sft(results_dir, out, config, reduction, say=click.echo, progress=not quiet)
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    if not config.dry_run:
        click.echo(f"loop: {results_dir} -> {out / 'sft_examples.jsonl'}", err=True)


@doctor.command("reduce")
@click.argument("examples", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The reduced examples (JSONL).")
@click_options(ReduceConfig)
def reduce_command(examples: str, output: str, **values: Any) -> None:
    """Shorten the reasoning of EXAMPLES (seed output rows) that are over the token limits.

    An LLM rewrites only the <think> content to a target length; a rewrite is kept only with
    exactly one <think>...</think> and the guess unchanged. Examples still over a limit are
    dropped and counted (Token Limit (Total) / (Generation)). A rerun asks only what is missing.
    """
    import json

    from harness.doctor.reduce import reduce_rows

    try:
        config = from_cli(ReduceConfig, values)
        with open(examples, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        report = reduce_rows(rows, output, config)
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{report.summary()} -> {output}", err=True)


@doctor.command()
@click.argument("examples", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The SFT file (JSONL).")
@click.option("--allow-empty", is_flag=True, help="Succeed (writing an empty file) when there is no example.")
def collate(examples: tuple[str, ...], output: str, allow_empty: bool) -> None:
    """The final SFT rows of EXAMPLES, validated; prints count, mean reward, mean accuracy and
    the share at accuracy 1.0."""
    from harness.doctor.collate import collate_files

    try:
        report = collate_files(examples, output, allow_empty=allow_empty)
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    for line in report.lines():
        click.echo(line)
    click.echo(f"{report.summary()} -> {output}", err=True)
