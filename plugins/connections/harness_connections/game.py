"""The rules of one Connections game, without any chat around it.

`Game.guess(items)` judges one guess and returns its guess records (the guess, plus an `auto`
record when it leaves a single group, which then completes itself). `Game.restore(record)` puts a
record from an earlier episode back into the state, the seed's way: `correct`/`auto` mark their
group found, `incorrect`/`one_away` add a mistake, `invalid` changes nothing.

A guess record is `{items, status, category_idx, result_message}`, plus `invalid_reason` on
invalid ones. Statuses: `invalid`, `incorrect`, `one_away`, `correct`, `auto`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness_connections.puzzles import Category

STATUSES = ("invalid", "incorrect", "one_away", "correct", "auto")
MISTAKES = ("incorrect", "one_away")
FOUND = ("correct", "auto")

# Why a guess is invalid (the step's `status.reason` and the record's `invalid_reason`).
NO_GUESS = "no_guess"
WRONG_COUNT = "wrong_count"
REPEATED_WORD = "repeated_word"
UNKNOWN_WORD = "unknown_word"
ALREADY_FOUND = "already_found"


class RestoreError(ValueError):
    """A guess record that does not fit the puzzle; `field` points into the record."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def _listing(words: Sequence[str]) -> str:
    return ", ".join(words)


def _quoted(words: Sequence[str]) -> str:
    return ", ".join(f"`{w}`" for w in words)


class Game:
    def __init__(self, categories: Sequence[Category], shown: Sequence[str], max_mistakes: int):
        self.categories = list(categories)
        self.shown = list(shown)
        self.max_mistakes = max_mistakes
        self.group_size = len(self.categories[0].members)
        self.found: list[int] = []  # category indexes, in the order they were found
        self.mistakes = 0
        self.history: list[dict[str, Any]] = []
        # casefolded word -> (category index, the word as the puzzle spells it)
        self._words = {
            w.casefold(): (i, w) for i, c in enumerate(self.categories) for w in c.members
        }

    # -- state -------------------------------------------------------------------------------

    @property
    def won(self) -> bool:
        return len(self.found) == len(self.categories)

    @property
    def lost(self) -> bool:
        return self.mistakes >= self.max_mistakes

    @property
    def over(self) -> bool:
        return self.won or self.lost

    def remaining_words(self) -> list[str]:
        """The words not yet in a found group, in the order the board shows them."""
        return [w for w in self.shown if self._words[w.casefold()][0] not in self.found]

    def status_line(self) -> str:
        return (
            f"Mistakes: {self.mistakes}/{self.max_mistakes}. "
            f"Groups found: {len(self.found)}/{len(self.categories)}.\n"
            f"Remaining words: {_quoted(self.remaining_words())}"
        )

    # -- playing -----------------------------------------------------------------------------

    def guess(self, items: list[str] | None) -> list[dict[str, Any]]:
        """Judge one guess (`None`: the message had no guess tag); return its records."""
        invalid = self._invalid(items)
        if invalid is not None:
            reason, detail, shown_items = invalid
            record: dict[str, Any] = {
                "items": shown_items,
                "status": "invalid",
                "category_idx": None,
                "result_message": f"Invalid guess: {detail} This does not count as a mistake.",
                "invalid_reason": reason,
            }
            self.history.append(record)
            return [record]
        assert items is not None
        spelled = [self._words[item.casefold()][1] for item in items]
        overlap = [0] * len(self.categories)
        for item in items:
            overlap[self._words[item.casefold()][0]] += 1
        best = max(range(len(overlap)), key=lambda i: overlap[i])
        if overlap[best] == self.group_size:
            records = [self._found(best, spelled, "correct")]
            left = [i for i in range(len(self.categories)) if i not in self.found]
            if len(left) == 1:
                last = self.categories[left[0]]
                records.append(self._found(left[0], list(last.members), "auto"))
            return records
        self.mistakes += 1
        if overlap[best] == self.group_size - 1:
            record = {
                "items": spelled,
                "status": "one_away",
                "category_idx": best,
                "result_message": (
                    f"One away! {self.group_size - 1} of your {self.group_size} words belong to "
                    "one group. This counts as a mistake."
                ),
            }
        else:
            record = {
                "items": spelled,
                "status": "incorrect",
                "category_idx": None,
                "result_message": "Incorrect. This counts as a mistake.",
            }
        self.history.append(record)
        return [record]

    def _invalid(self, items: list[str] | None) -> tuple[str, str, list[str]] | None:
        """(reason, explanation, items as recorded) when the guess breaks the rules, else None."""
        if items is None:
            return NO_GUESS, "no complete <guess>...</guess> tag found.", []
        spelled = [self._words.get(item.casefold(), (None, item))[1] for item in items]
        if len(items) != self.group_size:
            return (
                WRONG_COUNT,
                f"you named {len(items)} words; a guess names exactly {self.group_size}.",
                spelled,
            )
        keys = [item.casefold() for item in items]
        repeated = sorted({s for s, k in zip(spelled, keys) if keys.count(k) > 1})
        if repeated:
            return REPEATED_WORD, f"{_listing(repeated)} named more than once.", spelled
        unknown = [s for s, k in zip(spelled, keys) if k not in self._words]
        if unknown:
            return UNKNOWN_WORD, f"{_listing(unknown)} not on the board.", spelled
        done = [s for s, k in zip(spelled, keys) if self._words[k][0] in self.found]
        if done:
            return ALREADY_FOUND, f"{_listing(done)} already in a found group.", spelled
        return None

    def _found(self, index: int, items: list[str], status: str) -> dict[str, Any]:
        self.found.append(index)
        category = self.categories[index]
        theme = f"{category.group}: {_listing(category.members)}"
        message = f"Correct! {theme}" if status == "correct" else f"The last group completes itself. {theme}"
        record = {"items": items, "status": status, "category_idx": index, "result_message": message}
        self.history.append(record)
        return record

    # -- resuming ----------------------------------------------------------------------------

    def restore(self, record: Any) -> None:
        """Put one record of an earlier episode's guess history back into the state."""
        if not isinstance(record, dict):
            raise RestoreError("", "expected a guess record object")
        status = record.get("status")
        if status not in STATUSES:
            raise RestoreError("/status", f"expected one of {', '.join(STATUSES)}, got {status!r}")
        if status in FOUND:
            index = record.get("category_idx")
            if isinstance(index, float) and index.is_integer():  # JSON written by other tools
                index = int(index)
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.categories):
                raise RestoreError(
                    "/category_idx", f"expected a group index 0..{len(self.categories) - 1}, got {index!r}"
                )
            if index in self.found:
                raise RestoreError("/category_idx", f"group {index} is already found")
            self.found.append(index)
        elif status in MISTAKES:
            self.mistakes += 1
        self.history.append(dict(record))
