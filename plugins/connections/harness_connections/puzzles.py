"""Puzzles: their shape, their validation, and loading them from JSON or JSONL files.

Three shapes are read, item by item:

- ours: `{"puzzle_id": "p1", "categories": [{"group": "...", "members": [...]}, ...], "split": "train"}`
  (`split` optional);
- the common archive shape: `{"id": 1, "date": "2023-06-12", "answers": [{"level": 0, "group":
  "...", "members": [...]}, ...]}`;
- the seed's rollout record, as its truncated examples are (`doctor_gameplay.jsonl`, or
  `truncation.truncate`'s output): `{"prompt": [messages], "completion": [], "info": {"puzzle_id",
  "categories", "all_words", "resumed_from_guess_history"}}`. Its prompt, board order and kept
  history go into the task data, so the game continues the example exactly as it stands.

A `.jsonl` file holds one puzzle per line (blank lines skipped); any other file holds one JSON
list of puzzles. Every problem is a `PuzzleError` naming the file, the line (JSONL) or list index
(JSON), the field as a JSON pointer, and what is wrong.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.environment import derive_seed

PuzzleId = str | int


class PuzzleError(ValueError):
    """A puzzle that cannot be played; the message reads `where: field: reason`."""

    def __init__(self, where: str, field: str, reason: str) -> None:
        self.where = where
        self.field = field
        self.reason = reason
        super().__init__(f"{where}: {field or '(puzzle)'}: {reason}")


@dataclass(frozen=True)
class Category:
    group: str
    members: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "members": list(self.members)}


@dataclass(frozen=True)
class Puzzle:
    puzzle_id: PuzzleId
    categories: tuple[Category, ...]
    split: str | None = None  # None: assigned from the puzzle id (see `assign_split`)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the archive's date, kept in task data

    @property
    def group_size(self) -> int:
        return len(self.categories[0].members)


def parse_categories(value: Any, where: str, pointer: str = "/categories") -> tuple[Category, ...]:
    """Validate `[{group, members}, ...]`: two or more groups, all the same size (two or more
    words), every word unique across the puzzle (case-insensitively, as guesses are matched)."""
    if not isinstance(value, list) or len(value) < 2:
        raise PuzzleError(where, pointer, "expected a list of at least 2 groups")
    categories: list[Category] = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(value):
        at = f"{pointer}/{i}"
        if not isinstance(raw, dict):
            raise PuzzleError(where, at, "expected an object with `group` and `members`")
        group = raw.get("group")
        if not isinstance(group, str) or not group.strip():
            raise PuzzleError(where, f"{at}/group", "expected a non-empty string")
        members = raw.get("members")
        if not isinstance(members, list) or len(members) < 2:
            raise PuzzleError(where, f"{at}/members", "expected a list of at least 2 words")
        for j, word in enumerate(members):
            if not isinstance(word, str) or not word.strip() or "`" in word:
                raise PuzzleError(
                    where, f"{at}/members/{j}", "expected a non-empty string without backticks"
                )
            key = word.strip().casefold()
            if key in seen:
                raise PuzzleError(
                    where, f"{at}/members/{j}", f"word {word!r} appears twice (also at {seen[key]})"
                )
            seen[key] = f"{at}/members/{j}"
        if categories and len(members) != len(categories[0].members):
            raise PuzzleError(
                where,
                f"{at}/members",
                f"has {len(members)} words but group 0 has {len(categories[0].members)}; "
                "all groups of a puzzle have the same size",
            )
        categories.append(Category(group.strip(), tuple(w.strip() for w in members)))
    return tuple(categories)


def board_order(value: Any, categories: Iterable[Category], where: str, pointer: str) -> list[str]:
    """A recorded board order (`all_words`): every word of the puzzle exactly once (compared as
    guesses are, stripped and case-insensitively), returned as the puzzle spells them."""
    spelling = {w.casefold(): w for c in categories for w in c.members}
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise PuzzleError(where, pointer, "expected a list of the puzzle's words")
    keys = [w.strip().casefold() for w in value]
    unknown = [w for w, k in zip(value, keys) if k not in spelling]
    if unknown:
        raise PuzzleError(where, pointer, f"{', '.join(map(repr, unknown))} not in the puzzle's groups")
    twice = sorted({w for w, k in zip(value, keys) if keys.count(k) > 1})
    if twice:
        raise PuzzleError(where, pointer, f"{', '.join(map(repr, twice))} listed more than once")
    listed = set(keys)
    missing = [w for k, w in spelling.items() if k not in listed]
    if missing:
        raise PuzzleError(where, pointer, f"lacks {', '.join(map(repr, missing))}")
    return [spelling[k] for k in keys]


PROMPT_ROLES = ("system", "user", "assistant", "tool")


def parse_prompt(value: Any, where: str, pointer: str) -> list[dict[str, str]]:
    """A recorded prompt: a non-empty list of `{role, content}` messages, kept as they are."""
    if not isinstance(value, list) or not value:
        raise PuzzleError(where, pointer, "expected a non-empty list of {role, content} messages")
    for i, message in enumerate(value):
        at = f"{pointer}/{i}"
        if not isinstance(message, dict):
            raise PuzzleError(where, at, "expected a {role, content} object")
        extra = sorted(set(message) - {"role", "content"})
        if extra:
            raise PuzzleError(where, f"{at}/{extra[0]}", "unexpected key: a message is {role, content}")
        if message.get("role") not in PROMPT_ROLES:
            raise PuzzleError(where, f"{at}/role", f"expected one of {', '.join(PROMPT_ROLES)}")
        if not isinstance(message.get("content"), str):
            raise PuzzleError(where, f"{at}/content", "expected a string")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _rollout_record(raw: dict[str, Any], where: str) -> tuple[Any, tuple[Category, ...], dict[str, Any]]:
    """(puzzle id, categories, task data) of a seed rollout record to continue."""
    info = raw["info"]
    categories = parse_categories(info.get("categories"), where, "/info/categories")
    if raw.get("completion"):
        raise PuzzleError(
            where, "/completion",
            "a rollout with a completion cannot be continued as it stands; truncate it first "
            "(harness_connections.truncation.truncate), which moves the kept turns into the prompt",
        )
    extra: dict[str, Any] = {}
    if info.get("all_words") is not None:
        extra["all_words"] = board_order(info["all_words"], categories, where, "/info/all_words")
    if raw.get("prompt") is not None:
        extra["prompt"] = parse_prompt(raw["prompt"], where, "/prompt")
    history = info.get("resumed_from_guess_history")
    if history:
        if not isinstance(history, list):
            raise PuzzleError(where, "/info/resumed_from_guess_history", "expected a list of guess records")
        extra["resumed_from_guess_history"] = history
    return info.get("puzzle_id"), categories, extra


def parse_puzzle(raw: Any, where: str) -> Puzzle:
    """One puzzle in any of the three shapes (see the module docstring)."""
    if not isinstance(raw, dict):
        raise PuzzleError(where, "", f"expected a JSON object, got {type(raw).__name__}")
    if "categories" in raw:
        id_field, puzzle_id = "/puzzle_id", raw.get("puzzle_id")
        categories = parse_categories(raw["categories"], where, "/categories")
        extra = {}
    elif "answers" in raw:
        id_field, puzzle_id = "/id", raw.get("id")
        categories = parse_categories(raw["answers"], where, "/answers")
        extra = {"date": raw["date"]} if isinstance(raw.get("date"), str) else {}
    elif isinstance(raw.get("info"), dict) and "categories" in raw["info"]:
        id_field = "/info/puzzle_id"
        puzzle_id, categories, extra = _rollout_record(raw, where)
    else:
        raise PuzzleError(
            where, "", "expected `puzzle_id` + `categories` (ours), `id` + `answers` (archive) "
            "or `prompt` + `info.categories` (a seed rollout record)"
        )
    if isinstance(puzzle_id, bool) or not isinstance(puzzle_id, (str, int)) or puzzle_id == "":
        raise PuzzleError(where, id_field, "expected a non-empty string or an integer")
    split = raw.get("split")
    if split is not None and (not isinstance(split, str) or not split):
        raise PuzzleError(where, "/split", "expected a non-empty string")
    return Puzzle(puzzle_id, categories, split, extra)


def _records(path: str, skipped: list[PuzzleError] | None) -> Iterable[tuple[str, Any]]:
    """(location, parsed JSON) of each puzzle of one file; bad JSONL lines go to `skipped`."""
    with open(path, encoding="utf-8") as f:
        if path.endswith(".jsonl"):
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    err = PuzzleError(where, "", f"not valid JSON ({exc.msg}, column {exc.colno})")
                    if skipped is None:
                        raise err from None
                    skipped.append(err)
                    continue
                yield where, raw
            return
        try:
            data = json.load(f)
        except json.JSONDecodeError as exc:
            raise PuzzleError(
                f"{path}:{exc.lineno}", "", f"not valid JSON ({exc.msg}, column {exc.colno})"
            ) from None
    if not isinstance(data, list):
        raise PuzzleError(path, "", "expected a JSON list of puzzles (or use a .jsonl file)")
    for index, raw in enumerate(data):
        yield f"{path}[{index}]", raw


def load_puzzles(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    skipped: list[PuzzleError] | None = None,
) -> list[Puzzle]:
    """Every puzzle of the files, in order. Puzzle ids must be unique across all of them
    (compared as strings, like task ids). The first bad puzzle raises its `PuzzleError`, unless
    a `skipped` list is given: then bad puzzles (and bad JSONL lines) are left out and their
    errors appended to it. A missing or unreadable file always raises."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    puzzles: list[Puzzle] = []
    first_seen: dict[str, str] = {}
    for path in (os.fspath(p) for p in paths):
        if not os.path.isfile(path):
            raise PuzzleError(path, "", "no such file")
        for where, raw in _records(path, skipped):
            try:
                puzzle = parse_puzzle(raw, where)
                key = str(puzzle.puzzle_id)
                if key in first_seen:
                    raise PuzzleError(
                        where, "", f"puzzle id {puzzle.puzzle_id!r} already used at {first_seen[key]}"
                    )
            except PuzzleError as err:
                if skipped is None:
                    raise
                skipped.append(err)
                continue
            first_seen[key] = where
            puzzles.append(puzzle)
    return puzzles


def assign_split(puzzle_id: PuzzleId, test_fraction: float) -> str:
    """`test` for a stable pseudo-random `test_fraction` of puzzle ids, `train` for the rest.
    Depends on the id alone, so adding puzzles never moves existing ones between splits."""
    position = derive_seed("connections-split", str(puzzle_id)) / 2**64
    return "test" if position < test_fraction else "train"


def shown_words(puzzle_id: PuzzleId, categories: Iterable[Category]) -> list[str]:
    """All words, shuffled by an RNG seeded from the puzzle id alone (as the seed does), so every
    episode of a puzzle shows the same board whatever its seed."""
    words = [word for category in categories for word in category.members]
    random.Random(derive_seed("connections-shuffle", str(puzzle_id))).shuffle(words)
    return words
