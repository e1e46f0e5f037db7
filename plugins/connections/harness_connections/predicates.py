"""The seed 001 predicates over rollout records (see `rollout_record`), as pure functions.

- `is_valid`: no guess is `invalid` (a record without a guess history counts as invalid);
- `is_won` / `is_solved`: the game ended with `all_categories_found`;
- `accuracy`: correct guesses / all guess records, `auto` in the denominator only, so a
  flawless game scores 0.75 (parity; `is_solved` says whether it was won);
- `salvage_quality`: how much of a bad rollout is worth keeping when doctoring;
- `wrap_think`: the assistant text as training data, reasoning inside `<think>...</think>`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

UNSALVAGEABLE = -999.0
_GUESS_OPEN = re.compile(r"<guess>", re.IGNORECASE)


def is_valid(record: dict[str, Any]) -> bool:
    history = record.get("guess_history")
    if history is None:
        return False
    return all(guess.get("status") != "invalid" for guess in history)


def is_won(record: dict[str, Any]) -> bool:
    return record.get("complete_reason") == "all_categories_found"


is_solved = is_won


def accuracy(record: dict[str, Any]) -> float:
    history = record.get("guess_history") or []
    if not history:
        return 0.0
    return sum(guess.get("status") == "correct" for guess in history) / len(history)


def salvage_quality(history: Sequence[dict[str, Any]] | None) -> float:
    """Scan to the first invalid guess; T = the last correct/auto guess before it (none:
    `UNSALVAGEABLE`). Over guesses 0..T a correct/auto guess at index i adds 1/2^i and the m-th
    mistake (m = 0, 1, ...) subtracts 1/2^(3-m)."""
    statuses = []
    for guess in history or []:
        if guess.get("status") == "invalid":
            break
        statuses.append(guess.get("status"))
    found = [i for i, s in enumerate(statuses) if s in ("correct", "auto")]
    if not found:
        return UNSALVAGEABLE
    quality, mistakes = 0.0, 0
    for i, status in enumerate(statuses[: found[-1] + 1]):
        if status in ("correct", "auto"):
            quality += 1 / 2**i
        elif status in ("incorrect", "one_away"):
            quality -= 1 / 2 ** (3 - mistakes)
            mistakes += 1
    return quality


def wrap_think(text: str) -> str:
    """Unchanged when it already has `<think>`; all of it in a think block when it has no guess;
    otherwise the text before the first `<guess>` in a think block, a blank line, then the guess
    part (no empty think block when nothing precedes the guess). Only the whitespace before the
    guess is dropped: the reasoning's own leading whitespace is kept, as the seed keeps it."""
    if "<think>" in text:
        return text
    match = _GUESS_OPEN.search(text)
    if match is None:
        return f"<think>{text}</think>"
    reasoning, guess = text[: match.start()].rstrip(), text[match.start() :]
    if not reasoning:
        return guess
    return f"<think>{reasoning}</think>\n\n{guess}"
