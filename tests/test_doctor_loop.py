"""Seed 001's iterative loop over a results directory of seed-made rollouts: the printed lines,
the results files it adds, its journal, incremental indexes, stopping, the stats, and the whole
pipeline through the CLI and through Luigi."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from doctor_data import BOARD, SCRIPT, SEED_SYSTEM, puzzles_file, seed_results
from harness.doctor.loop import LoopConfig, NothingToLoop, run_loops
from harness.engine.config import ConfigMismatch

LINES = [
    "Loop 1: 1 Good, 2 Bad",
    "  - Salvageable: 1",
    "  - Unsalvageable: 1",
    "  - Missing puzzles: 1",
    "Loop 2: 3 Good, 1 Bad | 2 (66.7% of Ran Puzzles) -> Good Examples",
    "  - Salvageable: 0",
    "  - Unsalvageable: 1",
    "  - Missing puzzles: 0",
    "Loop 3: 3 Good, 1 Bad | 0 (0.0% of Ran Puzzles) -> Good Examples",
    "  - Salvageable: 0",
    "  - Unsalvageable: 1",
    "  - Missing puzzles: 0",
    "Final: 3 Good, 1 Bad | 0 (0.0% of Ran Puzzles) -> Good Examples",
    "  - Salvageable: 0",
    "  - Unsalvageable: 1",
    "  - Missing puzzles: 0",
]


def config(tmp_path: Path, ids=("p1", "p2", "p3", "p4"), **overrides) -> LoopConfig:
    puzzles = puzzles_file(tmp_path / "puzzles.jsonl", list(ids))
    return LoopConfig(**{"loops": 3, "env_args": {"puzzles": str(puzzles)}, "backend": "scripted",
                         "backend_args": {"responses": SCRIPT}, **overrides})


def run(results: Path, cfg: LoopConfig):
    said: list[str] = []
    report = run_loops(results, cfg, say=said.append, progress=False)
    return report, said


def test_three_loops_from_seed_made_results(tmp_path):
    results = tmp_path / "results"
    seed_results(results)
    report, said = run(results, config(tmp_path))
    assert said == LINES
    assert report.written == ["results_2.jsonl", "results_3.jsonl", "results_4.jsonl"]
    assert report.parsed_files == 4  # each analysis parsed only the file the loop before wrote
    made = [json.loads(line) for line in (results / "results_2.jsonl").read_text().splitlines()]
    assert (results / "results_2.jsonl").read_bytes().isascii()  # json.dumps, as the seed writes
    assert [r["info"]["puzzle_id"] for r in made] == ["p2", "p3", "p4"]  # the doctored one, then the fresh pool
    doctored = made[0]
    assert set(doctored) == {"prompt", "completion", "info", "reward", "reward_components", "guess_history",
                             "complete_reason"}
    # the seed's example continued verbatim: its prompt, its board, its kept guess
    assert doctored["prompt"][0]["content"] == SEED_SYSTEM
    assert doctored["prompt"][2]["content"].startswith("<think>Turn 0:")
    assert doctored["info"]["all_words"] == BOARD
    assert [g["status"] for g in doctored["guess_history"]] == ["correct", "correct", "correct", "auto"]
    assert [m["content"] for m in doctored["completion"] if m["role"] == "assistant"] == SCRIPT[1:3]
    journal = json.loads((results / "loops.json").read_text())["loops"]
    assert [(e["loop"], e["status"], e["output"], e["doctored"], e["fresh"]) for e in journal] == [
        (1, "done", "results_2.jsonl", 1, 2),
        (2, "done", "results_3.jsonl", 0, 1),
        (3, "done", "results_4.jsonl", 0, 1),
    ]
    assert journal[1]["converted_doctored"] == 1 and journal[1]["converted_fresh"] == 1
    assert not (results / ".loop").exists()


def test_a_rerun_finishes_nothing_twice_and_more_loops_go_on(tmp_path):
    results = tmp_path / "results"
    seed_results(results)
    cfg = config(tmp_path)
    run(results, cfg)
    before = {p.name: p.read_bytes() for p in results.glob("results_*.jsonl")}
    report, said = run(results, cfg)
    assert said == LINES and report.written == [] and report.parsed_files == 0
    assert {p.name: p.read_bytes() for p in results.glob("results_*.jsonl")} == before
    report, said = run(results, config(tmp_path, loops=4))
    assert report.written == ["results_5.jsonl"] and said[12].startswith("Loop 4: 3 Good, 1 Bad")


def test_work_a_kill_left_behind_a_finished_loop_is_removed_by_the_rerun(tmp_path):
    results = tmp_path / "results"
    seed_results(results)
    cfg = config(tmp_path)
    run(results, cfg)
    # what a kill -9 between recording loop 1 done and removing its work leaves
    (results / ".loop" / "run-1").mkdir(parents=True)
    (results / ".loop" / "run-1" / "shard-00000-of-00001.jsonl").write_text("{}\n")
    (results / ".loop" / "loop-1.puzzles.jsonl").write_text("{}\n")
    report, said = run(results, cfg)
    assert said == LINES and report.written == []
    assert not (results / ".loop").exists()


def test_it_stops_when_nothing_is_bad_or_missing_but_not_on_an_empty_start(tmp_path):
    results = tmp_path / "results"
    report, said = run(results, config(tmp_path, ids=("p1", "p2"), loops=5))
    assert said[:4] == ["Loop 1: 0 Good, 0 Bad", "  - Salvageable: 0", "  - Unsalvageable: 0", "  - Missing puzzles: 2"]
    assert said[4] == "Loop 2: 2 Good, 0 Bad | 2 (100.0% of Ran Puzzles) -> Good Examples"
    assert report.converged and report.written == ["results_1.jsonl"]
    assert [e["status"] for e in json.loads((results / "loops.json").read_text())["loops"]] == ["done", "converged"]


def test_nothing_at_all_is_an_error(tmp_path):
    with pytest.raises(NothingToLoop, match="holds no results and the dataset has no puzzles"):
        run(tmp_path / "results", config(tmp_path, limit=0))


def test_a_dry_run_prints_the_next_loop_and_writes_nothing(tmp_path):
    results = tmp_path / "results"
    seed_results(results)
    _report, said = run(results, config(tmp_path, dry_run=True))
    assert said == LINES[:4]
    assert sorted(p.name for p in results.iterdir()) == [".index", "results_1.jsonl"]


def test_a_token_limit_makes_long_messages_invalid_before_classification(tmp_path):
    results = tmp_path / "results"
    seed_results(results)
    # the seed's messages hold 9 words and a guess tag: over a limit of 8 words, every guess is invalid
    _report, said = run(results, config(tmp_path, dry_run=True, token_limit=8))
    assert said[:3] == ["Loop 1: 0 Good, 3 Bad", "  - Salvageable: 0", "  - Unsalvageable: 3"]
    assert (results / ".index" / "results_1.jsonl.tokens.words.json").exists()


def test_a_loop_planned_with_other_settings_is_not_mixed(tmp_path):
    results = tmp_path / "results"
    seed_results(results)
    with pytest.raises(LookupError):  # the loop is planned, then the backend does not exist
        run(results, config(tmp_path, backend="no-such-backend"))
    assert json.loads((results / "loops.json").read_text())["loops"][0]["status"] == "planned"
    with pytest.raises(ConfigMismatch, match="backend: 'no-such-backend' -> 'scripted'"):
        run(results, config(tmp_path))


def test_the_stats_files(tmp_path):
    results = tmp_path / "results"
    seed_results(results)
    run(results, config(tmp_path))
    stats = json.loads((results / "stats.json").read_text())
    table = stats["table"]
    assert [r["loop"] for r in table] == [1, 2, 3, "final"]
    assert (table[0]["good"], table[0]["ran"], table[0]["conversion"], table[0]["doctored_good"]) == (1, 3, 66.7, 1)
    assert stats["final"]["good"] == 3
    md = (results / "stats.md").read_text().splitlines()
    assert md[0].startswith("| loop | good | bad |") and md[2].startswith("| 1 | 1 | 2 |")
    png = (results / "good_per_loop.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    assert matplotlib.image.imread(results / "good_per_loop.png").shape[2] in (3, 4)


def sft_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_cli_to_the_final_sft_file(tmp_path):
    results = tmp_path / "results"
    seed_results(results)
    puzzles = puzzles_file(tmp_path / "puzzles.jsonl", ["p1", "p2", "p3", "p4"])
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "harness", "doctor", "loop", "--loops", "3", "--results-dir", str(results),
         "--env-arg", f"puzzles={puzzles}", "--backend", "scripted", "--backend-arg", f"responses={json.dumps(SCRIPT)}",
         "--quiet"], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[: len(LINES)] == LINES
    assert "Examples: 3 (1 doctored)" in out and "Mean accuracy: 0.7500" in out and "Accuracy 1.0: 0.0%" in out
    rows = sft_rows(results / "sft" / "sft_examples.jsonl")
    assert [(r["puzzle_id"], r["tags"], r["solved"]) for r in rows] == [
        ("p1", ["good example"], True), ("p2", ["doctored"], True), ("p4", ["good example"], True)]
    assert set(rows[0]) == {"puzzle_id", "prompt", "completion", "reward", "accuracy", "guess_history", "categories",
                            "tags", "complete_reason", "solved"}
    bad = subprocess.run([sys.executable, "-m", "harness", "doctor", "loop", "--loops", "0", "--results-dir", "x"],
                         cwd=cwd, capture_output=True, text=True)
    assert bad.returncode == 1 and "loops must be at least 1" in bad.stderr and "Traceback" not in bad.stderr


def test_luigi_connections_sft(tmp_path):
    results = tmp_path / "results"
    seed_results(results)
    puzzles = puzzles_file(tmp_path / "puzzles.jsonl", ["p1", "p2", "p3", "p4"])
    done = subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "luigi_tasks.connections", "ConnectionsSFT", "--loops", "3",
         "--results-dir", str(results), "--env-args", json.dumps({"puzzles": str(puzzles)}), "--backend", "scripted",
         "--backend-args", json.dumps({"responses": SCRIPT}), "--local-scheduler"],
        cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Loop 2: 3 Good, 1 Bad | 2 (66.7% of Ran Puzzles) -> Good Examples" in done.stdout
    [sft] = list((tmp_path / "data" / "connections_sft").glob("*/sft_examples.jsonl"))
    assert sft.parent.name.startswith("scripted,3loops-")
    assert [r["puzzle_id"] for r in sft_rows(sft)] == ["p1", "p2", "p4"]
    assert (results / "stats.md").exists() and len(list(results.glob("results_*.jsonl"))) == 4
