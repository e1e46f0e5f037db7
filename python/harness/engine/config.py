"""What a rollout run generates: the run's settings and the plan of (task, sample) items they fix.

Everything that decides an episode's content is in `RolloutConfig`, and every item's episode id
and seeds derive from it deterministically, so a rerun of the same configuration recognises the
episodes it already has (resume) and a shard holds the same items on every machine. Its
`content_settings` are what a rerun must match to add episodes to a directory.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.environment import Environment, derive_seed
from harness.episode import Sampling, Task, make_episode_id
from harness.options import content_settings as declared_content_settings
from harness.options import setting

if TYPE_CHECKING:
    from harness.backends.base import Backend

SECRET_ARGS = {"api_key"}
"""Backend arguments never written to settings or manifests."""


@dataclass(frozen=True)
class RolloutConfig:
    """The settings of a rollout run (`harness rollouts generate`, Luigi `GenerateRollouts`).

    Declared with `harness.options.setting`: the command line's options, the Luigi parameters
    and the docs' table come from these fields. The last four only change how the run goes,
    never what it writes, so a resume may change them."""

    env: str = setting(help="Environment plugin: connections, search, data-analysis, code, or a plugin's.")
    env_args: dict[str, Any] = setting(factory=dict, help="Arguments of the environment, e.g. max_mistakes=4.")
    backend: str = setting("transformers", help="Backend plugin: transformers, vllm, openai, scripted, or a plugin's.")
    model: str | None = setting(
        None, help="Model for the backend; none: the backend's default (for transformers, the "
                   "embedded SmolLM2-135M-Instruct).")
    backend_args: dict[str, Any] = setting(
        factory=dict, help="Arguments of the backend, e.g. base_url=http://127.0.0.1:8000/v1.")
    split: str | None = setting(None, help="Tasks of this split only; none: every split.")
    task_ids: list[str] | None = setting(
        None, help="Exactly these tasks, in this order (ids compare as strings); none: all.")
    limit: int | None = setting(None, help="The first N selected tasks only; none: all of them.")
    samples_per_task: int = setting(1, help="Episodes per task.")
    temperature: float = setting(0.7, help="Sampling temperature of every model turn; 0 is greedy.")
    top_p: float = setting(1.0, help="Nucleus sampling mass of every model turn.")
    top_k: int = setting(-1, help="Top-k cut-off of every model turn; -1: none.")
    max_tokens: int = setting(256, help="Most tokens generated per model turn.")
    stop: list[str] = setting(factory=list, help="Stop strings of every model turn.")
    seed: int = setting(0, help="The run's seed: every episode's seeds derive from it.")
    max_turns: int = setting(64, help="Safety cap on model turns per episode, above the environment's own rules.")
    num_shards: int = setting(1, help="Shards the run is split into (each one a Luigi task).")
    keep_prompt_ids: bool = setting(False, help="Also store each turn's prompt token ids (large).")
    concurrency: int = setting(256, content=False, help="Live episodes at a time.")
    chunk_size: int = setting(16, content=False, help="Episodes per atomic commit (a crash loses at most these).")
    commit_every: float = setting(10.0, content=False, help="Seconds between commits, at most.")
    wait: bool = setting(
        False, content=False,
        help="When another process writes a shard of the output, wait for it instead of stopping.")

    def __post_init__(self) -> None:
        checks = [
            (self.samples_per_task >= 1, "samples_per_task must be at least 1"),
            (self.num_shards >= 1, "num_shards must be at least 1"),
            (self.max_tokens >= 1, "max_tokens must be at least 1"),
            (self.max_turns >= 1, "max_turns must be at least 1"),
            (self.temperature >= 0, "temperature must be >= 0"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (self.limit is None or self.limit >= 1, "limit must be at least 1 (none: all tasks)"),
            (self.concurrency >= 1, "concurrency must be at least 1"),
            (self.chunk_size >= 1, "chunk_size must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sampling(self, seed: int | None = None, n: int | None = None) -> Sampling:
        return Sampling(
            n=n if n is not None else self.samples_per_task,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            max_tokens=self.max_tokens,
            stop=list(self.stop),
            seed=seed,
        )


@dataclass(frozen=True)
class Item:
    """One episode to generate: a task, which of its samples, and the ids and seeds it gets."""

    task: Task
    sample_index: int
    episode_id: str
    seed: int
    """The episode's own seed (the environment's randomness)."""
    sampler_seed: int
    """The backend's seed for the first turn; turn k uses `sampler_seed + k`."""
    actions: tuple[str, ...] = ()
    """Assistant messages replayed into the session before the model's first turn (continuing
    an episode from a prefix, as Monte Carlo step labels do); none for a fresh episode."""


def select_tasks(env: Environment, config: RolloutConfig) -> list[Task]:
    tasks = list(env.tasks(config.split))
    if config.task_ids is not None:
        by_id = {str(t.id): t for t in tasks}
        missing = [i for i in config.task_ids if str(i) not in by_id]
        if missing:
            where = f"split {config.split!r} of " if config.split else ""
            raise ValueError(f"{where}environment {env.name!r} has no task(s) {', '.join(map(str, missing))}")
        tasks = [by_id[str(i)] for i in config.task_ids]
    if config.limit is not None:
        tasks = tasks[: config.limit]
    return tasks


def plan(env: Environment, config: RolloutConfig, model_name: str) -> list[Item]:
    """Every item of the run, task by task, sample by sample."""
    items = []
    for task in select_tasks(env, config):
        for sample_index in range(config.samples_per_task):
            seed = derive_seed(config.seed, env.name, task.id, sample_index) % 2**63
            items.append(Item(
                task=task,
                sample_index=sample_index,
                episode_id=make_episode_id(model_name, env.name, task.id, sample_index, f"seed={config.seed}"),
                seed=seed,
                sampler_seed=derive_seed("sampler", seed) % 2**62,
            ))
    return items


def shard_items(items: list[Item], shard_index: int, num_shards: int) -> list[Item]:
    """The items of one shard: every `num_shards`-th item, so shards get similar mixes of tasks."""
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard index {shard_index} is not in 0..{num_shards - 1}")
    return items[shard_index::num_shards]


class ConfigMismatch(ValueError):
    """A rerun's configuration differs from the one a directory's episodes were generated with."""


def content_settings(config: RolloutConfig, backend: type[Backend]) -> dict[str, Any]:
    """The settings that decide the plan and the episodes' content, as plain JSON: a rerun must
    match them to add episodes to a directory. Of the backend arguments, only those the backend
    declares in `content_args` are kept (each with its default when not given); concurrency,
    timeouts or a server's address may change between runs."""
    settings = declared_content_settings(config)
    given = dict(settings.pop("backend_args"))
    if config.model is not None:
        given["model"] = config.model  # what build_backend passes
    if backend.content_args is None:  # the backend does not say: every argument counts
        chosen = {k: v for k, v in given.items() if k not in SECRET_ARGS}
    else:
        defaults = {name: p.default for name, p in inspect.signature(backend).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        chosen = {name: given.get(name, defaults.get(name)) for name in backend.content_args}
    settings["backend_args"] = chosen
    return json.loads(json.dumps(settings, default=str))


def check_same_settings(where: Path, before: dict[str, Any], now: dict[str, Any], remove: Path) -> None:
    """Raise `ConfigMismatch` naming `where` and every setting that differs (nested ones as
    `backend_args.responses`), unless `before` and `now` are the same."""
    changed = _differences(before, now)
    if changed:
        raise ConfigMismatch(
            f"{where}: these episodes were generated with other settings ({'; '.join(changed)}); "
            f"use another output directory or remove {remove}"
        )


def _differences(before: dict[str, Any], now: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key in sorted(set(before) | set(now)):
        old, new = before.get(key), now.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            found += _differences(old, new, f"{prefix}{key}.")
        elif old != new:
            found.append(f"{prefix}{key}: {_short(old)} -> {_short(new)}")
    return found


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
