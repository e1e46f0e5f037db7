"""The doctoring protocol's generic defaults: how far back any episode is cut, and how good a cut is.

An environment that knows nothing about doctoring still gets these (`Environment.salvage` and
`Environment.salvage_quality` call them), because they read only what every episode record has:
each step's `status.valid`, `done` and `reward`, and the episode's outcome and error.

`default_salvage(episode)` — the number of steps to keep, or None:

- the steps before the first invalid one (`status.valid` false);
- with no invalid step, in an episode the environment ended without success (its last step is
  `done`): every step but that last one, the move that lost;
- with no invalid step, in an episode ended from outside (an error, the engine's turn cap, a
  prompt that no longer fits: its last step is not `done`): every step, since the environment
  would still take the next one;
- None when the episode succeeded (nothing to repair), or when nothing would be kept: continuing
  from the first prompt is a fresh sample, not doctoring.

`default_salvage_quality(episode, kept)` — the rewards of the kept steps, summed (a step without
a reward counts 0); `UNSALVAGEABLE` when `kept` is None. Environments that reward progress step
by step rank their cuts by it; for the others every cut scores 0.0 and the doctor stage breaks
the tie by fewer tokens after the cut, as seed 001 does.
"""

from __future__ import annotations

from harness.episode import Episode

UNSALVAGEABLE = -999.0
"""The quality of an episode that cannot be continued (seed 001's value)."""


def default_salvage(episode: Episode) -> int | None:
    if episode.outcome.success is True and episode.error is None:
        return None
    steps = episode.steps
    first_invalid = next((i for i, step in enumerate(steps) if not step.status.valid), None)
    if first_invalid is not None:
        kept = first_invalid
    elif steps and steps[-1].done:
        kept = len(steps) - 1
    else:
        kept = len(steps)
    return kept or None


def default_salvage_quality(episode: Episode, kept: int | None) -> float:
    if kept is None:
        return UNSALVAGEABLE
    return float(sum(step.reward or 0.0 for step in episode.steps[:kept]))
