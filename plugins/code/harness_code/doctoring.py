"""Doctoring code episodes: cut before the first failing submission, continue with its feedback.

A code episode is a sequence of submissions, each verified in the sandbox (step label `pass`,
`fail` or `no_verdict`; a pass ends the episode). The model's first failing submission is where
it went wrong, and its test feedback is the most useful thing a second attempt can read, so:

- `salvage` keeps the steps up to and including the first failing submission: the continuation
  starts from that submission's test feedback (the last message the model sees), and the later
  attempts, which kept failing, are cut. The replay re-runs that submission in the sandbox, so
  the feedback is the environment's own.
- A `no_verdict` step (the sandbox failed, not the model) is never kept: an episode whose first
  non-passing step is one is cut before it, so the submission is made again.
- None (nothing to continue) when the episode passed, when nothing failed before a `no_verdict`
  at the first step, or when the replayed steps would use up the turns (`max_turns`): a
  single-turn episode gives no feedback turn, so doctor it with more turns
  (`harness doctor --env-arg max_turns=2 ...`; the doctoring environment's `max_turns` counts).

`salvage_quality` is the share of tests the kept failing submission passed (0.0 when unknown),
so of several failed episodes of a task the closest attempt is continued.
"""

from __future__ import annotations

from harness.doctor.salvage import UNSALVAGEABLE
from harness.episode import Episode


def _first_failure(episode: Episode) -> tuple[int, str] | None:
    """(index, label) of the first step that did not pass."""
    for index, step in enumerate(episode.steps):
        if step.status.label != "pass":
            return index, str(step.status.label)
    return None


def salvage(episode: Episode, max_turns: int) -> int | None:
    if episode.outcome.success is True and episode.error is None:
        return None
    found = _first_failure(episode)
    if found is None:
        return None
    index, label = found
    kept = index + 1 if label == "fail" else index
    if kept == 0 or kept >= max_turns:
        return None
    return kept


def salvage_quality(episode: Episode, max_turns: int) -> float:
    kept = salvage(episode, max_turns)
    if kept is None:
        return UNSALVAGEABLE
    info = episode.steps[kept - 1].info
    passed, total = info.get("tests_passed"), info.get("tests_total")
    return passed / total if isinstance(passed, int) and isinstance(total, int) and total else 0.0


class CodeDoctoring:
    """The code environment's side of the doctoring protocol (mixed into `CodeEnvironment`)."""

    max_turns: int

    def salvage(self, episode: Episode) -> int | None:
        return salvage(episode, self.max_turns)

    def salvage_quality(self, episode: Episode) -> float:
        return salvage_quality(episode, self.max_turns)
