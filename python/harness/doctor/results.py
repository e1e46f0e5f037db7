"""Seed 001 results files: best rollout per puzzle, good or bad, salvageable or not, from indexes.

A results directory holds `results_1.jsonl`, `results_2.jsonl`, … of seed-shaped Connections
rollout records (`{prompt, completion, info: {puzzle_id, categories, all_words, …}, reward,
guess_history, complete_reason}`, as seed 001 writes them and `to_rollout_record` makes them).
`analyze(files)` does seed 001's filter over all of them (harness_connections.selection: group by
`str(info.puzzle_id)`, best by reward then mean assistant tokens, first valid-and-won is good)
and its truncation and salvage quality on the bad ones, without reading the records themselves:
each file's index (harness.doctor.index) holds, per record, its key, reward, whether it was won,
its guess statuses and its number of groups, which decide all of it, made from the columns of
`FIELDS` that the Rust reader hands over; and the choices of the analysis before
(harness.doctor.choices) stand for the files it covered, so that the next loop looks only at the
new file. Token counts are needed only to break ties (counted where they do, and kept with the
choices) and for every record under a token limit (a message over it makes its guess invalid:
kept in the index's token file).

`rows(analysis, keys)` reads the chosen records of some puzzles and makes the seed's output rows
(think-wrapped, tags, metadata), and `truncated(...)` the truncated examples of bad ones.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from harness import jsonl
from harness.doctor import choices
from harness.doctor.index import INDEX_DIR, CountAt, FileIndex, load_indexes, read_at
from harness.doctor.tokens import WORDS, CountTokens, token_counter
from harness.jsonl import FileColumns

RESULTS = re.compile(r"results_(\d+)\.jsonl")
KIND = "connections-results-4"
STATUS_LIST = "/guess_history/*/status"
GROUP_LIST = "/info/categories/*/group"
FIELDS = ["/info/puzzle_id", "/reward", "/complete_reason", STATUS_LIST, GROUP_LIST]
"""What the index reads of a record: a few short values, and the guesses' statuses and the
categories' groups as one list each, so that no guess record or category is built."""
CODES = {"invalid": "i", "incorrect": "x", "one_away": "o", "correct": "c", "auto": "a"}
STATUSES = {code: status for status, code in CODES.items()}
INVALID_GUESS = "invalid guess"
GAME_LOST = "game lost"


class ResultsError(ValueError):
    """A results record that cannot be judged; the message names file, line and field."""


def results_files(directory: str | Path) -> list[Path]:
    """`results_N.jsonl` files of a directory, in the order they were made (N ascending)."""
    found = [(int(m.group(1)), p) for p in Path(directory).glob("results_*.jsonl")
             if (m := RESULTS.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def next_results_file(directory: str | Path) -> Path:
    numbers = [int(m.group(1)) for p in Path(directory).glob("results_*.jsonl") if (m := RESULTS.fullmatch(p.name))]
    return Path(directory) / f"results_{max(numbers, default=0) + 1}.jsonl"


NAN = float("nan")


def _facts(found: FileColumns) -> dict[str, np.ndarray]:
    """What the seed's filter and truncation read of each record of a file: key, reward, won,
    has_statuses, statuses, groups, valid. A missing value is an empty key, a NaN reward,
    `has_statuses` false or -1 groups."""
    values = found.values
    rewards = values["/reward"]
    if not set(map(type, rewards)) <= {int, float, type(None)}:  # bool, str, list, dict
        row, reward = next((row, r) for row, r in enumerate(rewards) if r is not None and type(r) not in (int, float))
        raise ResultsError(f"{found.path}:{found.line[row]}: /reward: expected a number or null, got {reward!r}")
    histories = values[STATUS_LIST]
    has_statuses = np.array([history is not None for history in histories], bool)
    for row in np.flatnonzero(~has_statuses).tolist():
        _check_history(found, row)
    sizes = np.array([len(history) if history is not None else 0 for history in histories], np.int64)
    ends = np.cumsum(sizes).tolist()
    every = _codes(list(chain.from_iterable(history for history in histories if history is not None)))
    statuses = np.array([every[end - size:end] for end, size in zip(ends, sizes.tolist())], str)
    return {
        "key": np.array(["" if p is None else str(p) for p in values["/info/puzzle_id"]], str),  # "": none
        "reward": np.array([NAN if r is None else r for r in rewards], np.float64),  # JSON has no NaN: none
        "won": np.array([reason == "all_categories_found" for reason in values["/complete_reason"]], bool),
        "has_statuses": has_statuses,
        "statuses": statuses,
        "groups": np.array([-1 if groups is None else len(groups) for groups in values[GROUP_LIST]], np.int64),
        "valid": has_statuses & (np.strings.find(statuses, "i") < 0),
    }


class _Codes(dict[Any, str]):
    def __missing__(self, status: Any) -> str:
        return "?"


_CODES = _Codes(CODES)


def _codes(statuses: list[Any]) -> str:
    """The statuses' codes ("?" for anything else), one a status: one map over the list, the
    common case, and item by item only for a status that cannot be a dict key (a list, an
    object)."""
    try:
        return "".join(map(_CODES.__getitem__, statuses))
    except TypeError:
        return "".join(CODES.get(s, "?") if isinstance(s, str) else "?" for s in statuses)


def _check_history(found: FileColumns, row: int) -> None:
    """A record without a list of guesses has none, or a guess history that is not a list: an
    error, which only the whole record tells apart (rare: read whole)."""
    [whole] = read_at(found.path, [(found.offset[row], found.length[row])])
    history = whole.get("guess_history")
    if history is not None and not isinstance(history, list):
        raise ResultsError(f"{found.path}:{found.line[row]}: /guess_history: expected a list of guess records")


ROLES, CONTENTS = "/completion/*/role", "/completion/*/content"
"""What counting a record's assistant tokens reads of it again."""


def assistant_tokens(counter: str, count: CountTokens) -> CountAt:
    """The tokens of each assistant message (a string) of the records at some places of a file.
    The default counter's words are counted by the reader: a Python string per message, only
    to split it, would cost most of a selection's time."""
    def words(path: Path, places: list[tuple[int, int]]) -> list[list[int]]:
        found = jsonl.columns_at(path, places, [ROLES, CONTENTS], words=[CONTENTS]).values
        return [[n for role, n in zip(roles or [], sizes or []) if role == "assistant" and n is not None]
                for roles, sizes in zip(found[ROLES], found[CONTENTS])]

    def tokens(path: Path, places: list[tuple[int, int]]) -> list[list[int]]:
        found = jsonl.columns_at(path, places, [ROLES, CONTENTS]).values
        return [[count(text) for role, text in zip(roles or [], texts or [])
                 if role == "assistant" and isinstance(text, str)]
                for roles, texts in zip(found[ROLES], found[CONTENTS])]

    return words if counter == WORDS else tokens


def marked(statuses: str, tokens: list[int] | None, limit: int | None) -> str:
    """The statuses after the token limit: the guess of a message over it becomes invalid
    (assistant messages and guesses that are not `auto` are paired in order, as the seed does)."""
    if limit is None or tokens is None:
        return statuses
    out, message = list(statuses), 0
    for i, code in enumerate(statuses):
        if code == "a":
            continue
        if message >= len(tokens):
            break
        if tokens[message] > limit:
            out[i] = "i"
        message += 1
    return "".join(out)


@functools.cache  # the same few histories recur in every loop's bad rollouts
def salvage_facts(statuses: str, groups: int | None, max_mistakes: int) -> tuple[bool, float]:
    """(truncation keeps something continuable, salvage quality) of a guess history's statuses,
    by the connections plugin's own rules (imported here: the harness needs the plugin only
    for seed 001's results)."""
    from harness_connections.predicates import salvage_quality
    from harness_connections.truncation import ends_the_game, kept_history

    history = [{"status": STATUSES.get(code, "?")} for code in statuses]
    kept = kept_history(history)
    continuable = bool(kept) and not ends_the_game(kept, groups, max_mistakes)
    return continuable, salvage_quality(history)


@dataclass(slots=True)
class Chosen:
    key: str
    file: int
    """Position of the file in `Analysis.files`."""
    row: int
    """Position of the record in its file."""
    offset: int
    length: int
    """Where the record is in its file: bytes from the start, and its own, without the line end."""
    good: bool
    reason: str | None = None
    """`invalid guess` or `game lost` for a bad one."""
    salvageable: bool = False
    quality: float | None = None


@dataclass
class Analysis:
    files: list[Path]
    chosen: dict[str, Chosen] = field(default_factory=dict)
    """Every puzzle with a rollout, in sorted order of its key."""
    skipped: int = 0
    """Records without a puzzle id."""
    parsed: int = 0
    """Files parsed by this analysis (the others' indexes or choices were up to date)."""
    reused: int = 0
    """Leading files whose rollouts this analysis did not look at: an earlier analysis's choices
    over them stood (harness.doctor.choices)."""

    @property
    def good(self) -> list[str]:
        return [k for k, c in self.chosen.items() if c.good]

    @property
    def bad(self) -> list[str]:
        return [k for k, c in self.chosen.items() if not c.good]


def index_files(files: Sequence[str | Path], index_dir: str | Path | None = None) -> list[FileIndex]:
    """The index of every results file, made where it is missing or stale."""
    return load_indexes(files, KIND, FIELDS, _facts, index_dir=index_dir)


def best_rows(keys: np.ndarray, good: np.ndarray, reward: np.ndarray, present: np.ndarray,
              mean_tokens: Callable[[Sequence[int]], Sequence[float] | np.ndarray]) -> np.ndarray:
    """`harness.doctor.select.best_per_key` over columns, for the many rows of results files:
    the row of each key (`keys[row]`, where `present`: strings, or any sortable values) with the
    highest (good, reward), ties going to the fewest mean tokens and then to the first row, in
    sorted order of the keys. `mean_tokens(rows)` is called once, with every row tied with the
    best of its key on (good, reward), when there are any."""
    rows = np.flatnonzero(present)
    if not len(rows):
        return rows
    order = np.lexsort((rows, -reward[rows], ~good[rows], keys[rows]))  # the last key sorts first
    rows = rows[order]
    key, g, r = keys[rows], good[rows], reward[rows]
    first = np.ones(len(rows), bool)
    first[1:] = key[1:] != key[:-1]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    tied = (g == g[starts][group]) & (r == r[starts][group])
    best = rows[starts]
    sizes = np.bincount(group[tied], minlength=len(starts))
    if (sizes > 1).any():
        ties = tied & (sizes[group] > 1)
        tied_rows, tied_group = rows[ties], group[ties]
        tokens = np.asarray(mean_tokens(tied_rows.tolist()), float)
        order = np.lexsort((tied_rows, tokens, tied_group))
        fewest = np.ones(len(order), bool)
        fewest[1:] = tied_group[order][1:] != tied_group[order][:-1]
        best[tied_group[order][fewest]] = tied_rows[order][fewest]
    return best


SHOWN_SKIPPED = 10
"""Records without a puzzle id that the warning names."""


def analyze(
    files: Sequence[str | Path],
    *,
    token_limit: int | None = None,
    tokenizer: str | None = None,
    min_salvage_quality: float = 0.0,
    max_mistakes: int = 4,
    index_dir: str | Path | None = None,
) -> Analysis:
    """Seed 001's filter, truncation check and salvage quality over every record of `files`.

    The candidates of each puzzle are its best over the leading files that an earlier analysis
    chose from (its saved choices, when they match) and every record of the other files (from
    their indexes): the best of those is the best over all of them."""
    counter, count = token_counter(tokenizer)
    tokens_of = assistant_tokens(counter, count)
    paths = [Path(p) for p in files]
    analysis = Analysis(paths)
    if not paths:
        return analysis
    settings = {"kind": KIND, "token_limit": token_limit, "counter": counter}
    where = Path(index_dir) if index_dir is not None else paths[0].parent / INDEX_DIR
    saved_at = choices.cache_file(where, settings)
    described = choices.describe(paths)
    earlier = choices.load(saved_at, described, settings) or choices.Choices.none()
    analysis.reused = n = len(earlier.files)
    new = index_files(paths[n:], index_dir)
    c = _candidates(earlier, new, n, counter, tokens_of, token_limit)
    missing = np.flatnonzero(c["key"] == "")
    analysis.skipped = earlier.skipped + len(missing)
    skipped_names = earlier.skipped_names + [f"{paths[c['file'][i]].name}:{c['row'][i] + 1}"
                                             for i in missing[:SHOWN_SKIPPED].tolist()]
    if analysis.skipped:
        shown = skipped_names[:SHOWN_SKIPPED]
        more = ", ..." if analysis.skipped > len(shown) else ""
        warnings.warn(f"connections: skipped {analysis.skipped} rollout record(s) without info.puzzle_id "
                      f"(records {', '.join(shown)}{more}, by record number in their file)", stacklevel=2)

    def mean_tokens(tied: Sequence[int]) -> np.ndarray:
        at = np.asarray(tied, np.int64)
        unknown = at[np.isnan(c["tokens"][at])]
        counted.append(len(unknown))
        for f in set(c["file"][unknown].tolist()):  # counted at their places; the chosen keep theirs
            here = unknown[c["file"][unknown] == f]
            counts = tokens_of(paths[f], list(zip(c["offset"][here].tolist(), c["length"][here].tolist())))
            c["tokens"][here] = [sum(n) / len(n) if n else 0.0 for n in counts]
        return c["tokens"][at]

    counted: list[int] = []
    best = best_rows(c["key"], c["good"], c["reward"], c["key"] != "", mean_tokens)  # in key order
    kept = {name: column[best] for name, column in c.items()}
    analysis.parsed = sum(index.built for index in new)
    if n < len(paths) or any(counted):
        choices.save(saved_at, choices.Choices(described, kept, analysis.skipped, skipped_names[:SHOWN_SKIPPED]),
                     settings)
    for key, f, row, offset, length, is_good, has_statuses, codes, groups in zip(
            *(kept[name].tolist() for name in ("key", "file", "row", "offset", "length", "good", "has_statuses",
                                               "statuses", "groups"))):
        chosen = analysis.chosen[key] = Chosen(key, f, row, offset, length, is_good)
        if not is_good:
            chosen.reason = INVALID_GUESS if not has_statuses or "i" in codes else GAME_LOST
            continuable, quality = salvage_facts(codes, None if groups < 0 else groups, max_mistakes)
            chosen.quality = quality
            chosen.salvageable = continuable and quality >= min_salvage_quality
    return analysis


def _candidates(earlier: choices.Choices, new: list[FileIndex], first: int, counter: str, tokens_of: CountAt,
                token_limit: int | None) -> dict[str, np.ndarray]:
    """The columns of `choices.COLUMNS` over the earlier choices, then every record of the `new`
    files (whose first is file `first`): the earlier first, so that among equals the earlier
    file wins, as it would over all the records. A missing puzzle id is an empty key."""
    parts = [earlier.arrays]
    for f, index in enumerate(new, start=first):
        a, size = index.arrays, len(index)
        statuses, valid = a["statuses"], a["valid"]
        if token_limit is not None:  # a message over the limit makes its guess invalid
            sizes = index.tokens(counter, list(range(size)), tokens_of)
            statuses = np.array([marked(codes, tokens, token_limit) for codes, tokens in
                                 zip(statuses.tolist(), sizes)], str).reshape(size)
            valid = a["has_statuses"] & (np.strings.find(statuses, "i") < 0)
        parts.append({"key": a["key"], "file": np.full(size, f, np.int64), "row": np.arange(size, dtype=np.int64),
                      "offset": a["offset"], "length": a["length"], "good": valid & a["won"],
                      "reward": np.nan_to_num(a["reward"], nan=0.0), "has_statuses": a["has_statuses"],
                      "statuses": statuses, "groups": a["groups"], "tokens": np.full(size, NAN)})
    return {name: np.concatenate([part[name] for part in parts]).astype(dtype, copy=False)
            for name, dtype in choices.COLUMNS.items()}


def records(analysis: Analysis, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The chosen records of `keys`, read from their files."""
    by_file: dict[int, list[str]] = {}
    for key in keys:
        by_file.setdefault(analysis.chosen[key].file, []).append(key)
    out: dict[str, dict[str, Any]] = {}
    for f, group in by_file.items():
        places = [(analysis.chosen[k].offset, analysis.chosen[k].length) for k in group]
        out.update(zip(group, read_at(analysis.files[f], places)))
    return out


def rows(analysis: Analysis, keys: Sequence[str], *, token_limit: int | None = None,
         tokenizer: str | None = None) -> list[dict[str, Any]]:
    """The seed's output rows of the chosen records of `keys` (in that order): think-wrapped,
    with tags and metadata; under a token limit, the bad ones with their marked guesses."""
    from harness_connections.selection import mark_over_token_limit, output_row

    _, count = token_counter(tokenizer)
    found = records(analysis, keys)
    out = []
    for key in keys:
        chosen, record = analysis.chosen[key], found[key]
        if token_limit is not None:
            record = mark_over_token_limit(record, token_limit, count)
        out.append(output_row(record, None if chosen.good else chosen.reason))
    return out
