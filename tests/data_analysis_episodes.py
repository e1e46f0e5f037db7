"""Build episode records from data-analysis sessions, as the rollout engine does, for the tests."""

from __future__ import annotations

from harness.environment import Session
from harness.episode import (
    SCHEMA_VERSION,
    Env,
    Episode,
    ModelSpec,
    Provenance,
    make_episode_id,
    utc_now,
)


def play(env, task, seed: int, actions: list[str]) -> Session:
    """A session with `actions` stepped in (stopping when the episode ends), then closed."""
    session = env.start(task, seed)
    try:
        for action in actions:
            if session.done:
                break
            session.step(action)
    finally:
        session.close()
    return session


def episode_of(session: Session, run_id: str = "test-run", sample_index: int = 0) -> Episode:
    summary = session.summary()
    return Episode(
        schema_version=SCHEMA_VERSION,
        episode_id=make_episode_id(run_id, session.env.name, session.task.id, sample_index),
        env=Env(name=session.env.name, version=session.env.version, args=dict(session.env.args)),
        task=session.task,
        model=ModelSpec(name="scripted-policy", backend="scripted"),
        seed=session.seed,
        sample_index=sample_index,
        prompt=list(session.prompt),
        steps=list(session.steps),
        reward=summary.reward,
        reward_components=summary.reward_components,
        outcome=summary.outcome,
        provenance=Provenance(harness_version="0.1.0", created_at=utc_now(), run_id=run_id),
        info=summary.info,
    )
