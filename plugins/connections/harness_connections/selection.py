"""Best rollout per puzzle, classified good or bad (seed 001 filter), over rollout records.

All rollouts of all result files are grouped by `str(info.puzzle_id)`; records whose id is
missing, null or empty are left out and listed in `skipped` (with a warning). Puzzles are
processed in sorted order of that string. Each group is sorted by reward (highest first; a
missing reward counts as 0), then by mean assistant tokens (fewest first), the sort being stable;
the first rollout that is valid and won is the puzzle's good example, otherwise the top rollout
is bad with the reason `invalid guess` (not valid) or `game lost`.

Every output row is the chosen rollout with its assistant completion messages think-wrapped
(`predicates.wrap_think`), plus `tags` and `metadata` as the seed writes them (`output_row`).

`mark_over_token_limit` applies the seed's token limit before classifying: the guess of an
assistant message longer than the limit becomes invalid with `invalid_reason`
`over_token_limit_{n}`, n being that message's own token count.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from harness_connections.predicates import is_valid, is_won, wrap_think

CountTokens = Callable[[str], int]

GOOD_TAG = "good example"
INVALID_GUESS = "invalid guess"
GAME_LOST = "game lost"


def count_words(text: str) -> int:
    """Stand-in token count (whitespace-separated words); pass a tokenizer's count for real runs."""
    return len(text.split())


@dataclass
class Selection:
    good: list[dict[str, Any]] = field(default_factory=list)
    """Output rows of the puzzles with a valid, won rollout, in sorted puzzle-id order."""
    bad: list[dict[str, Any]] = field(default_factory=list)
    """Output rows of the other puzzles; `row["metadata"]["Rejection Reason"]` says why."""
    skipped: list[int] = field(default_factory=list)
    """Positions (0-based, in input order) of the records without a puzzle id."""


def mean_assistant_tokens(record: dict[str, Any], count_tokens: CountTokens = count_words) -> float:
    sizes = [count_tokens(m["content"]) for m in record.get("completion") or [] if m.get("role") == "assistant"]
    return sum(sizes) / len(sizes) if sizes else 0.0


def _puzzle_key(record: Any) -> str:
    """`str(info.puzzle_id)`, or "" when the record has none (null counts as none)."""
    info = record.get("info") if isinstance(record, dict) else None
    puzzle_id = info.get("puzzle_id") if isinstance(info, dict) else None
    return "" if puzzle_id is None else str(puzzle_id)


def _reward(record: dict[str, Any]) -> float:
    reward = record.get("reward")
    return 0.0 if reward is None else reward


def output_row(rollout: dict[str, Any], rejection: str | None = None) -> dict[str, Any]:
    """The row the seed writes for a chosen rollout: a copy with its assistant completion
    messages think-wrapped, then `tags` and `metadata` (`rejection`: None for a good example,
    else `invalid guess` or `game lost`). `Complete Reason` is `unknown` when the record has no
    `complete_reason` key."""
    row = copy.deepcopy(rollout)
    row["completion"] = [
        {**m, "content": wrap_think(m["content"])}
        if isinstance(m, dict) and m.get("role") == "assistant" and isinstance(m.get("content"), str)
        else m
        for m in row.get("completion") or []
    ]
    complete_reason = rollout.get("complete_reason", "unknown")
    if rejection is None:
        row["tags"] = [GOOD_TAG]
        row["metadata"] = {"Quality": "good", "Complete Reason": complete_reason}
    else:
        row["tags"] = [f"rr: {rejection}"]
        row["metadata"] = {"Rejection Reason": rejection, "Complete Reason": complete_reason}
    return row


def select_best(records: Iterable[dict[str, Any]], count_tokens: CountTokens = count_words) -> Selection:
    """The good and bad output rows, one per puzzle, puzzles in sorted order of their id string."""
    selection = Selection()
    groups: dict[str, list[dict[str, Any]]] = {}
    for position, record in enumerate(records):
        key = _puzzle_key(record)
        if not key:
            selection.skipped.append(position)
            continue
        groups.setdefault(key, []).append(record)
    if selection.skipped:
        shown = ", ".join(map(str, selection.skipped[:10])) + (", ..." if len(selection.skipped) > 10 else "")
        warnings.warn(
            f"connections: skipped {len(selection.skipped)} rollout record(s) without "
            f"info.puzzle_id (records {shown}, counted from 0)",
            stacklevel=2,
        )
    for key in sorted(groups):
        ranked = sorted(groups[key], key=lambda r: (-_reward(r), mean_assistant_tokens(r, count_tokens)))
        good = next((r for r in ranked if is_valid(r) and is_won(r)), None)
        if good is not None:
            selection.good.append(output_row(good))
        else:
            top = ranked[0]
            selection.bad.append(output_row(top, INVALID_GUESS if not is_valid(top) else GAME_LOST))
    return selection


def mark_over_token_limit(
    record: dict[str, Any], limit: int, count_tokens: CountTokens = count_words
) -> dict[str, Any]:
    """A copy of the record where the guess of each assistant message over `limit` tokens is
    invalid, with `invalid_reason = over_token_limit_{n}` (n: the message's own token count)."""
    out = copy.deepcopy(record)
    guesses = [g for g in out.get("guess_history") or [] if g.get("status") != "auto"]
    assistant = [m for m in out.get("completion") or [] if m.get("role") == "assistant"]
    for message, guess in zip(assistant, guesses):
        tokens = count_tokens(message["content"])
        if tokens > limit:
            guess["status"] = "invalid"
            guess["invalid_reason"] = f"over_token_limit_{tokens}"
    return out
