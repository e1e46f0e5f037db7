"""The guess history of a game, for the viewer: what was guessed each turn and what came of it.

The Connections environment records each turn's guess in the step's `info` (`items`, `status`,
`category_idx`, `result_message`, `invalid_reason`, and `auto_completed` when the last group
completed itself) and the whole game in the episode's `info.guess_history`. A doctored episode
starts with the guesses it kept from its parent: named in `info.resumed_from_guess_history` (or
the task's `data.resumed_from_guess_history`) when the game was resumed from them, else the
records of `info.guess_history` that come before its own steps' (the kept turns were
replayed). Older records name the words `guess` instead of `items`. Any environment that
records guesses the same way gets the same table.
"""

from __future__ import annotations

from typing import Any

from harness.episode import Episode


def guess_history(episode: Episode) -> list[dict[str, Any]] | None:
    """One row per guess, in play order: `{turn, items, status, group, group_index, message,
    origin}`, where `origin` is `kept` (from the parent, before this episode's own steps),
    `step` (said by the model in this episode) or `auto` (completed by the game); `turn` is the
    1-based step of `step` and `auto` rows. None when the episode records no guesses."""
    groups = _group_names(episode)
    played = []
    for turn, step in enumerate(episode.steps, start=1):
        if _words(step.info) is None:
            continue
        record = {**step.info, "status": step.info.get("status") or step.status.label}
        played.append(_row(record, groups, "step", turn))
        auto = step.info.get("auto_completed")
        if isinstance(auto, dict):
            played.append(_row(auto, groups, "auto", turn))
    history = [r for r in episode.info.get("guess_history") or [] if isinstance(r, dict)]
    kept = episode.info.get("resumed_from_guess_history") or episode.task.data.get("resumed_from_guess_history")
    if kept is None:
        # a replayed game's history starts with the kept guesses, then this episode's own
        kept = history[: len(history) - len(played)] if played and episode.parent is not None else []
    kept = [r for r in kept if isinstance(r, dict)]
    if not played:  # steps without guess records (imported games): the episode's own history
        played = [_row(r, groups, "auto" if r.get("status") == "auto" else "step", None) for r in history[len(kept):]]
    rows = [_row(r, groups, "kept", None) for r in kept] + played
    return rows or None


def _words(record: dict[str, Any]) -> list[str] | None:
    words = record.get("items", record.get("guess"))
    return [str(w) for w in words] if isinstance(words, list) else None


def _group_names(episode: Episode) -> dict[int, str]:
    categories = episode.info.get("categories") or episode.task.data.get("categories") or []
    return {
        i: str(c.get("group", ""))
        for i, c in enumerate(categories if isinstance(categories, list) else [])
        if isinstance(c, dict)
    }


def _row(record: dict[str, Any], groups: dict[int, str], origin: str, turn: int | None) -> dict[str, Any]:
    index = record.get("category_idx")
    return {
        "turn": turn,
        "items": _words(record) or [],
        "status": record.get("status") or ("auto" if origin == "auto" else None),
        "group": groups.get(index) if isinstance(index, int) and not isinstance(index, bool) else None,
        "group_index": index if isinstance(index, int) and not isinstance(index, bool) else None,
        "message": record.get("result_message") or record.get("invalid_reason"),
        "origin": origin,
    }
