"""Turning a finished search session into an episode record, as the rollout engine will.

The search tests need real episode records (for `to_trace`) before the rollout engine exists;
this builds one from a session and its summary with nothing invented but the model and run ids.
"""

from __future__ import annotations

from harness.environment import Session
from harness.episode import Env, Episode, ModelSpec, Provenance, Task, make_episode_id


def episode_from_session(session: Session, *, created_at: str = "2026-01-01T00:00:00Z") -> Episode:
    summary = session.summary()
    env = session.env
    task: Task = session.task
    return Episode(
        schema_version="1",
        episode_id=make_episode_id("test-run", env.name, task.id, 0),
        env=Env(name=env.name, version=env.version, args=env.args),
        task=task,
        model=ModelSpec(name="scripted", backend="replay"),
        seed=session.seed,
        prompt=session.prompt,
        steps=session.steps,
        reward=summary.reward,
        reward_components=summary.reward_components,
        outcome=summary.outcome,
        provenance=Provenance(harness_version="0.1.0", plugins={"harness-search": env.version}, created_at=created_at),
        info=summary.info,
    )
