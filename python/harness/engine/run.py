"""Generate the shards of a rollout run: plan, resume, run the episodes, commit, write manifests.

    from harness.engine import RolloutConfig, generate
    config = RolloutConfig(env="connections", backend="transformers", limit=8, max_tokens=128)
    manifests = generate(config, "data/rollouts/connections")

`generate_shard` does one shard (what a Luigi `GenerateRolloutShard` runs); `generate` does all
of them in one process with one backend. Both resume: a rerun into the same directory skips the
episodes already committed and refuses to mix in episodes generated with other settings.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from harness import __version__, jsonl, plugins
from harness.atomic import atomic_write
from harness.backends.base import Backend
from harness.engine.config import RolloutConfig, plan, shard_items
from harness.engine.episodes import RunContext, run_episodes
from harness.engine.progress import Progress
from harness.engine.shard import ShardStore
from harness.environment import Environment
from harness.episode import Episode, ErrorInfo, utc_now, validate_episode

SECRET_ARGS = {"api_key"}
"""Backend arguments never written to manifests."""


def build_env(config: RolloutConfig) -> Environment:
    return plugins.get("environment", config.env)(**config.env_args)


def build_backend(config: RolloutConfig) -> Backend:
    kwargs = dict(config.backend_args)
    if config.model is not None:
        kwargs["model"] = config.model
    return plugins.get("backend", config.backend)(**kwargs)


def content_settings(config: RolloutConfig) -> dict[str, Any]:
    """The settings that decide what the episodes contain: a rerun must match them to resume.
    (Backend arguments such as concurrency, timeouts or the server address may change.)"""
    settings = config.to_dict()
    settings.pop("backend_args")
    return settings


def generate_shard(
    config: RolloutConfig,
    out_dir: str | os.PathLike[str],
    shard_index: int = 0,
    *,
    backend: Backend | None = None,
    env: Environment | None = None,
    concurrency: int = 256,
    chunk_size: int = 16,
    commit_every: float = 10.0,
    keep_prompt_ids: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate (or finish) one shard and return its manifest."""
    return asyncio.run(agenerate_shard(
        config, out_dir, shard_index, backend=backend, env=env, concurrency=concurrency,
        chunk_size=chunk_size, commit_every=commit_every, keep_prompt_ids=keep_prompt_ids,
        progress=progress,
    ))


def generate(
    config: RolloutConfig, out_dir: str | os.PathLike[str], **options: Any
) -> list[dict[str, Any]]:
    """Every shard of the run, one after the other, sharing one backend; then the run manifest."""

    async def all_shards() -> list[dict[str, Any]]:
        backend = options.pop("backend", None) or build_backend(config)
        try:
            return [await agenerate_shard(config, out_dir, i, backend=backend, **options)
                    for i in range(config.num_shards)]
        finally:
            await backend.aclose()

    manifests = asyncio.run(all_shards())
    write_run_manifest(out_dir, manifests)
    return manifests


async def agenerate_shard(
    config: RolloutConfig,
    out_dir: str | os.PathLike[str],
    shard_index: int = 0,
    *,
    backend: Backend | None = None,
    env: Environment | None = None,
    concurrency: int = 256,
    chunk_size: int = 16,
    commit_every: float = 10.0,
    keep_prompt_ids: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    store = ShardStore(out_dir, shard_index, config.num_shards, chunk_size=chunk_size,
                       commit_every=commit_every)
    settings = content_settings(config)
    finished = store.finished_manifest(settings)
    if finished is not None:
        return finished
    registry = plugins.registry()
    env = env or build_env(config)
    own_backend = backend is None
    backend = backend or build_backend(config)
    try:
        items = shard_items(plan(env, config, backend.model_name), shard_index, config.num_shards)
        done = store.open(settings)
        todo = [item for item in items if item.episode_id not in done]
        ctx = RunContext(env=env, backend=backend, config=config, run_id=uuid.uuid4().hex,
                         plugins=registry.versions(), keep_prompt_ids=keep_prompt_ids)
        bar = Progress(len(items), done=len(items) - len(todo),
                       label=f"{config.env} shard {shard_index + 1}/{config.num_shards}",
                       enabled=progress)

        def on_episode(episode: Episode) -> None:
            store.add(finished_line(registry, episode))
            bar.update(episode)

        try:
            await run_episodes(ctx, todo, on_episode, concurrency=concurrency)
        finally:
            bar.close()
    finally:
        if own_backend:
            await backend.aclose()
    manifest = shard_manifest(store, config, env, backend, shard_index, ctx.run_id, registry.versions())
    manifest["settings"] = settings
    store.finish(manifest)
    return manifest


def finished_line(registry: plugins.Registry, episode: Episode) -> str:
    """The JSON line of a finished episode, after the `episode_finished` hooks had their say.

    Hooks receive the record as a dict and may amend it; the result must still be a valid
    episode. A hook that raises or breaks the record marks the episode failed instead."""
    record = episode.to_dict()
    try:
        registry.hook.episode_finished(episode=record)
        return validate_episode(record, path="<episode_finished hook>").to_json_line()
    except Exception as exc:
        failed = episode.model_copy(update={"error": ErrorInfo(
            type=type(exc).__name__, message=f"episode_finished hook: {exc}")})
        return failed.to_json_line()


def shard_manifest(
    store: ShardStore,
    config: RolloutConfig,
    env: Environment,
    backend: Backend,
    shard_index: int,
    run_id: str,
    plugin_versions: dict[str, str],
) -> dict[str, Any]:
    """Provenance and counts of a shard, counted from its committed chunks."""
    store.commit()
    reasons: Counter[str] = Counter()
    episodes = failed = succeeded = prompt_tokens = completion_tokens = 0
    chunks = store.chunk_files()
    fields = ["/error/type", "/outcome/reason", "/outcome/success",
              "/usage/prompt_tokens", "/usage/completion_tokens"]
    for record in jsonl.read(chunks, fields=fields) if chunks else []:
        episodes += 1
        failed += "/error/type" in record
        succeeded += record.get("/outcome/success") is True
        reasons[str(record.get("/outcome/reason"))] += 1
        prompt_tokens += record.get("/usage/prompt_tokens") or 0
        completion_tokens += record.get("/usage/completion_tokens") or 0
    backend_args = {k: v for k, v in config.backend_args.items() if k not in SECRET_ARGS}
    return {
        "shard": {"index": shard_index, "count": config.num_shards, "path": store.path.name},
        "counts": {
            "episodes": episodes,
            "failed": failed,
            "succeeded": succeeded,
            "outcome_reasons": dict(sorted(reasons.items())),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        },
        "env": {"name": env.name, "version": env.version, "args": dict(env.args)},
        "tasks": {"split": config.split, "task_ids": config.task_ids, "limit": config.limit,
                  "samples_per_task": config.samples_per_task},
        "model": {"name": backend.model_name, "backend": backend.name, "backend_args": backend_args},
        "sampling": config.sampling().model_dump(mode="json", exclude_none=True),
        "seed": config.seed,
        "max_turns": config.max_turns,
        "provenance": {
            "harness_version": __version__,
            "plugins": plugin_versions,
            "created_at": utc_now(),
            "host": socket.gethostname(),
            "last_run_id": run_id,
        },
    }


def write_run_manifest(out_dir: str | os.PathLike[str], manifests: list[dict[str, Any]]) -> Path:
    """`out_dir/manifest.json`: every shard's file and counts, and the run's totals."""
    path = Path(out_dir) / "manifest.json"
    totals: Counter[str] = Counter()
    for m in manifests:
        for key, value in m["counts"].items():
            if isinstance(value, int):
                totals[key] += value
    with atomic_write(path) as f:
        json.dump({"shards": [{"path": m["shard"]["path"], **m["counts"]} for m in manifests],
                   "totals": dict(totals)}, f, indent=2, sort_keys=True)
        f.write("\n")
    return path
