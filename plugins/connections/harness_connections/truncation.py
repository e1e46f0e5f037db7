"""Truncating a bad rollout to its last valid state, for doctoring (seed 001).

The guess history is cut before the first `invalid` guess; if what remains has a `correct` guess
(`auto` does not count), it is cut after the last one. The conversation is rebuilt to end with the
environment's feedback to the last kept guess: the original prompt plus the kept turns become the
new prompt, the completion is empty, and the kept history is stored as
`info.resumed_from_guess_history` — with `info.resumed_from_actions`, the kept assistant texts,
so that the `connections` environment rebuilds exactly this conversation. An empty kept history
means the rollout cannot be salvaged (`None`).
"""

from __future__ import annotations

import copy
from typing import Any


def kept_history(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = []
    for guess in history:
        if guess.get("status") == "invalid":
            break
        kept.append(guess)
    correct = [i for i, guess in enumerate(kept) if guess.get("status") == "correct"]
    if correct:
        kept = kept[: correct[-1] + 1]
    return kept


def truncate(record: dict[str, Any]) -> dict[str, Any] | None:
    """The truncated example of a rollout record, or None when nothing can be kept."""
    kept = kept_history(record.get("guess_history") or [])
    if not kept:
        return None
    turns = sum(guess.get("status") != "auto" for guess in kept)  # auto records have no message
    completion = record.get("completion") or []
    end, seen = 0, 0
    for i, message in enumerate(completion):
        if message.get("role") == "assistant":
            if seen == turns:
                break
            seen += 1
        end = i + 1
    kept_turns = copy.deepcopy(completion[:end])
    info = copy.deepcopy(record.get("info") or {})
    info["resumed_from_guess_history"] = copy.deepcopy(kept)
    actions = [m["content"] for m in kept_turns if m.get("role") == "assistant"]
    if len(actions) == turns:  # else the completion lacks turns: the env writes bare guesses
        info["resumed_from_actions"] = actions
    return {
        "prompt": copy.deepcopy(record.get("prompt") or []) + kept_turns,
        "completion": [],
        "info": info,
        "guess_history": copy.deepcopy(kept),
    }
