"""`harness rollouts generate`: run the rollout engine from the command line."""

from __future__ import annotations

import json
from typing import Any

import click


def _json_object(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("expected a JSON object, e.g. '{\"max_turns\": 6}'")
    return parsed


@click.group()
def rollouts() -> None:
    """Generate multi-turn rollouts (episode records) with any environment and backend."""


@rollouts.command()
@click.option("--env", "env_name", required=True, help="Environment plugin, e.g. connections.")
@click.option("--env-args", callback=_json_object, help="Environment arguments as a JSON object.")
@click.option("--backend", default="transformers", show_default=True,
              help="transformers, vllm, openai, scripted, or a plugin's backend.")
@click.option("--model", default=None, help="Model for the backend (default: its own; the embedded SmolLM2 for transformers).")
@click.option("--backend-args", callback=_json_object,
              help="Backend arguments as a JSON object, e.g. '{\"base_url\": \"http://127.0.0.1:8000/v1\"}'.")
@click.option("--split", default=None, help="Tasks of this split only.")
@click.option("--task", "task_ids", multiple=True, help="This task only (repeatable).")
@click.option("--limit", type=int, default=None, help="The first N selected tasks only.")
@click.option("--samples", "samples_per_task", type=int, default=1, show_default=True, help="Episodes per task.")
@click.option("--temperature", type=float, default=0.7, show_default=True)
@click.option("--top-p", type=float, default=1.0, show_default=True)
@click.option("--top-k", type=int, default=-1, show_default=True, help="-1: no top-k cut-off.")
@click.option("--max-tokens", type=int, default=256, show_default=True, help="Per model turn.")
@click.option("--stop", multiple=True, help="Stop string (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="The run's seed; episode seeds derive from it.")
@click.option("--max-turns", type=int, default=64, show_default=True, help="Safety cap on model turns per episode.")
@click.option("--shards", "num_shards", type=int, default=1, show_default=True)
@click.option("--shard", "shard_index", type=int, default=None, help="Generate this shard only (0-based); default: all.")
@click.option("--concurrency", type=int, default=256, show_default=True, help="Live episodes at a time.")
@click.option("--chunk-size", type=int, default=16, show_default=True, help="Episodes per atomic commit.")
@click.option("--keep-prompt-ids", is_flag=True, help="Also store each turn's prompt token ids (large).")
@click.option("--wait", is_flag=True,
              help="If another process is writing a shard of OUT, wait for it instead of stopping.")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def generate(env_name: str, out_dir: str, shard_index: int | None, concurrency: int, chunk_size: int,
             keep_prompt_ids: bool, wait: bool, quiet: bool, task_ids: tuple[str, ...],
             stop: tuple[str, ...], **settings: Any) -> None:
    """Generate episodes into OUT/shard-*.jsonl, resuming what an earlier run left.

    A rerun into the same directory skips the episodes already committed (a crash loses at
    most the last --chunk-size episodes) and refuses to mix settings: any setting that decides
    the episodes (the shard count, sampling, the model and the backend arguments that decide
    what it answers) must be the same. One process at a time writes a shard; a second one
    stops, naming the first (or waits for it, with --wait).
    """
    from harness.engine import RolloutConfig, generate_shard
    from harness.engine import generate as generate_all
    from harness.engine.lock import LockHeld

    options = {"concurrency": concurrency, "chunk_size": chunk_size,
               "keep_prompt_ids": keep_prompt_ids, "progress": not quiet, "wait": wait}
    try:
        config = RolloutConfig(env=env_name, task_ids=list(task_ids) or None, stop=list(stop), **settings)
        if shard_index is None:
            manifests = generate_all(config, out_dir, **options)
        else:
            manifests = [generate_shard(config, out_dir, shard_index, **options)]
    except (ValueError, LookupError, LockHeld, OSError) as exc:
        # bad settings, unknown plugin, mismatched resume, another writer, an unwritable OUT
        raise click.ClickException(str(exc)) from None
    for m in manifests:
        counts = m["counts"]
        click.echo(
            f"{out_dir}/{m['shard']['path']}: {counts['episodes']} episodes, {counts['failed']} failed, "
            f"{counts['succeeded']} succeeded, {counts['completion_tokens']} completion tokens"
        )
