"""Seed 001 results files: best rollout per puzzle, good or bad, salvageable or not, from indexes.

A results directory holds `results_1.jsonl`, `results_2.jsonl`, … of seed-shaped Connections
rollout records (`{prompt, completion, info: {puzzle_id, categories, all_words, …}, reward,
guess_history, complete_reason}`, as seed 001 writes them and `to_rollout_record` makes them).
`analyze(files)` does seed 001's filter over all of them (harness_connections.selection: group by
`str(info.puzzle_id)`, best by reward then mean assistant tokens, first valid-and-won is good)
and its truncation and salvage quality on the bad ones, without reading the records themselves:
each file's index (harness.doctor.index) holds, per record, its key, reward, whether it was won,
its guess statuses and its number of groups, which decide all of it. Token counts are needed
only to break ties, and for every record under a token limit (a message over it makes its guess
invalid); they are kept in the index's token file.

`rows(analysis, keys)` reads the chosen records of some puzzles and makes the seed's output rows
(think-wrapped, tags, metadata), and `truncated(...)` the truncated examples of bad ones.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.doctor.index import FileIndex, Located, read_at
from harness.doctor.select import Candidate, best_per_key
from harness.doctor.tokens import token_counter

RESULTS = re.compile(r"results_(\d+)\.jsonl")
KIND = "connections-results-3"
HISTORY_SLOTS = 16
GROUP_SLOTS = 8
FIELDS = (["/info/puzzle_id", "/reward", "/complete_reason"]
          + [f"/guess_history/{i}/status" for i in range(HISTORY_SLOTS + 1)]
          + [f"/info/categories/{i}/group" for i in range(GROUP_SLOTS + 1)])
"""What the index reads of a record: the statuses and the groups one by one, because the reader
then hands over a few short strings instead of building every guess record as a dict. A record
with more guesses or groups than the slots, or with no guess at all (its history may be empty or
missing), is read whole instead (rare: a longer game than the seed's ten turns)."""
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


COLUMNS = ("key", "reward", "won", "statuses", "groups", "valid")
_STATUSES = [f"/guess_history/{i}/status" for i in range(HISTORY_SLOTS)]
_MORE_STATUSES = f"/guess_history/{HISTORY_SLOTS}/status"
_GROUPS = [f"/info/categories/{i}/group" for i in range(GROUP_SLOTS)]
_MORE_GROUPS = f"/info/categories/{GROUP_SLOTS}/group"


def _facts(record: Located, where: str, path: Path) -> tuple[Any, ...]:
    """What the seed's filter and truncation read of one record, in the order of `COLUMNS`."""
    fields = record.fields
    get = fields.get
    codes = [CODES.get(s, "?") for s in map(get, _STATUSES) if s is not None]
    n = len(codes)
    if not n or _MORE_STATUSES in fields or _MORE_GROUPS in fields or get(_STATUSES[n - 1]) is None:
        return _facts_of_whole(record, where, path)  # no guess, more than the slots, or a gap
    groups = sum(p in fields for p in _GROUPS)
    statuses = "".join(codes)
    return (*_scalar_facts(fields, where), statuses, groups or None, "i" not in statuses)


def _scalar_facts(fields: dict[str, Any], where: str) -> tuple[Any, ...]:
    puzzle_id = fields.get("/info/puzzle_id")
    reward = fields.get("/reward")
    if reward is not None and (reward.__class__ is bool or not isinstance(reward, (int, float))):
        raise ResultsError(f"{where}: /reward: expected a number or null, got {reward!r}")
    return (None if puzzle_id is None or puzzle_id == "" else str(puzzle_id), reward,
            fields.get("/complete_reason") == "all_categories_found")


def _facts_of_whole(record: Located, where: str, path: Path) -> tuple[Any, ...]:
    """`_facts` of a record the slots do not describe, from the whole record."""
    [whole] = read_at(path, [(record.offset, record.length)])
    history = whole.get("guess_history")
    if history is not None and not isinstance(history, list):
        raise ResultsError(f"{where}: /guess_history: expected a list of guess records")
    statuses = None if history is None else "".join(
        CODES.get(g.get("status", "") if isinstance(g, dict) else "", "?") for g in history)
    info = whole.get("info")
    categories = info.get("categories") if isinstance(info, dict) else None
    return (*_scalar_facts(record.fields, where), statuses, len(categories) if isinstance(categories, list) else None,
            statuses is not None and "i" not in statuses)


def _assistant_tokens(count: Any) -> Any:
    def tokens(record: dict[str, Any]) -> list[int]:
        return [count(m["content"]) for m in record.get("completion") or []
                if isinstance(m, dict) and m.get("role") == "assistant" and isinstance(m.get("content"), str)]
    return tokens


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


@dataclass
class Chosen:
    key: str
    file: int
    """Position of the file in `Analysis.files`."""
    row: int
    good: bool
    reason: str | None = None
    """`invalid guess` or `game lost` for a bad one."""
    salvageable: bool = False
    quality: float | None = None


@dataclass
class Analysis:
    files: list[Path]
    indexes: list[FileIndex]
    chosen: dict[str, Chosen] = field(default_factory=dict)
    """Every puzzle with a rollout, in sorted order of its key."""
    skipped: int = 0
    """Records without a puzzle id."""
    parsed: int = 0
    """Files parsed by this analysis (the others' indexes were up to date)."""

    @property
    def good(self) -> list[str]:
        return [k for k, c in self.chosen.items() if c.good]

    @property
    def bad(self) -> list[str]:
        return [k for k, c in self.chosen.items() if not c.good]


def _index(path: str | Path, index_dir: str | Path | None) -> FileIndex:
    return FileIndex(path, KIND, index_dir=index_dir).load(FIELDS, COLUMNS, _facts)


def _build(job: tuple[str, str | None]) -> None:
    _index(*job)


def build_indexes(files: Sequence[str | Path], index_dir: str | Path | None = None, workers: int | None = None) -> int:
    """Index the files whose index is missing or stale, several at once (one process per core,
    up to `workers`); how many were indexed. A file whose indexing fails in a worker is indexed
    again here, so its error is raised as it is."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    stale = [str(p) for p in files if not FileIndex(p, KIND, index_dir=index_dir).current()]
    workers = min(len(stale), os.cpu_count() or 1, workers or len(stale))
    if workers > 1:
        jobs = [(p, None if index_dir is None else str(index_dir)) for p in stale]
        try:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                list(pool.map(_build, jobs))
        except Exception:  # the error is raised again below, unpickled, by this process
            pass
    return len(stale)


def analyze(
    files: Sequence[str | Path],
    *,
    token_limit: int | None = None,
    tokenizer: str | None = None,
    min_salvage_quality: float = 0.0,
    max_mistakes: int = 4,
    index_dir: str | Path | None = None,
) -> Analysis:
    """Seed 001's filter, truncation check and salvage quality over every record of `files`."""
    counter, count = token_counter(tokenizer)
    tokens_of = _assistant_tokens(count)
    parsed = build_indexes(files, index_dir)
    indexes = [_index(p, index_dir) for p in files]
    analysis = Analysis([Path(p) for p in files], indexes, parsed=parsed)
    per_file_tokens: list[list[list[int]] | None] = []
    for index in indexes:  # under a token limit every record's message sizes decide its validity
        rows = list(range(len(index)))
        per_file_tokens.append(index.tokens(counter, rows, tokens_of) if token_limit is not None else None)

    def statuses(f: int, row: int) -> str | None:
        codes = indexes[f].columns["statuses"][row]
        if codes is None:
            return None
        sizes = per_file_tokens[f]
        return marked(codes, sizes[row] if sizes is not None else None, token_limit)

    candidates: list[Candidate] = []
    skipped: list[str] = []
    for f, index in enumerate(indexes):
        columns = index.columns
        if token_limit is None:  # validity as the index has it
            valid = columns["valid"]
        else:
            valid = [
                codes is not None and "i" not in codes for codes in (statuses(f, row) for row in range(len(index)))
            ]
        for row, (key, won, ok, reward) in enumerate(zip(columns["key"], columns["won"], valid, columns["reward"])):
            if key is None:
                skipped.append(f"{index.path.name}:{row + 1}")
                continue
            candidates.append(Candidate(key, ok and won, 0.0 if reward is None else float(reward), len(candidates),
                                        (f, row)))
    if skipped:
        warnings.warn(f"connections: skipped {len(skipped)} rollout record(s) without info.puzzle_id "
                      f"(records {', '.join(skipped[:10])}{', ...' if len(skipped) > 10 else ''}, by record "
                      "number in their file)", stacklevel=2)
    analysis.skipped = len(skipped)

    def mean_tokens(tied: Sequence[Candidate]) -> list[float]:
        by_file: dict[int, list[int]] = {}
        for c in tied:
            by_file.setdefault(c.ref[0], []).append(c.ref[1])
        sizes = {}
        for f, rows in by_file.items():
            for row, counts in zip(rows, indexes[f].tokens(counter, rows, tokens_of)):
                sizes[(f, row)] = sum(counts) / len(counts) if counts else 0.0
        return [sizes[c.ref] for c in tied]

    for key, c in sorted(best_per_key(candidates, mean_tokens).items()):
        f, row = c.ref
        chosen = Chosen(key, f, row, c.good)
        if not c.good:
            codes = statuses(f, row)
            chosen.reason = INVALID_GUESS if codes is None or "i" in codes else GAME_LOST
            continuable, quality = salvage_facts(codes or "", indexes[f].columns["groups"][row], max_mistakes)
            chosen.quality = quality
            chosen.salvageable = continuable and quality >= min_salvage_quality
        analysis.chosen[key] = chosen
    return analysis


def records(analysis: Analysis, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The chosen records of `keys`, read from their files."""
    by_file: dict[int, list[str]] = {}
    for key in keys:
        by_file.setdefault(analysis.chosen[key].file, []).append(key)
    out: dict[str, dict[str, Any]] = {}
    for f, group in by_file.items():
        index = analysis.indexes[f]
        places = [(index.columns["offset"][analysis.chosen[k].row], index.columns["length"][analysis.chosen[k].row])
                  for k in group]
        out.update(zip(group, read_at(index.path, places)))
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
