"""Best rollout per puzzle, classified good or bad (seed 001 filter), over rollout records.

All rollouts of all result files are grouped by `str(info.puzzle_id)`; records without a puzzle id
are counted in `skipped`. Each group is sorted by reward (highest first), then by mean assistant
tokens (fewest first); the first rollout that is valid and won is the puzzle's good example,
otherwise the top rollout is bad with the reason `invalid guess` (not valid) or `game lost`.

`mark_over_token_limit` applies the seed's token limit before classifying: the guess of an
assistant message longer than the limit becomes invalid with `invalid_reason`
`over_token_limit_{n}`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from harness_connections.predicates import is_valid, is_won

CountTokens = Callable[[str], int]


def count_words(text: str) -> int:
    """Stand-in token count (whitespace-separated words); pass a tokenizer's count for real runs."""
    return len(text.split())


@dataclass
class Selection:
    good: list[dict[str, Any]] = field(default_factory=list)
    bad: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (rollout, reason)
    skipped: int = 0  # records without info.puzzle_id


def mean_assistant_tokens(record: dict[str, Any], count_tokens: CountTokens = count_words) -> float:
    sizes = [count_tokens(m["content"]) for m in record.get("completion") or [] if m.get("role") == "assistant"]
    return sum(sizes) / len(sizes) if sizes else 0.0


def select_best(records: Iterable[dict[str, Any]], count_tokens: CountTokens = count_words) -> Selection:
    """Classify the best rollout of each puzzle; puzzles come out in first-seen order."""
    selection = Selection()
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        puzzle_id = (record.get("info") or {}).get("puzzle_id")
        if puzzle_id is None:
            selection.skipped += 1
            continue
        groups.setdefault(str(puzzle_id), []).append(record)
    for rollouts in groups.values():
        ranked = sorted(
            rollouts,
            key=lambda r: (
                -(r["reward"] if r.get("reward") is not None else float("-inf")),
                mean_assistant_tokens(r, count_tokens),
            ),
        )
        good = next((r for r in ranked if is_valid(r) and is_won(r)), None)
        if good is not None:
            selection.good.append(good)
        else:
            top = ranked[0]
            selection.bad.append((top, "invalid guess" if not is_valid(top) else "game lost"))
    return selection


def mark_over_token_limit(record: dict[str, Any], limit: int, count_tokens: CountTokens = count_words) -> dict[str, Any]:
    """A copy of the record where the guess of each assistant message over `limit` tokens is invalid."""
    out = copy.deepcopy(record)
    guesses = [g for g in out.get("guess_history") or [] if g.get("status") != "auto"]
    assistant = [m for m in out.get("completion") or [] if m.get("role") == "assistant"]
    for message, guess in zip(assistant, guesses):
        if count_tokens(message["content"]) > limit:
            guess["status"] = "invalid"
            guess["invalid_reason"] = f"over_token_limit_{limit}"
    return out
