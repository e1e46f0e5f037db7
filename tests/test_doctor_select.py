"""Selection from per-file indexes (harness.doctor.index, .select, .results) against the seed's
filter as the connections plugin implements it: the same rows, the same truncation decisions,
on random results files with ties, missing rewards, mixed id types and a token limit."""

from __future__ import annotations

import json
import os
import random
import warnings
from pathlib import Path

import numpy as np
import pytest

from harness.doctor import results as seed_results
from harness.doctor.index import scan_file
from harness.doctor.select import Candidate, best_per_key
from harness_connections.predicates import salvage_quality
from harness_connections.selection import count_words, mark_over_token_limit, select_best
from harness_connections.truncation import truncate

STATUSES = ["correct", "incorrect", "one_away", "invalid", "auto"]


def random_record(rng: random.Random) -> dict:
    statuses = [rng.choice(STATUSES) for _ in range(rng.randint(0, 6))]
    completion = []
    for k, s in enumerate(statuses):
        if s != "auto":
            completion.append(
                {"role": "assistant", "content": "word " * rng.choice([2, 3, 3, 9]) + f"<guess>[`W{k}`]</guess>"}
            )
            completion.append({"role": "user", "content": "feedback"})
    record = {
        "prompt": [{"role": "user", "content": "board é"}],
        "completion": completion,
        "info": {
            "puzzle_id": rng.choice([1, "1", 2, "2", 3, "x", "é", None, ""]),
            "categories": [{"group": f"G{i}", "members": ["a", "b"]} for i in range(4)],
        },
        "reward": rng.choice([0.0, 0.25, 0.5, 0.5, 1.0, None, ...]),
        "guess_history": [
            {"items": [], "status": s, "category_idx": 0 if s in ("correct", "auto") else None} for s in statuses
        ],
        "complete_reason": rng.choice(["all_categories_found", "max_mistakes", "max_turns_reached"]),
    }
    if record["reward"] is ...:
        del record["reward"]
    if rng.random() < 0.05:
        del record["guess_history"]
    return record


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="ascii")
    return path


@pytest.mark.parametrize("token_limit", [None, 5])
@pytest.mark.parametrize("seed", range(6))
def test_analysis_matches_the_plugins_filter_and_truncation(tmp_path, seed, token_limit):
    rng = random.Random(seed)
    files = [write(tmp_path / f"results_{n}.jsonl", [random_record(rng) for _ in range(rng.randint(0, 40))])
             for n in (1, 2, 10)]
    records = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    marked = [mark_over_token_limit(r, token_limit) if token_limit else r for r in records]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = select_best(marked)
        analysis = seed_results.analyze(files, token_limit=token_limit, index_dir=tmp_path / "idx")
    assert analysis.good == [str(r["info"]["puzzle_id"]) for r in expected.good]
    assert analysis.bad == [str(r["info"]["puzzle_id"]) for r in expected.bad]
    assert analysis.skipped == len(expected.skipped)
    rows = seed_results.rows(analysis, analysis.good + analysis.bad, token_limit=token_limit)
    assert rows == expected.good + expected.bad  # the very rows: same rollout chosen, same wrapping
    for row in expected.bad:
        chosen = analysis.chosen[str(row["info"]["puzzle_id"])]
        salvageable = truncate(row) is not None and salvage_quality(row.get("guess_history")) >= 0.0
        assert chosen.salvageable == salvageable
        assert chosen.quality == salvage_quality(row.get("guess_history"))


def summary(analysis) -> dict:
    return {k: (analysis.files[c.file].name, c.row, c.offset, c.length, c.good, c.reason, c.salvageable, c.quality)
            for k, c in analysis.chosen.items()}


@pytest.mark.parametrize("token_limit", [None, 5])
@pytest.mark.parametrize("seed", range(4))
def test_each_loop_looks_only_at_the_new_file_and_chooses_as_a_full_reread(tmp_path, seed, token_limit):
    rng = random.Random(100 + seed)
    files: list[Path] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in range(1, 6):  # as the loops make them: one new file each
            made = [random_record(rng) for _ in range(rng.randint(0, 30))]
            files.append(write(tmp_path / f"results_{n}.jsonl", made))
            loop = seed_results.analyze(files, token_limit=token_limit, index_dir=tmp_path / "idx")
            full = seed_results.analyze(files, token_limit=token_limit, index_dir=tmp_path / f"fresh-{n}")
            assert (loop.reused, loop.parsed) == (n - 1, 1) and (full.reused, full.parsed) == (0, n)
            assert summary(loop) == summary(full) and loop.skipped == full.skipped
        records = [json.loads(line) for f in files for line in f.read_text().splitlines()]
        expected = select_best([mark_over_token_limit(r, token_limit) if token_limit else r for r in records])
        again = seed_results.analyze(files, token_limit=token_limit, index_dir=tmp_path / "idx")
    assert (again.reused, again.parsed) == (5, 0)
    assert seed_results.rows(again, again.good + again.bad, token_limit=token_limit) == expected.good + expected.bad


def test_the_earlier_choice_stands_against_an_equal_later_rollout(tmp_path):
    def record(puzzle: int, reward: float, words: int) -> dict:
        return {"completion": [{"role": "assistant", "content": "w " * words + "<guess>[`A`]</guess>"}],
                "info": {"puzzle_id": puzzle, "categories": [{"group": "G"}] * 4}, "reward": reward,
                "guess_history": [{"status": "incorrect"}], "complete_reason": "max_mistakes"}

    first = write(tmp_path / "results_1.jsonl", [record(1, 0.5, 3), record(2, 0.5, 3), record(3, 0.5, 3)])
    second = write(tmp_path / "results_2.jsonl", [record(1, 0.5, 3), record(2, 0.5, 2), record(3, 0.75, 9)])
    seed_results.analyze([first], index_dir=tmp_path / "idx")
    loop = seed_results.analyze([first, second], index_dir=tmp_path / "idx")
    assert loop.reused == 1
    # all equal: the first in file order; fewer tokens; a higher reward
    assert {k: c.file for k, c in loop.chosen.items()} == {"1": 0, "2": 1, "3": 1}


def test_choices_stand_only_for_the_same_leading_files(tmp_path):
    rng = random.Random(7)
    files = [write(tmp_path / f"results_{n}.jsonl", [random_record(rng) for _ in range(20)]) for n in (1, 2, 3)]
    idx = tmp_path / "idx"

    def analyze(paths, index_dir=idx, **kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return seed_results.analyze(paths, index_dir=index_dir, **kw)

    analyze(files[:2])
    assert analyze(files).reused == 2
    assert analyze(files[::-1]).reused == 0  # another order: another first among equals
    assert analyze(files, token_limit=5).reused == 0  # other settings keep their own choices
    assert analyze(files[:2]).reused == 0 and analyze(files).reused == 2
    with open(files[0], "a") as f:  # a file they were made of changed
        f.write(json.dumps(random_record(rng)) + "\n")
    changed = analyze(files)
    assert changed.reused == 0 and summary(changed) == summary(analyze(files, tmp_path / "fresh"))
    for saved in idx.glob("choices.*.npz"):
        saved.write_bytes(saved.read_bytes()[:50])  # torn: made again
    assert analyze(files).reused == 0 and analyze(files).reused == 3


def test_best_per_key_counts_tokens_only_for_ties():
    asked = []

    def tokens(tied):
        asked.extend(tied)
        return [c.ref for c in tied]

    cands = [Candidate("a", False, 1.0, 0, 5), Candidate("a", True, 0.1, 1, 9), Candidate("b", False, 0.5, 2, 7),
             Candidate("b", False, 0.5, 3, 2), Candidate("b", False, 0.1, 4, 0), Candidate("c", True, 1.0, 5, 1)]
    best = best_per_key(cands, tokens)
    assert best["a"].position == 1  # good beats a higher reward
    assert best["b"].position == 3  # tied on reward: fewer tokens
    assert best["c"].position == 5
    assert sorted(c.position for c in asked) == [2, 3]


@pytest.mark.parametrize("seed", range(4))
def test_the_columns_choose_as_best_per_key_does(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 300)
    keys = [rng.choice("abcdefg") for _ in range(n)]
    good = [rng.random() < 0.3 for _ in range(n)]
    reward = [rng.choice([0.0, 0.25, 0.5, 1.0]) for _ in range(n)]
    present = [rng.random() < 0.9 for _ in range(n)]
    tokens = [float(rng.choice([1, 2, 2, 3])) for _ in range(n)]
    cands = [Candidate(k, g, r, i, i) for i, (k, g, r, p) in enumerate(zip(keys, good, reward, present)) if p]
    expected = best_per_key(cands, lambda tied: [tokens[c.ref] for c in tied])
    names = sorted(set(keys))
    asked = []

    def mean_tokens(rows):
        asked.extend(rows)
        return [tokens[row] for row in rows]

    rows = seed_results.best_rows(np.array([names.index(k) for k in keys]), np.array(good), np.array(reward),
                                  np.array(present), mean_tokens)
    assert {keys[row]: int(row) for row in rows} == {k: c.position for k, c in expected.items()}
    tied = [c.position for c in cands if sum((d.key, d.good, d.reward) == (c.key, c.good, c.reward) for d in cands) > 1
            and (c.good, c.reward) == max((d.good, d.reward) for d in cands if d.key == c.key)]
    assert sorted(asked) == sorted(tied)  # tokens are counted only where they decide


def test_a_torn_index_is_rebuilt(tmp_path):
    path = write(tmp_path / "results_1.jsonl", [random_record(random.Random(6)) for _ in range(5)])
    first = seed_results.index_files([path])[0]
    saved = tmp_path / ".index" / "results_1.jsonl.index.npz"
    saved.write_bytes(saved.read_bytes()[:100])  # a crash mid-write, say
    again = seed_results.index_files([path])[0]
    assert again.built and all(np.array_equal(again.arrays[k], first.arrays[k]) for k in first.arrays)
    assert not seed_results.index_files([path])[0].built


def test_scan_gives_byte_offsets_through_blank_lines_crlf_and_a_bom(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\n  \n{"a": "\\u00e9"}\n{"a": 3}')
    found = scan_file(path, ["/a"])
    data = path.read_bytes()
    assert [r.line for r in found] == [1, 4, 5]
    assert [json.loads(data[r.offset:r.offset + r.length]) for r in found] == [{"a": 1}, {"a": "é"}, {"a": 3}]


def test_an_index_is_reused_until_its_file_changes(tmp_path):
    path = write(tmp_path / "results_1.jsonl", [random_record(random.Random(1)) for _ in range(5)])
    first = seed_results.index_files([path])[0]
    assert first.built and (tmp_path / ".index" / "results_1.jsonl.index.npz").exists()
    again = seed_results.index_files([path])[0]
    assert not again.built and all(np.array_equal(again.arrays[k], first.arrays[k]) for k in first.arrays)
    with open(path, "a") as f:  # appended to: another identity
        f.write(json.dumps(random_record(random.Random(2))) + "\n")
    changed = seed_results.index_files([path])[0]
    assert changed.built and len(changed) == 6
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # touched: rebuilt too
    assert seed_results.index_files([path])[0].built


def test_token_counts_are_kept_beside_the_index(tmp_path):
    records = [random_record(random.Random(3)) for _ in range(4)]
    path = write(tmp_path / "results_1.jsonl", records)
    index = seed_results.index_files([path])[0]
    calls = []

    def count(path, places):
        calls.append(places)
        return seed_results.assistant_tokens("words", count_words)(path, places)

    first = index.tokens("words", [0, 2], count)
    assert len(calls) == 1 and len(calls[0]) == 2
    assert first == [[count_words(m["content"]) for m in records[i]["completion"] if m["role"] == "assistant"]
                     for i in (0, 2)]
    reloaded = seed_results.index_files([path])[0]
    assert reloaded.tokens("words", [2, 0], count) == first[::-1] and len(calls) == 1


def test_the_readers_word_counts_are_the_counters(tmp_path):
    records = [random_record(random.Random(seed)) for seed in range(20)]
    records[0]["completion"] = [{"role": "assistant", "content": " caf\u00e9\u2003na\u00efve\n\x1f!  "},
                                {"role": "assistant", "content": 12}, {"role": "assistant"}, {"content": "a b"},
                                {"role": "assistant", "content": ""}]
    del records[1]["completion"]
    path = write(tmp_path / "results_1.jsonl", records)
    index = seed_results.index_files([path])[0]
    places = list(zip(index.arrays["offset"].tolist(), index.arrays["length"].tolist()))
    by_reader = seed_results.assistant_tokens("words", count_words)(path, places)
    assert by_reader == seed_results.assistant_tokens("any other", count_words)(path, places)
    assert by_reader == [[count_words(m["content"]) for m in r.get("completion", [])
                          if m.get("role") == "assistant" and isinstance(m.get("content"), str)] for r in records]
    assert by_reader[0] == [3, 0] and by_reader[1] == []


def test_bad_records_are_errors_naming_file_line_and_field(tmp_path):
    record = random_record(random.Random(4))
    record["reward"] = "high"
    path = write(tmp_path / "results_1.jsonl", [random_record(random.Random(5)), record])
    with pytest.raises(seed_results.ResultsError, match=r"results_1.jsonl:2: /reward: expected a number"):
        seed_results.analyze([path])
    record["reward"] = True  # a bool is no number here
    path = write(tmp_path / "results_1.jsonl", [record, random_record(random.Random(5))])
    with pytest.raises(seed_results.ResultsError, match=r"results_1.jsonl:1: /reward: expected a number .* True"):
        seed_results.analyze([path])
    broken = tmp_path / "results_2.jsonl"
    broken.write_text('{"info": {"puzzle_id": 1}}\n{"info": \n')
    from harness.jsonl import JsonlError

    with pytest.raises(JsonlError, match=r"results_2.jsonl:2"):
        seed_results.analyze([broken])


def test_results_files_are_taken_in_the_order_they_were_made(tmp_path):
    for n in (10, 2, 1):
        (tmp_path / f"results_{n}.jsonl").write_text("")
    (tmp_path / "results_x.jsonl").write_text("")
    assert [p.name for p in seed_results.results_files(tmp_path)] == [
        "results_1.jsonl",
        "results_2.jsonl",
        "results_10.jsonl",
    ]
    assert seed_results.next_results_file(tmp_path).name == "results_11.jsonl"


def test_odd_statuses_are_unknown_codes():
    assert seed_results._codes(["correct", None, 5, True, "auto", "what"]) == "c???a?"
    assert seed_results._codes(["invalid", [1], {"status": "correct"}, "one_away"]) == "i??o"
