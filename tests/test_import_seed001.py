"""`harness import seed001`: seed 001 Connections results files → connections episodes, and back.

tests/fixtures/formats/parity/seed001_results.jsonl (written for these tests by `json.dumps`, as
the seed's files are) holds a won game with an `auto` record, tags and metadata; a lost game with
an int id, an invalid guess, no reward and a null complete_reason; a history that does not line
up with the completion (the seed's `words` key); messages with extra keys and a completion that
starts with a user message; a truncated example with an empty completion.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from harness.episode import load_episodes
from harness.formats import FormatConfig, FormatError, format_files
from harness.importers.run import ImportConfig, episodes_of, import_files
from harness_connections.rollout_record import to_rollout_record
from harness_connections.selection import select_best

RESULTS = Path(__file__).parent / "fixtures" / "formats" / "parity" / "seed001_results.jsonl"


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def episodes(tmp_path_factory) -> list:
    out = tmp_path_factory.mktemp("imported")
    import_files([RESULTS], out, ImportConfig(importer="seed001"))
    return list(load_episodes(out / RESULTS.name))


def test_every_record_comes_back_byte_for_byte(episodes):
    originals = RESULTS.read_text(encoding="utf-8").splitlines()
    assert [json.dumps(to_rollout_record(e), ensure_ascii=False) for e in episodes] == originals


def test_the_episodes_hold_the_game_as_the_environment_records_it(episodes):
    won, lost, misaligned, extra, truncated = episodes
    assert (won.env.name, won.env.version, won.task.id, lost.task.id) == ("connections", "seed001", "nyt-1", 7)
    assert won.outcome.success is True and lost.outcome.success is False and won.reward == 1.0
    assert lost.reward is None and lost.outcome.reason is None
    assert won.info["guess_history"][1]["status"] == "auto" and won.info["all_words"][0] == "KIWI"
    # the guesses line up with the assistant messages: each step holds its guess record
    assert [s.status.label for s in lost.steps] == ["invalid", "one_away"]
    assert [s.status.valid for s in lost.steps] == [False, True]
    assert lost.steps[0].info["invalid_reason"] == "no_guess"
    assert won.steps[0].info["auto_completed"]["status"] == "auto"
    assert [m.content for m in lost.steps[0].observation] == ["Invalid: no guess tag."]
    assert misaligned.steps[0].info == {}  # two records, one assistant message: not guessed at
    assert misaligned.reward_components == {}  # not numbers: kept in info.seed001 only
    assert "messages" in extra.info["seed001"] and "messages" not in won.info["seed001"]
    assert truncated.steps == [] and truncated.info["resumed_from_guess_history"][0]["status"] == "correct"


def test_the_seeds_filter_gives_the_same_rows_through_import(episodes):
    direct = select_best(records(RESULTS))
    imported = select_best([to_rollout_record(e) for e in episodes])
    assert json.dumps(imported.good) == json.dumps(direct.good)
    assert json.dumps(imported.bad) == json.dumps(direct.bad)


def test_generic_exports_keep_won_games_unless_asked(tmp_path):
    out_dir = tmp_path / "episodes"
    import_files([RESULTS], out_dir, ImportConfig(importer="seed001"))
    won = format_files([out_dir], tmp_path / "won.jsonl", FormatConfig(formatter="trl-messages"))
    assert (won.rows, won.failed, won.not_applicable) == (1, {"failed": 3}, {"has no steps": 1})
    every = format_files([out_dir], tmp_path / "all.jsonl", FormatConfig(formatter="trl-messages", include_failed=True))
    assert every.rows == 4 and every.not_applicable == {"has no steps": 1}
    rows = [json.loads(line) for line in (tmp_path / "won.jsonl").read_text().splitlines()]
    assert rows[0]["messages"][0] == {"role": "system", "content": "You are playing Connections."}


def test_a_record_without_a_puzzle_id_is_an_error_or_left_out_when_lenient(tmp_path):
    lines = RESULTS.read_text(encoding="utf-8").splitlines()
    broken = json.loads(lines[1])
    broken["info"]["puzzle_id"] = ""
    lines.insert(2, json.dumps(broken))
    bad = tmp_path / "results_1.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"results_1.jsonl:3: /info/puzzle_id: expected a non-empty string"):
        import_files([bad], tmp_path / "strict", ImportConfig(importer="seed001"))
    report = import_files([bad], tmp_path / "lenient", ImportConfig(importer="seed001", lenient=True))
    assert (report.records, report.episodes, report.skipped) == (6, 5, 1)
    assert "1 record(s) without a puzzle id left out" in report.summary()
    counts: Counter[str] = Counter()
    assert [line for line, _ in episodes_of(bad, "seed001", counts=counts, lenient=True)] == [1, 2, 4, 5, 6]


def test_cli_imports_several_results_files(tmp_path):
    first, second = tmp_path / "results_1.jsonl", tmp_path / "results_2.jsonl"
    lines = RESULTS.read_text(encoding="utf-8").splitlines()
    first.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    second.write_text("\n".join(lines[2:]) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "harness", "import", "seed001", str(first), str(second),
                           "-o", str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "import seed001: 2 file(s), 5 records -> 5 episodes" in done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "manifest.json",
        "results_1.jsonl",
        "results_2.jsonl",
    ]
