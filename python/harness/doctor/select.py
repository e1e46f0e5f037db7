"""The best rollout per task, in seed 001's order: good first, then reward, then fewest tokens.

Seed 001 sorts each task's rollouts by (reward, highest first; mean assistant tokens, fewest
first), stably, and takes the first good one, or the top one when none is good. That is the
rollout with the highest (good, reward), ties going to the fewest mean tokens and then to the
first in input order, which is what `best_per_key` computes. Counting tokens means reading and
tokenizing the text, so it is done only where it decides something: for the rollouts tied with
the best of their task on (good, reward). The others never need it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple


class Candidate(NamedTuple):
    key: str
    good: bool
    reward: float
    """A missing reward counts as 0."""
    position: int
    """Input order (files in the order given, records in file order): the last tie-break."""
    ref: Any = None
    """Where the record is (whatever the caller needs to read it or count its tokens)."""


def best_per_key(
    candidates: Iterable[Candidate],
    mean_tokens: Callable[[Sequence[Candidate]], Sequence[float]],
) -> dict[str, Candidate]:
    """The chosen candidate of every key. `mean_tokens(tied)` is called once, with every
    candidate that is tied with the best of its key on (good, reward), when there are any."""
    best: dict[str, list[Candidate]] = {}
    for c in candidates:
        top = best.get(c.key)
        if top is None or (c.good, c.reward) > (top[0].good, top[0].reward):
            best[c.key] = [c]
        elif (c.good, c.reward) == (top[0].good, top[0].reward):
            top.append(c)
    tied = [c for group in best.values() if len(group) > 1 for c in group]
    tokens = dict(zip((id(c) for c in tied), mean_tokens(tied))) if tied else {}
    return {
        key: group[0] if len(group) == 1 else min(group, key=lambda c: (tokens[id(c)], c.position))
        for key, group in best.items()
    }
