"""`harness rollouts generate`: run the rollout engine from the command line."""

from __future__ import annotations

from typing import Any

import click

from harness.engine.config import RolloutConfig
from harness.options import click_options, from_cli


@click.group()
def rollouts() -> None:
    """Generate multi-turn rollouts (episode records) with any environment and backend."""


@rollouts.command()
@click_options(RolloutConfig)
@click.option("--shard-index", type=int, default=None,
              help="Generate this shard only (0-based), as one Luigi shard task does; default: every shard.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Output directory of the run (shards, manifests).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def generate(output: str, shard_index: int | None, quiet: bool, **values: Any) -> None:
    """Generate episodes into OUTPUT/shard-*.jsonl, resuming what an earlier run left.

    A rerun into the same directory skips the episodes already committed (a crash loses at
    most the last --chunk-size episodes) and refuses to mix settings: any setting that decides
    the episodes (the shard count, sampling, the model and the backend arguments that decide
    what it answers) must be the same. One process at a time writes a shard; a second one
    stops, naming the first (or waits for it, with --wait). Every option is also a parameter
    of the Luigi task `luigi_tasks.rollouts.GenerateRollouts`, under the same name.
    """
    from harness.engine import generate as generate_all
    from harness.engine import generate_shard
    from harness.engine.lock import LockHeld
    from harness.engine.progress import run_summary

    try:
        config = from_cli(RolloutConfig, values)
        if shard_index is None:
            manifests = generate_all(config, output, progress=not quiet)
        else:
            manifests = [generate_shard(config, output, shard_index, progress=not quiet)]
    except (ValueError, LookupError, LockHeld, OSError) as exc:
        # bad settings, unknown plugin, mismatched resume, another writer, an unwritable OUTPUT
        raise click.ClickException(str(exc)) from None
    for m in manifests:
        counts = m["counts"]
        click.echo(
            f"{output}/{m['shard']['path']}: {counts['episodes']} episodes, {counts['failed']} failed, "
            f"{counts['succeeded']} succeeded, {counts['completion_tokens']} completion tokens"
        )
    click.echo(run_summary(manifests, output), err=True)
