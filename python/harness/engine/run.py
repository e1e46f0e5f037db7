"""Generate the shards of a rollout run: plan, resume, run the episodes, commit, write manifests.

    from harness.engine import RolloutConfig, generate
    config = RolloutConfig(env="connections", backend="transformers", limit=8, max_tokens=128)
    manifests = generate(config, "data/rollouts/connections")

`generate_shard` does one shard (what a Luigi `GenerateRolloutShard` runs); `generate` does all
of them in one process with one backend. Both draw a progress bar (`progress=False`: none) and
call `on_progress` with a `ShardProgress` after each model turn and each episode
(harness.engine.progress). Both resume: a rerun into the same directory skips the
episodes already committed and refuses to mix in episodes generated with other settings. A
shard has one writer at a time: a second one stops with `LockHeld` naming the first, or, with
`wait=True`, waits for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import uuid
from collections import Counter
from typing import Any

from pydantic import ValidationError

from harness import __version__, jsonl, plugins
from harness.backends.base import Backend
from harness.engine.config import SECRET_ARGS, RolloutConfig, content_settings, plan, shard_items
from harness.engine.directory import check_run_settings, write_run_manifest
from harness.engine.episodes import RunContext, run_episodes
from harness.engine.progress import Progress, ProgressCallback
from harness.engine.shard import ShardStore
from harness.environment import Environment
from harness.episode import Env, Episode, ErrorInfo, utc_now, validate_episode

__all__ = ["agenerate_shard", "build_backend", "build_env", "generate", "generate_shard",
           "write_run_manifest"]


def build_env(config: RolloutConfig) -> Environment:
    return plugins.get("environment", config.env)(**config.env_args)


def build_backend(config: RolloutConfig) -> Backend:
    kwargs = dict(config.backend_args)
    if config.model is not None:
        kwargs["model"] = config.model
    return plugins.get("backend", config.backend)(**kwargs)


def generate_shard(
    config: RolloutConfig,
    out_dir: str | os.PathLike[str],
    shard_index: int = 0,
    *,
    backend: Backend | None = None,
    env: Environment | None = None,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Generate (or finish) one shard and return its manifest. Keyword `settings` replace the
    config's own (`generate_shard(config, out, concurrency=8)`)."""
    return asyncio.run(agenerate_shard(config, out_dir, shard_index, backend=backend, env=env,
                                       progress=progress, on_progress=on_progress, **settings))


async def agenerate_shard(
    config: RolloutConfig,
    out_dir: str | os.PathLike[str],
    shard_index: int = 0,
    *,
    backend: Backend | None = None,
    env: Environment | None = None,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """`generate_shard` as a coroutine: shards of several runs can share one backend and loop."""
    config = dataclasses.replace(config, **settings)
    content = await _checked_settings(config, out_dir, backend)
    env = env or build_env(config)  # before anything is written: a wrong name fails fast
    store = ShardStore(out_dir, shard_index, config.num_shards, chunk_size=config.chunk_size,
                       commit_every=config.commit_every)
    await asyncio.to_thread(store.lock.acquire, wait=config.wait)  # a wait leaves the loop running
    try:
        finished = store.finished_manifest(content)
        if finished is not None:
            return finished
        shard_backend = backend or build_backend(config)
        try:
            return await _write_shard(store, content, config, shard_index, shard_backend, env, progress,
                                      on_progress)
        finally:
            if backend is None:
                await shard_backend.aclose()
    finally:
        store.lock.release()


def generate(
    config: RolloutConfig,
    out_dir: str | os.PathLike[str],
    *,
    backend: Backend | None = None,
    env: Environment | None = None,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
    **settings: Any,
) -> list[dict[str, Any]]:
    """Every shard of the run, one after the other, sharing one backend; then the run manifest.
    It holds every shard's lock from the start (taken in shard order, as every writer takes
    them), so it stops before loading a model when another process writes one of them.
    Keyword `settings` replace the config's own."""
    config = dataclasses.replace(config, **settings)

    async def all_shards() -> list[dict[str, Any]]:
        content = await _checked_settings(config, out_dir, backend)
        run_env = env or build_env(config)  # before anything is written: a wrong name fails fast
        stores = [ShardStore(out_dir, i, config.num_shards, chunk_size=config.chunk_size,
                             commit_every=config.commit_every) for i in range(config.num_shards)]
        held: list[ShardStore] = []
        shared = backend
        try:
            for store in stores:
                await asyncio.to_thread(store.lock.acquire, wait=config.wait)
                held.append(store)
            manifests = []
            for i, store in enumerate(stores):
                manifest = store.finished_manifest(content)
                if manifest is None:
                    shared = shared or build_backend(config)
                    manifest = await _write_shard(store, content, config, i, shared, run_env, progress,
                                                  on_progress)
                manifests.append(manifest)
            return manifests
        finally:
            if backend is None and shared is not None:
                await shared.aclose()
            for store in held:
                store.lock.release()

    manifests = asyncio.run(all_shards())
    write_run_manifest(out_dir, manifests)
    return manifests


async def _checked_settings(
    config: RolloutConfig, out_dir: str | os.PathLike[str], backend: Backend | None
) -> dict[str, Any]:
    """The run's content settings, once the directory is known to hold no others (they are
    recorded later, by `_write_shard`)."""
    backend_class = type(backend) if backend is not None else plugins.get("backend", config.backend)
    settings = content_settings(config, backend_class)
    await asyncio.to_thread(check_run_settings, out_dir, settings, record=False)
    return settings


async def _write_shard(
    store: ShardStore,
    settings: dict[str, Any],
    config: RolloutConfig,
    shard_index: int,
    backend: Backend,
    env: Environment,
    progress: bool,
    on_progress: ProgressCallback | None,
) -> dict[str, Any]:
    """Generate the episodes the shard still lacks, then finish it; the caller holds its lock."""
    check_env_identity(env)
    registry = plugins.registry()
    items = shard_items(plan(env, config, backend.model_name), shard_index, config.num_shards)
    await asyncio.to_thread(check_run_settings, store.out_dir, settings, record=True)
    done = store.open(settings)
    todo = [item for item in items if item.episode_id not in done]
    bar = Progress(len(items), done=len(items) - len(todo),
                   label=f"{config.env} shard {shard_index + 1}/{config.num_shards}",
                   enabled=progress, on_progress=on_progress)
    ctx = RunContext(env=env, backend=backend, config=config, run_id=uuid.uuid4().hex,
                     plugins=registry.versions(), keep_prompt_ids=config.keep_prompt_ids,
                     on_turn=bar.turn)

    def on_episode(episode: Episode) -> None:
        store.add(finished_line(registry, episode))
        bar.episode(episode)

    try:
        await run_episodes(ctx, todo, on_episode, concurrency=config.concurrency)
    finally:
        bar.close()
    manifest = shard_manifest(store, config, env, backend, shard_index, ctx.run_id, registry.versions())
    manifest["settings"] = settings
    store.finish(manifest)
    return manifest


def check_env_identity(env: Environment) -> None:
    """Refuse, before any episode runs, an environment whose name, version or arguments no
    episode record could hold (a plugin bug every episode would repeat)."""
    try:
        Env(name=env.name, version=env.version, args=dict(env.args))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"environment plugin {env.name!r} ({type(env).__name__}) cannot be "
                         f"recorded in an episode: {problems}") from None


def finished_line(registry: plugins.Registry, episode: Episode) -> str:
    """The JSON line of a finished episode, after the `episode_finished` hooks had their say.

    Hooks receive the record as a dict and may amend it; the result must still be a valid
    episode, or the episode is written as failed. A hook that raises is isolated by the
    registry (named once on stderr; the record stays as the hook left it)."""
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
