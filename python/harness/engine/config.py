"""What a rollout run generates: the run's settings and the plan of (task, sample) items they fix.

Everything that decides an episode's content is in `RolloutConfig`, and every item's episode id
and seeds derive from it deterministically, so a rerun of the same configuration recognises the
episodes it already has (resume) and a shard holds the same items on every machine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from harness.environment import Environment, derive_seed
from harness.episode import Sampling, Task, make_episode_id


@dataclass(frozen=True)
class RolloutConfig:
    env: str
    """Environment plugin name (`connections`, `search`, ...)."""
    backend: str = "transformers"
    """Backend plugin name (`transformers`, `vllm`, `openai`, `scripted`)."""
    model: str | None = None
    """Passed to the backend as `model=`; None takes the backend's default (the embedded model)."""
    env_args: dict[str, Any] = field(default_factory=dict)
    backend_args: dict[str, Any] = field(default_factory=dict)
    split: str | None = None
    """Tasks of this split only (all splits when None)."""
    task_ids: list[str] | None = None
    """Exactly these tasks (ids compare as strings), in this order."""
    limit: int | None = None
    """The first `limit` selected tasks only."""
    samples_per_task: int = 1
    temperature: float = 0.7
    top_p: float = 1.0
    top_k: int = -1
    max_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    seed: int = 0
    """The run's seed: every episode's seed and sampler seed derive from it."""
    max_turns: int = 64
    """A safety cap on model turns per episode, above any environment's own rules."""
    num_shards: int = 1

    def __post_init__(self) -> None:
        checks = [
            (self.samples_per_task >= 1, "samples_per_task must be at least 1"),
            (self.num_shards >= 1, "num_shards must be at least 1"),
            (self.max_tokens >= 1, "max_tokens must be at least 1"),
            (self.max_turns >= 1, "max_turns must be at least 1"),
            (self.temperature >= 0, "temperature must be >= 0"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (self.limit is None or self.limit >= 0, "limit must be >= 0"),
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
