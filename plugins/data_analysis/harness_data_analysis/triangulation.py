"""Triangulation: is a gold answer confirmed by independent consistency runs? (seed 000)

Consistency runs answer the same question without the hint. The gold episode is `verified` when
its answer hash equals the majority answer hash of the consistency runs that submitted one.
"Majority" is the most frequent hash (a plurality, as in the seed); on a tie, the hash that a
run reached first wins, so the result never depends on dict order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any


def triangulate(
    gold_answer_hash: str | None, consistency_answer_hashes: Sequence[str | None]
) -> tuple[dict[str, Any], bool]:
    """(triangulation, verified) for a gold answer hash and one hash per consistency run.

    A run that submitted nothing is given as None: it counts in `n_consistency_runs` but not in
    `n_consistency_succeeded`, and never votes. With no votes there is no majority, and the gold
    answer is not verified; nor is it when the gold run itself submitted nothing.
    """
    votes = [h for h in consistency_answer_hashes if h is not None]
    counts = Counter(votes)  # insertion-ordered: ties go to the hash seen first
    majority_hash, majority_count = counts.most_common(1)[0] if counts else (None, 0)
    matches = gold_answer_hash is not None and gold_answer_hash == majority_hash
    triangulation = {
        "n_consistency_runs": len(consistency_answer_hashes),
        "n_consistency_succeeded": len(votes),
        "majority_answer_hash": majority_hash,
        "majority_count": majority_count,
        "gold_matches_majority": matches,
    }
    return triangulation, matches
