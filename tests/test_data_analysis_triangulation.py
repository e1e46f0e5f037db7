"""Triangulation over consistency runs, and the seed 000 record built from our episode records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_analysis_episodes import episode_of, play
from harness.episode import validate_episode
from harness_data_analysis.environment import DataAnalysisEnvironment
from harness_data_analysis.seed_record import to_seed_record
from harness_data_analysis.triangulation import triangulate

FIXTURE = Path(__file__).parent / "fixtures" / "episodes" / "data_analysis.json"


@pytest.mark.parametrize(
    ("gold", "runs", "expected", "verified"),
    [
        ("a", ["a", "a", "b"], ("a", 2, 3, 3), True),
        ("a", ["b", "b", "a"], ("b", 2, 3, 3), False),
        ("a", ["a", None, None], ("a", 1, 3, 1), True),  # a failed run never votes
        ("a", [None, None], (None, 0, 2, 0), False),
        ("a", [], (None, 0, 0, 0), False),
        (None, ["a", "a"], ("a", 2, 2, 2), False),  # the gold run submitted nothing
        ("b", ["a", "b", "b", "a"], ("a", 2, 4, 4), False),  # a tie goes to the hash seen first
        ("b", ["b", "a", "a", "b"], ("b", 2, 4, 4), True),
    ],
)
def test_triangulate(gold, runs, expected, verified):
    triangulation, is_verified = triangulate(gold, runs)
    majority, count, n_runs, n_succeeded = expected
    assert triangulation == {
        "n_consistency_runs": n_runs,
        "n_consistency_succeeded": n_succeeded,
        "majority_answer_hash": majority,
        "majority_count": count,
        "gold_matches_majority": verified,
    }
    assert is_verified is verified


def fenced(code: str) -> str:
    return f"Computing.\n```python\n{code}\n```"


@pytest.fixture(scope="module")
def episodes():
    gold_env = DataAnalysisEnvironment(csvs=["iris"], max_turns=3, memory_mb=1024)
    blind_env = DataAnalysisEnvironment(csvs=["iris"], max_turns=3, memory_mb=1024, hint=False)
    task = gold_env.task("iris-count_above-00")
    gold = play(gold_env, task, 0, [fenced("x = 1"), fenced(task.data["gold_program"])])
    right = play(blind_env, task, 1, [fenced(task.data["gold_program"])])
    wrong = play(blind_env, task, 2, [fenced("submit(-5)")])
    silent = play(blind_env, task, 3, ["no code", "still none", "nothing"])
    return task, [episode_of(s, sample_index=i) for i, s in enumerate([gold, right, wrong, silent])]


def test_seed_record_from_our_episodes(episodes):
    task, (gold, right, wrong, silent) = episodes
    record = to_seed_record(gold, [right, silent, wrong, right])
    assert set(record) == {
        "episode_id", "timestamp", "csv_source", "question", "gold_trace", "consistency_traces",
        "verified", "triangulation", "timing",
    }  # fmt: skip
    assert record["episode_id"] == gold.episode_id
    assert record["timestamp"] == gold.provenance.created_at
    assert record["csv_source"] == "sklearn/datasets/data/iris.csv"
    assert record["question"] == task.data["question"]
    truth_hash = task.data["question"]["ground_truth_hash"]
    trace = record["gold_trace"]
    assert trace["success"] is True and trace["final_answer_hash"] == truth_hash
    assert trace["final_answer"] == task.data["question"]["ground_truth"]
    assert [t["turn_index"] for t in trace["turns"]] == [0, 1]
    assert set(trace["turns"][1]) == {"turn_index", "reasoning", "code", "execution"}
    assert set(trace["turns"][1]["execution"]) == {
        "success", "stdout", "stderr", "hooks", "submitted_answer",
    }  # fmt: skip
    silent_trace = record["consistency_traces"][1]
    assert silent_trace == {
        "turns": [], "final_answer": None, "final_answer_hash": None, "success": False,
    }  # fmt: skip
    assert record["triangulation"] == {
        "n_consistency_runs": 4,
        "n_consistency_succeeded": 3,
        "majority_answer_hash": truth_hash,
        "majority_count": 2,
        "gold_matches_majority": True,
    }
    assert record["verified"] is True
    assert record["timing"]["gold_s"] > 0 and record["timing"]["consistency_s"] > 0
    json.dumps(record)  # plain JSON throughout


def test_a_gold_answer_outvoted_is_not_verified(episodes):
    _, (gold, right, wrong, _) = episodes
    record = to_seed_record(gold, [wrong, wrong, right])
    assert record["verified"] is False
    assert record["triangulation"]["majority_count"] == 2


def test_episode_dicts_from_jsonl_are_accepted(episodes):
    _, (gold, right, *_) = episodes
    as_dicts = [json.loads(e.to_json_line()) for e in (gold, right)]
    assert to_seed_record(as_dicts[0], as_dicts[1:]) == to_seed_record(gold, [right])


def test_consistency_runs_of_another_task_are_refused(episodes):
    _, (gold, *_) = episodes
    other_env = DataAnalysisEnvironment(csvs=["iris"], max_turns=1, memory_mb=1024)
    other = episode_of(play(other_env, other_env.task("iris-column_mean-00"), 0, ["no code"]))
    with pytest.raises(ValueError, match=r"iris-column_mean-00.*iris-count_above-00"):
        to_seed_record(gold, [other])


def test_the_foundation_fixture_converts():
    episode = validate_episode(json.loads(FIXTURE.read_text()))
    record = to_seed_record(episode, [episode])
    assert record["csv_source"] == "data/titanic.csv"
    assert [t["turn_index"] for t in record["gold_trace"]["turns"]] == [0, 1]
    assert record["gold_trace"]["final_answer"] == 13.09
    assert record["verified"] is True
