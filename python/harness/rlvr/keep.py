"""Which verified samples a RAFT cycle trains on: the keep policies.

- `passing` (the default): every sample whose verdict is `pass`, deduplicated per prompt (two
  samples of one task whose code is the same, up to trailing spaces and blank lines, count
  once), at most `max_kept_per_task` per task when set.
- `seed`: seed 003's filter, for reproducing its runs: the samples with reward >=
  `reward_threshold`, stably sorted by reward (highest first), and the first
  `keep_top_percent` % of them (rounded down, as the seed's `int(n * fraction)` did). With every
  reward 1.0 the sort keeps the order of the samples, so it keeps the earlier prompts' samples and
  drops half of the passing ones.

A sample whose verdict is `no_verdict` (the sandbox failed) has no reward and is never kept.
Samples are considered in the order of the problem file, then by sample index, whatever order the
shards hold them in, so a policy keeps the same samples on every run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from harness.episode import Episode

__all__ = ["POLICIES", "Judged", "keep"]

POLICIES = ("passing", "seed")


@dataclass(frozen=True)
class Judged:
    """A sample and its verdict, as a policy sees it."""

    episode: Episode
    verdict: str | None
    """`pass`, `fail`, `no_verdict`, or None (the verifier did not judge it)."""
    reward: float | None
    code: str
    """The code the verifier judged (extracted from the answer)."""


def _normalized(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.splitlines() if line.strip())


def keep(samples: Sequence[Judged], policy: Literal["passing", "seed"], *, max_kept_per_task: int | None = None,
         reward_threshold: float = 0.5, keep_top_percent: float = 50.0) -> list[Judged]:
    """The samples kept by `policy`, in the order given (see the module docstring)."""
    if policy == "passing":
        seen: set[tuple[str, str]] = set()
        per_task: Counter[str] = Counter()
        out = []
        for sample in samples:
            if sample.verdict != "pass":
                continue
            task = str(sample.episode.task.id)
            key = (task, _normalized(sample.code))
            if key in seen or (max_kept_per_task is not None and per_task[task] >= max_kept_per_task):
                continue
            seen.add(key)
            per_task[task] += 1
            out.append(sample)
        return out
    if policy == "seed":
        eligible = [s for s in samples if s.reward is not None and s.reward >= reward_threshold]
        ranked = sorted(eligible, key=lambda s: -float(s.reward or 0.0))  # stable: ties keep their order
        return ranked[: int(len(ranked) * keep_top_percent / 100)]
    raise ValueError(f"keep_policy must be one of {', '.join(POLICIES)}, not {policy!r}")
