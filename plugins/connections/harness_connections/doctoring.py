"""The doctoring protocol for Connections episodes: seed 001's truncation and salvage quality.

`salvage(episode, max_mistakes)` cuts the guess history the seed's way (`truncation.kept_history`:
before the first invalid guess, then after the last correct one) and turns the kept guesses into
a number of the episode's own steps. The history is the game's (`info.guess_history`), which
starts with the guesses the task resumed from (`task.data.resumed_from_guess_history`) when the
episode continues an earlier one; those are not steps of this episode, so they are subtracted.
Nothing can be continued (None) when nothing is kept, when the kept guesses already end the game,
or when the cut falls before this episode's first step (inside the history its task resumed
from: doctor that earlier episode instead).

`salvage_quality(episode)` is `predicates.salvage_quality` of the whole history (resumed guesses
included, as the seed scores its records).

`seed_continuation(episode)`: an episode imported from seed 001's results (`info.seed001`) is
continued as the seed continues its data: its record is think-wrapped and truncated
(`selection.output_row`, `truncation.truncate`), and the truncated example becomes the task
(its prompt verbatim, feedback included, its board order, its kept history replayed), with no
actions to replay. Episodes of our own environment are continued by replaying their actions.
"""

from __future__ import annotations

from typing import Any

from harness.episode import Episode
from harness_connections.predicates import salvage_quality as history_quality
from harness_connections.truncation import ends_the_game, kept_history


def guess_history(episode: Episode) -> list[dict[str, Any]]:
    """The game's guess history: the summary's, or the steps' records when it has none."""
    history = episode.info.get("guess_history")
    if isinstance(history, list):
        return history
    from harness_connections.rollout_record import to_rollout_record

    return to_rollout_record(episode)["guess_history"]


def _turns(history: list[Any]) -> int:
    """Guess records said by the model (an `auto` record completes itself: no turn)."""
    return sum(not (isinstance(r, dict) and r.get("status") == "auto") for r in history)


def salvage(episode: Episode, max_mistakes: int) -> int | None:
    if episode.outcome.reason == "all_categories_found" and episode.error is None:
        return None
    kept = kept_history(guess_history(episode))
    categories = episode.info.get("categories") or episode.task.data.get("categories")
    groups = len(categories) if isinstance(categories, list) else None
    if not kept or ends_the_game(kept, groups, max_mistakes):
        return None
    steps = _turns(kept) - _turns(episode.task.data.get("resumed_from_guess_history") or [])
    return steps if steps >= 0 else None


def salvage_quality(episode: Episode) -> float:
    return history_quality(guess_history(episode))


def seed_continuation(episode: Episode, max_mistakes: int) -> Any:
    """The puzzle of the truncated example of a seed-made episode, or None for another episode."""
    if not isinstance(episode.info.get("seed001"), dict):
        return None
    from harness_connections.puzzles import parse_puzzle
    from harness_connections.rollout_record import to_rollout_record
    from harness_connections.selection import output_row
    from harness_connections.truncation import truncate

    example = truncate(output_row(to_rollout_record(episode), "doctoring"), max_mistakes)
    if example is None:
        return None
    return parse_puzzle(example, f"episode {episode.episode_id}")
