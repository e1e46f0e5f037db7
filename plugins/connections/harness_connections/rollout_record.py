"""Our episode record → the seed's rollout record, the shape the seed 001 pipeline reads:

    {prompt, completion, info: {puzzle_id, categories, all_words, ...}, reward,
     reward_components, guess_history, complete_reason}

`prompt` and `completion` are lists of `{role, content}` messages; the completion is every step's
action followed by its observation. The guess history comes from the episode's `info` (where the
engine puts the environment's summary) or, failing that, from the steps' guess records.

An episode imported from a seed 001 results file (`harness import seed001`, `info.seed001` set)
gives back the record exactly as the file held it: every field, in its order.
"""

from __future__ import annotations

from typing import Any

from harness.episode import Episode, validate_episode
from harness_connections.puzzles import parse_categories, shown_words


def _history_from_steps(episode: Episode) -> list[dict[str, Any]]:
    history = []
    for step in episode.steps:
        if "status" not in step.info:
            continue
        record: dict[str, Any] = {
            k: step.info[k]
            for k in ("items", "status", "category_idx", "result_message", "invalid_reason")
            if k in step.info
        }
        history.append(record)
        if "auto_completed" in step.info:
            history.append(dict(step.info["auto_completed"]))
    return history


def _imported(episode: Episode, seed: dict[str, Any]) -> dict[str, Any]:
    messages = seed.get("messages") or {
        "prompt": [m.model_dump() for m in episode.prompt],
        "completion": [m.model_dump() for m in episode.completion()],
    }
    fields = {**seed["record"], **messages}
    return {key: fields[key] for key in seed["keys"]}


def to_rollout_record(episode: Episode | dict[str, Any]) -> dict[str, Any]:
    if not isinstance(episode, Episode):
        episode = validate_episode(episode)
    info = episode.info
    if isinstance(info.get("seed001"), dict):
        return _imported(episode, info["seed001"])
    categories = info.get("categories") or episode.task.data.get("categories")
    all_words = info.get("all_words")
    if all_words is None and categories is not None:
        all_words = shown_words(episode.task.id, parse_categories(categories, f"episode {episode.episode_id}"))
    out_info: dict[str, Any] = {
        "puzzle_id": info.get("puzzle_id", episode.task.id),
        "categories": categories,
        "all_words": all_words,
    }
    resumed = info.get("resumed_from_guess_history") or episode.task.data.get("resumed_from_guess_history")
    if resumed:
        out_info["resumed_from_guess_history"] = resumed
    history = info.get("guess_history")
    return {
        "prompt": [m.model_dump() for m in episode.prompt],
        "completion": [m.model_dump() for m in episode.completion()],
        "info": out_info,
        "reward": episode.reward,
        "reward_components": dict(episode.reward_components),
        "guess_history": list(history) if history is not None else _history_from_steps(episode),
        "complete_reason": info.get("complete_reason") or episode.outcome.reason,
    }
