"""What the page holds of each episode: a small index entry (for the list and its filters) and
the full record (for the episode's own view, decoded only when it is opened)."""

from __future__ import annotations

from typing import Any

from harness.episode import Episode
from harness.viewer.guesses import guess_history


def index_entry(episode: Episode, source: str) -> dict[str, Any]:
    """The fields the list shows and filters on."""
    parent = episode.parent
    return {
        "id": episode.episode_id,
        "env": episode.env.name,
        "task": episode.task.id,
        "split": episode.task.split,
        "model": episode.model.name,
        "reward": episode.reward,
        "reason": episode.outcome.reason,
        "success": episode.outcome.success,
        "steps": len(episode.steps),
        "invalid": sum(not step.status.valid for step in episode.steps),
        # the last verdict of each verifier counts, as `Episode.verdict` reads it
        "verdicts": {v.verifier: [v.verdict, v.score] for v in episode.verification},
        "parent": (
            {"id": parent.episode_id, "steps_kept": parent.steps_kept, "reason": parent.reason}
            if parent is not None
            else None
        ),
        "error": episode.error.type if episode.error is not None else None,
        "source": source,
    }


def detail_record(episode: Episode, record: dict[str, Any], source: str) -> dict[str, Any]:
    """The whole episode as JSON (`record`, which `episode` validated; left unchanged), less
    token ids and logprobs (counted instead: they are large and not for reading), plus where
    it came from and its guess history when it has one."""
    out = dict(record)
    steps = []
    for step in record.get("steps") or []:
        tokens = step.get("tokens")
        if tokens is not None:
            step = {k: v for k, v in step.items() if k != "tokens"}
            step["token_counts"] = {k: len(v) for k, v in tokens.items() if isinstance(v, list)}
        steps.append(step)
    out["steps"] = steps
    out["source"] = source
    guesses = guess_history(episode)
    if guesses is not None:
        out["guesses"] = guesses
    return out
