"""Puzzles generated from the category bank the project ships (`data/categories.json`).

Each bank category has a theme (`group`), 5 to 8 candidate `members`, and optionally `also`:
words that fit the theme but are never used, listed so that no puzzle puts them in another group.
A puzzle takes `groups` categories whose words (members and `also`) are pairwise disjoint, so
every generated puzzle has exactly one solution as far as the bank knows, then `group_size`
members of each. Puzzle i of a seed depends on (seed, i) alone: asking for more puzzles never
changes the first ones.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from harness.environment import derive_seed
from harness_connections.puzzles import Category, Puzzle

BANK_FILE = "categories.json"


class BankError(ValueError):
    """A bank that cannot be used, or puzzles it cannot make."""


@dataclass(frozen=True)
class BankCategory:
    group: str
    members: tuple[str, ...]
    also: tuple[str, ...] = ()

    @property
    def words(self) -> frozenset[str]:
        """Everything that fits the theme, casefolded: what must not appear in another group."""
        return frozenset(w.casefold() for w in (*self.members, *self.also))


def parse_bank(data: Any, where: str) -> list[BankCategory]:
    categories = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(categories, list) or not categories:
        raise BankError(f"{where}: /categories: expected a non-empty list")
    out = []
    for i, raw in enumerate(categories):
        at = f"{where}: /categories/{i}"
        if not isinstance(raw, dict) or not isinstance(raw.get("group"), str) or not raw["group"]:
            raise BankError(f"{at}/group: expected a non-empty string")
        for key in ("members", "also"):
            words = raw.get(key, [])
            if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
                raise BankError(f"{at}/{key}: expected a list of non-empty strings")
        members = raw["members"] if isinstance(raw.get("members"), list) else []
        if not 5 <= len(members) <= 8 or len({w.casefold() for w in members}) != len(members):
            raise BankError(f"{at}/members: expected 5 to 8 different words, got {members!r}")
        out.append(BankCategory(raw["group"], tuple(members), tuple(raw.get("also", []))))
    return out


@cache
def load_bank() -> tuple[BankCategory, ...]:
    """The bank shipped with the package."""
    text = resources.files("harness_connections").joinpath("data", BANK_FILE).read_text("utf-8")
    return tuple(parse_bank(json.loads(text), f"harness_connections/data/{BANK_FILE}"))


def generate_puzzle(
    seed: int, index: int, *, groups: int = 4, group_size: int = 4, bank: tuple[BankCategory, ...] | None = None
) -> Puzzle:
    """Puzzle `index` of generator `seed`: id `gen-{seed}-{index:05d}`."""
    bank = load_bank() if bank is None else bank
    usable = [c for c in bank if len(c.members) >= group_size]
    rng = random.Random(derive_seed("connections-bank", seed, index, groups, group_size))
    order = rng.sample(usable, len(usable))
    chosen: list[BankCategory] = []
    taken: set[str] = set()
    for category in order:
        if len(chosen) == groups:
            break
        if taken.isdisjoint(category.words):
            chosen.append(category)
            taken |= category.words
    if len(chosen) < groups:
        raise BankError(
            f"the bank has no {groups} categories with {group_size}+ members and no shared words "
            f"(found {len(chosen)} for seed {seed}, puzzle {index})"
        )
    categories = tuple(Category(c.group, tuple(rng.sample(c.members, group_size))) for c in chosen)
    return Puzzle(f"gen-{seed}-{index:05d}", categories)


def generate_puzzles(
    count: int, seed: int = 0, *, groups: int = 4, group_size: int = 4, bank: tuple[BankCategory, ...] | None = None
) -> list[Puzzle]:
    return [generate_puzzle(seed, i, groups=groups, group_size=group_size, bank=bank) for i in range(count)]
