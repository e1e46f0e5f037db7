"""Truncating a bad rollout to its last valid state, for doctoring (seed 001).

The guess history is cut before the first `invalid` guess; if what remains has a `correct` guess
(`auto` does not count), it is cut after the last one. The conversation is rebuilt to end with the
environment's feedback to the last kept guess: the original prompt plus the kept turns become the
new prompt, the completion is empty, and the kept history is stored as
`info.resumed_from_guess_history`, the seed's truncated example. The `connections` environment
continues such an example as it stands: its prompt verbatim, its `info.all_words` board order,
and the game state replayed from the kept history.

A rollout cannot be salvaged (`None`) when nothing is kept, or when the kept history already
ends the game (`max_mistakes` mistakes, or every group found): nothing could be continued.
"""

from __future__ import annotations

import copy
from typing import Any

from harness_connections.game import FOUND, MISTAKES


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


def ends_the_game(history: list[dict[str, Any]], groups: int | None, max_mistakes: int = 4) -> bool:
    """Whether replaying `history` leaves a finished game (the environment's rules: lost at
    `max_mistakes` mistakes, won when all `groups` are found; `groups` None: unknown)."""
    mistakes = sum(guess.get("status") in MISTAKES for guess in history)
    found = sum(guess.get("status") in FOUND for guess in history)
    return mistakes >= max_mistakes or (groups is not None and found >= groups)


def _turns(history: list[dict[str, Any]]) -> int:
    return sum(guess.get("status") != "auto" for guess in history)  # auto records have no message


def _after_turns(messages: list[dict[str, Any]], turns: int) -> int:
    """The length of `messages` cut just before its (turns + 1)-th assistant message."""
    seen = 0
    for i, message in enumerate(messages):
        if message.get("role") == "assistant":
            if seen == turns:
                return i
            seen += 1
    return len(messages)


def truncate(record: dict[str, Any], max_mistakes: int = 4) -> dict[str, Any] | None:
    """The truncated example of a rollout record, or None when nothing can be continued.

    A doctored record's prompt already holds the turns it resumed from
    (`info.resumed_from_guess_history`, the start of its guess history) and its completion only
    the new ones, so the kept turns are counted from there: a cut inside the new turns keeps the
    prompt and the new turns before the cut; a cut inside the resumed turns drops the last of
    the prompt's own turns."""
    kept = kept_history(record.get("guess_history") or [])
    info = copy.deepcopy(record.get("info") or {})
    categories = info.get("categories")
    groups = len(categories) if isinstance(categories, list) else None
    if not kept or ends_the_game(kept, groups, max_mistakes):
        return None
    prompt = record.get("prompt") or []
    completion = record.get("completion") or []
    new_turns = _turns(kept) - _turns(info.get("resumed_from_guess_history") or [])
    if new_turns >= 0:
        conversation = prompt + completion[: _after_turns(completion, new_turns)]
    else:
        own = [i for i, message in enumerate(prompt) if message.get("role") == "assistant"]
        if len(own) < -new_turns:
            return None  # the prompt lacks the turns its history says it holds: nothing to rebuild
        conversation = prompt[: own[new_turns]]
    info["resumed_from_guess_history"] = copy.deepcopy(kept)
    return {
        "prompt": copy.deepcopy(conversation),
        "completion": [],
        "info": info,
        "guess_history": copy.deepcopy(kept),
    }
