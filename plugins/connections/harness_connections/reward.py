"""The reward of a Connections game, from its guess history.

Three components, each in [0, 1]:

- `groups_found`: groups found (by a correct guess or completed automatically) / groups;
- `valid_guesses`: guesses that kept to the rules / guesses made (`auto` is not a guess);
- `efficiency`: correct guesses / judged guesses (correct + incorrect + one_away).

reward = (1.0 × groups_found + 0.25 × valid_guesses + 0.25 × efficiency) / 1.5, so a flawless
game scores 1.0 and a game without guesses 0.0. Solving the puzzle dominates; following the format
and not wasting guesses break ties between games that found as many groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

WEIGHTS = {"groups_found": 1.0, "valid_guesses": 0.25, "efficiency": 0.25}


def reward_components(history: Sequence[dict[str, Any]], groups: int) -> dict[str, float]:
    statuses = [record.get("status") for record in history]
    found = sum(s in ("correct", "auto") for s in statuses)
    guesses = sum(s != "auto" for s in statuses)
    judged = sum(s in ("correct", "incorrect", "one_away") for s in statuses)
    return {
        "groups_found": found / groups,
        "valid_guesses": (guesses - statuses.count("invalid")) / guesses if guesses else 0.0,
        "efficiency": statuses.count("correct") / judged if judged else 0.0,
    }


def total_reward(components: dict[str, float]) -> float:
    return sum(WEIGHTS[name] * value for name, value in components.items()) / sum(WEIGHTS.values())
