"""The environment API: text in, text out, multi-turn, replayable.

An `Environment` is built from JSON-serialisable keyword arguments (they go into every episode's
`env.args`), lists its tasks by split, and starts a `Session` for one task and seed:

    env = registry.get("environment", "connections")(puzzles="puzzles.json")
    session = env.start(env.task("1234"), seed=7)
    session.prompt                      # the opening messages
    step = session.step("<guess>[`A`, `B`, `C`, `D`]</guess>")
    step.observation, step.status.valid, step.reward, step.done
    session.summary()                   # final reward, components, outcome, info

Rules every environment keeps:

- Deterministic: task, seed and the actions taken fix every observation, status and reward.
  Randomness comes from `session.rng`, seeded from (env name, task id, seed) alone.
- Replayable: `env.start(task, seed, actions=[...])` rebuilds the exact state by stepping the
  actions; `session.state()` is a JSON snapshot two replays must agree on.
- Robust: a bad assistant message (no tag, garbage, 100 KB of text) is an invalid step, never an
  exception. An exception from `step` is an environment bug the engine records on the episode.
- Non-blocking: `step` may be slow (code execution, search). The engine awaits `astep`, which
  runs `step` in a worker thread unless an environment overrides it with native async code.

Doctoring (harness.doctor, docs/doctoring.md) asks an environment two more things, with generic
defaults that serve any environment (harness.doctor.salvage):

- `env.salvage(episode) -> int | None`: how many of the episode's steps to keep to reach its last
  state worth continuing (None: nothing to continue);
- `env.salvage_quality(episode) -> float`: which of several bad episodes of a task to doctor
  (higher is better).

The doctor stage replays the kept actions (`env.start(task, seed, actions)`, from
`env.continuation(episode, kept)`) and lets a model continue; the child episode's prompt holds
the kept turns, and `env.resume(child)` rebuilds the state its own steps start from.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness.episode import Episode, Message, Outcome, Step, Task


class EnvError(ValueError):
    """Bad environment arguments, an unknown task, or a step after the episode ended."""


@dataclass
class Summary:
    """How an episode ended: what the episode record's reward, components, outcome and info hold."""

    reward: float | None
    outcome: Outcome
    reward_components: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def derive_seed(*parts: object) -> int:
    """A stable 64-bit seed from any parts (Python's hash() is salted per process)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


class Session(ABC):
    """One episode in progress. Subclasses implement `transition`, `summary` and `state`."""

    def __init__(self, env: Environment, task: Task, seed: int) -> None:
        self.env = env
        self.task = task
        self.seed = seed
        self.rng = random.Random(derive_seed(env.name, task.id, seed))
        self.prompt: list[Message] = []
        self.steps: list[Step] = []
        self.done = False
        self.end_reason: str | None = None

    @abstractmethod
    def transition(self, action: str) -> Step:
        """Apply one assistant message; return the step (its `action` is filled in for you)."""

    @abstractmethod
    def summary(self) -> Summary:
        """Reward, components, outcome and info of the episode so far (final once done)."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """A JSON snapshot of everything that decides future observations."""

    def step(self, action: str) -> Step:
        if self.done:
            raise EnvError(
                f"{self.env.name}: task {self.task.id!r} already ended ({self.end_reason}); "
                "no more steps"
            )
        step = self.transition(action)
        step.action = action
        self.steps.append(step)
        if step.done:
            self.done = True
            self.end_reason = self.end_reason or step.info.get("complete_reason") or "done"
        return step

    async def astep(self, action: str) -> Step:
        """`step` off the event loop; override with native async code where there is some."""
        return await asyncio.to_thread(self.step, action)

    def end(self, reason: str) -> None:
        """End the episode from outside (e.g. `prompt_too_long`, `max_turns_reached`)."""
        if not self.done:
            self.done = True
            self.end_reason = reason

    def messages(self) -> list[Message]:
        """The conversation so far: prompt, then each action and its observation."""
        out = list(self.prompt)
        for step in self.steps:
            out.append(Message(role="assistant", content=step.action))
            out.extend(step.observation)
        return out

    def close(self) -> None:  # noqa: B027 - optional: a session may hold nothing
        """Release what the session holds (a subprocess, a sandbox). Idempotent."""


class Environment(ABC):
    """A family of tasks. Subclasses set `name` and `version` and implement the methods below."""

    name: ClassVar[str]
    version: ClassVar[str]

    def __init__(self, **args: Any) -> None:
        self.args = args

    @abstractmethod
    def splits(self) -> list[str]:
        """The split names, e.g. ["train", "test"]."""

    @abstractmethod
    def tasks(self, split: str | None = None) -> Iterable[Task]:
        """Tasks of one split (all splits when None), in a stable order."""

    @abstractmethod
    def new_session(self, task: Task, seed: int) -> Session:
        """A session at the start of `task`, prompt filled in."""

    def task(self, task_id: str | int) -> Task:
        """One task by id (ids compare as strings, so 7 and "7" are the same task)."""
        wanted = str(task_id)
        for task in self.tasks():
            if str(task.id) == wanted:
                return task
        raise EnvError(f"{self.name}: no task with id {task_id!r}")

    def start(self, task: Task, seed: int, actions: Sequence[str] = ()) -> Session:
        """A session for `task` and `seed`, with `actions` replayed into it."""
        session = self.new_session(task, seed)
        for action in actions:
            if session.done:
                raise EnvError(
                    f"{self.name}: replay of task {task.id!r} ended after "
                    f"{len(session.steps)} of {len(actions)} actions"
                )
            session.step(action)
        return session


    # -- doctoring -------------------------------------------------------------------------

    def salvage(self, episode: Episode) -> int | None:
        """How many of `episode`'s steps to keep so that a model continues from its last state
        worth continuing; None when nothing can be continued. The default cuts before the first
        invalid step (see harness.doctor.salvage for every case); override it with the rules of
        the environment."""
        from harness.doctor.salvage import default_salvage

        return default_salvage(episode)

    def salvage_quality(self, episode: Episode) -> float:
        """How much of `episode` is worth keeping, to choose which bad episode of a task to
        doctor (higher is better; `harness.doctor.salvage.UNSALVAGEABLE` when nothing is). The
        default sums the rewards of the steps `salvage` keeps."""
        from harness.doctor.salvage import default_salvage_quality

        return default_salvage_quality(episode, self.salvage(episode))

    def continuation(self, episode: Episode, kept: int) -> tuple[Task, tuple[str, ...]]:
        """The task and the actions to replay that put a fresh session where `episode` stands
        after its first `kept` steps. The default: the episode's own task, and those steps'
        actions. An environment whose tasks can carry a game in progress may return a task that
        starts there and no actions (Connections does, for data seed 001 made: its conversation
        is then continued verbatim)."""
        return episode.task, tuple(step.action for step in episode.steps[:kept])

    def resume(self, episode: Episode) -> Session:
        """A session in the state where `episode`'s own steps begin: its task and seed, and for a
        doctored episode (one with a `parent`) the kept turns of its prompt that lie beyond its
        task's own prompt replayed, so that stepping its actions reproduces it (what a replaying
        verifier does). A task that starts where the kept turns left off (see `continuation`)
        needs no replay."""
        seed = episode.seed or 0
        fresh = self.new_session(episode.task, seed)
        if episode.parent is None or episode.parent.steps_kept == 0:
            return fresh
        opening = len(fresh.prompt)
        kept = [m.content for m in episode.prompt[opening:] if m.role == "assistant"]
        if not kept:
            return fresh
        fresh.close()
        if len(kept) != episode.parent.steps_kept:
            raise EnvError(
                f"{self.name}: episode {episode.episode_id} keeps {episode.parent.steps_kept} steps of "
                f"its parent, but its prompt holds {len(kept)} assistant turns after the task's own"
            )
        return self.start(episode.task, seed, kept)
