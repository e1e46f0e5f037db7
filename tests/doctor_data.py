"""Data for the doctoring tests: Connections puzzles that one scripted answer sequence plays in
known ways, and seed-shaped results files (the seed's record shape and its own prompt wording,
written by `json.dumps` as the seed writes them)."""

from __future__ import annotations

import json
from pathlib import Path

WORDS = ["ANT", "BEE", "CAT", "DOG", "ELM", "FIR", "GUM", "HAZEL",
         "IRON", "JADE", "KOHL", "LIME", "MARS", "NEPTUNE", "ORION", "PLUTO"]
GROUPS = [WORDS[0:4], WORDS[4:8], WORDS[8:12], WORDS[12:16]]
THEMES = ["CRÉATURES", "TREES", "COLOURS", "SKY"]


def guess(words: list[str]) -> str:
    return "<guess>[" + ", ".join(f"`{w}`" for w in words) + "]</guess>"


# The k-th answer of every game: the four groups in order, then more of the last one. A game of
# a puzzle grouped as GROUPS is won in three turns (the fourth group completes itself); a game
# of the transposed puzzle makes four mistakes.
SCRIPT = [f"Let me think about turn {k}… \"quotes\" and a\nnew line.\n" + guess(GROUPS[min(k, 3)]) for k in range(12)]


def categories(groups: list[list[str]]) -> list[dict]:
    return [{"group": theme, "members": list(members)} for theme, members in zip(THEMES, groups)]


SOLVABLE = categories(GROUPS)
UNSOLVABLE = categories([[GROUPS[g][i] for g in range(4)] for i in range(4)])  # the transpose


def puzzles_file(path: Path, ids: list[str], unsolvable: tuple[str, ...] = ("p3",)) -> Path:
    """A puzzle file (ours): every id grouped as GROUPS, except `unsolvable` ones (transposed)."""
    rows = [{"puzzle_id": i, "split": "train", "categories": UNSOLVABLE if i in unsolvable else SOLVABLE} for i in ids]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


SEED_SYSTEM = ("You are playing Connections! Find four groups of four words that share something. "
               "Answer with <guess>[`A`, `B`, `C`, `D`]</guess>. Bonne chance — 🍀")
BOARD = ["KOHL", "ANT", "MARS", "ELM", "BEE", "ORION", "FIR", "CAT", "IRON", "GUM", "DOG", "NEPTUNE",
         "JADE", "HAZEL", "LIME", "PLUTO"]


def seed_record(puzzle_id: str, groups: list[dict], answers: list[tuple[str, list[str] | None]],
                reward: float, complete_reason: str) -> dict:
    """A rollout record as seed 001 writes it. `answers`: (status, words or None for no guess)."""
    completion, history = [], []
    for k, (status, words) in enumerate(answers):
        text = f"Turn {k}: I see a pattern in these words.\n" + (guess(words) if words else "I am not sure.")
        completion.append({"role": "assistant", "content": text})
        index = next((i for i, g in enumerate(groups) if words and set(g["members"]) == set(words)), None)
        record = {"words": words or [], "status": status, "category_idx": index if status == "correct" else None,
                  "result_message": {"correct": "✓ CORRECT", "invalid": "✗ INVALID"}.get(status, "✗ WRONG")}
        history.append(record)
        completion.append({"role": "user", "content": f"{record['result_message']} — guess again."})
    found = [i for i, r in enumerate(history) if r["status"] == "correct"]
    if len(found) == len(groups) - 1:
        last = next(i for i in range(len(groups)) if i not in {history[j]["category_idx"] for j in found})
        history.append(
            {"words": groups[last]["members"], "status": "auto", "category_idx": last, "result_message": "auto"}
        )
    if complete_reason != "max_turns_reached" and completion:
        completion.pop()  # the last guess ended the game: no feedback after it
    return {
        "prompt": [{"role": "system", "content": SEED_SYSTEM},
                   {"role": "user", "content": "Words: " + " | ".join(BOARD)}],
        "completion": completion,
        "info": {"puzzle_id": puzzle_id, "categories": groups, "all_words": BOARD},
        "reward": reward,
        "guess_history": history,
        "complete_reason": complete_reason,
    }


def seed_results(directory: Path) -> Path:
    """results_1.jsonl: p1 won; p2 lost after an invalid guess that followed a correct one
    (salvageable); p3 lost with four mistakes (unsalvageable); p4 never run."""
    directory.mkdir(parents=True, exist_ok=True)
    won = seed_record("p1", SOLVABLE, [("correct", GROUPS[0]), ("correct", GROUPS[1]), ("correct", GROUPS[2])],
                      1.0, "all_categories_found")
    salvageable = seed_record("p2", SOLVABLE, [("correct", GROUPS[0]), ("invalid", None)] + [
        ("incorrect", [GROUPS[1][0], GROUPS[2][0], GROUPS[3][0], GROUPS[1][1]])] * 4, 0.3, "max_mistakes")
    lost = seed_record("p3", UNSOLVABLE, [("incorrect", GROUPS[0])] * 4, 0.1, "max_mistakes")
    path = directory / "results_1.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (won, salvageable, lost)), encoding="ascii")
    return path
