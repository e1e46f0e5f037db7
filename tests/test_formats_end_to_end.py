"""End to end, the way a user runs it: `harness rollouts generate` (the scripted backend playing
the real environments) → `harness format run`, every command a real subprocess from a working
directory outside the repository, the training files read back with pyarrow and `datasets`.
(No first-party verifier implements `harness.verify.Verifier` yet, so `harness verify` is not in
the chain; the `--verdict` filter is tested on imported seed 000 verdicts, tests/test_formats_cli.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness import plugins

FIXTURES = Path(__file__).parent / "fixtures"


def harness(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd)
    return done


def ok(cwd: Path, *args: str) -> str:
    done = harness(cwd, *args)
    assert done.returncode == 0, f"harness {' '.join(args)}:\n{done.stderr}"
    return done.stderr


def generate(cwd: Path, env: str, tasks: list[str], responses: list[str], *env_args: str) -> Path:
    ok(cwd, "rollouts", "generate", "--env", env, *[a for e in env_args for a in ("--env-arg", e)],
       *[a for t in tasks for a in ("--task-ids", t)], "--backend", "scripted",
       "--backend-arg", "responses=" + json.dumps(responses), "-o", "run", "--quiet")
    return cwd / "run"


def load(path: Path, tmp_path: Path):
    import datasets

    kind = "parquet" if path.suffix == ".parquet" else "json"
    return datasets.load_dataset(kind, data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))


# -- data analysis ------------------------------------------------------------------------------

ROWS = "Count the rows.\n\n```python\nn = len(df)\nhook(n, name='rows')\nprint(n)\n```"


@pytest.fixture(scope="module")
def data_analysis_run(tmp_path_factory) -> Path:
    """Two tasks, the same two turns: the second turn submits the first task's gold answer, so
    the first episode succeeds and the second fails."""
    env = plugins.get("environment", "data-analysis")(csvs=["iris"])
    gold = env.task("iris-column_mean-00").data["gold_program"]
    cwd = tmp_path_factory.mktemp("da")
    generate(cwd, "data-analysis", ["iris-column_mean-00", "iris-group_mean-00"],
             [ROWS, f"Compute and submit.\n\n```python\n{gold}\n```"], 'csvs=["iris"]')
    return cwd


def test_data_analysis_episodes_give_sft_standard_interleaved_and_prm_rows(data_analysis_run, tmp_path):
    cwd = data_analysis_run
    err = ok(cwd, "format", "run", "sft-standard", "run", "-o", str(tmp_path / "sft.parquet"), "--quiet")
    assert "sft-standard: 2 records -> 1 rows" in err and "1 not succeeded, left out (1 failed)" in err
    [row] = pq.read_table(tmp_path / "sft.parquet").to_pylist()
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert row["messages"][0]["content"].startswith("You are a data analyst.")  # the episode's own prompt
    assert row["messages"][2]["content"] == ROWS and row["messages"][3]["content"] == "[stdout]:\n150"
    assert load(tmp_path / "sft.parquet", tmp_path).num_rows == 1

    ok(cwd, "format", "run", "sft-interleaved", "run", "-o", str(tmp_path / "inter.jsonl"), "--quiet")
    [inter] = [json.loads(line) for line in (tmp_path / "inter.jsonl").read_text().splitlines()]
    contents = [m["content"] for m in inter["messages"]]
    assert "Predict the intermediate values:" in contents and "rows = 150" in contents
    assert "[actual output]:\n150\n" in contents and load(tmp_path / "inter.jsonl", tmp_path).num_rows == 1

    ok(cwd, "format", "run", "prm", "run", "-o", str(tmp_path / "prm.parquet"), "--include-failed", "--quiet")
    table = pq.read_table(tmp_path / "prm.parquet")
    rows = table.to_pylist()
    # per episode: the hooked row count, the gold program's hooks, the submit; labels by outcome
    by_episode = {}
    for r in rows:
        by_episode.setdefault(r["episode_id"], []).append(r)
    assert len(by_episode) == 2
    labels = sorted({r["label"] for r in group} == {1.0} for group in by_episode.values())
    assert labels == [False, True]
    assert all(group[0]["variable_name"] == "rows" and json.loads(group[0]["value"]) == 150
               and group[-1]["step_type"] == "submit" for group in by_episode.values())
    assert load(tmp_path / "prm.parquet", tmp_path).num_rows == len(rows)


def test_other_formatters_say_why_they_make_nothing_of_data_analysis_episodes(data_analysis_run, tmp_path):
    done = harness(data_analysis_run, "format", "run", "search-multiturn", "run", "-o", str(tmp_path / "x.jsonl"))
    assert done.returncode == 1
    assert "0 of 2 episodes are search episodes (2 data-analysis)" in done.stderr


# -- search ------------------------------------------------------------------------------------

SEARCH = [
    "<think>\nWho built the Grey Candle?\n</think>\n<search>Grey Candle lighthouse</search>",
    "<think>\nAmbrose Quillfeather built it. Where did he study?\n</think>\n"
    "<search>Ambrose Quillfeather studied</search>",
    "<think>\nHe studied at the Brindlemoor Academy.\n</think>\n<answer>the Brindlemoor Academy</answer>",
]


def test_search_episodes_give_splits_and_multiturn_rows(tmp_path):
    generate(tmp_path, "search", ["q-031", "q-030"], SEARCH, "top_k=2")  # q-030's answer is another
    err = ok(tmp_path, "format", "run", "search-splits", "run", "-o", "splits.parquet", "--quiet")
    assert "search-splits: 2 records -> 2 rows" in err and "(1 failed)" in err
    splits = pq.read_table(tmp_path / "splits.parquet").to_pylist()
    assert [r["extra_info"]["split_index"] for r in splits] == [0, 1]
    assert splits[0]["extra_info"]["question"].startswith("Question: ")
    assert splits[0]["extra_info"]["answer"].endswith("<search>\nAmbrose Quillfeather studied\n</search>")
    assert splits[1]["extra_info"]["answer"].endswith("<answer>\nthe Brindlemoor Academy\n</answer>")
    assert load(tmp_path / "splits.parquet", tmp_path).num_rows == 2

    ok(tmp_path, "format", "run", "search-multiturn", "run", "-o", "multiturn.jsonl", "--formatter-arg",
       "messages=true", "--include-failed", "--quiet")
    rows = [json.loads(line) for line in (tmp_path / "multiturn.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["prompt"][-1]["role"] == "assistant" and r["messages"] == r["prompt"] for r in rows)
    won = [r for r in rows if r["prompt"][0]["content"].startswith("Where was the engineer")]
    assert won[-1]["prompt"][-1]["content"].endswith("<answer>\nthe Brindlemoor Academy\n</answer>")
    # the other episode's answer was wrong: not a `CorrectAnswer`, so its last turn shows no answer tag
    assert not any("<answer>" in m["content"] for r in rows if r not in won for m in r["prompt"])
    assert load(tmp_path / "multiturn.jsonl", tmp_path).num_rows == 4


# -- connections and code: the generic exports ------------------------------------


def test_connections_episodes_exported(tmp_path):
    # (The connections-rules verifier does not implement harness.verify.Verifier yet, so these
    # episodes are chosen by their own outcome: the default success filter.)
    puzzles = tmp_path / "puzzles.jsonl"
    puzzles.write_text(json.dumps({"puzzle_id": "j1", "categories": [
        {"group": "A", "members": ["ONE", "TWO"]}, {"group": "B", "members": ["THREE", "FOUR"]}]}) + "\n"
        + json.dumps({"puzzle_id": "j2", "categories": [
            {"group": "C", "members": ["FIVE", "SIX"]}, {"group": "D", "members": ["SEVEN", "EIGHT"]}]}) + "\n")
    generate(tmp_path, "connections", ["j1", "j2"], ["<guess>[`ONE`, `TWO`]</guess>"]
             + ["<guess>[`FIVE`, `SEVEN`]</guess>"] * 4, f"puzzles={puzzles}")
    for name in ("trl-messages", "trl-prompt-completion", "openai-finetune"):
        out = tmp_path / f"{name}.parquet"
        err = ok(tmp_path, "format", "run", name, "run", "-o", str(out), "--quiet")
        assert "1 not succeeded, left out (1 failed)" in err  # the lost game
        assert pq.read_table(out).num_rows == 1 == load(out, tmp_path).num_rows
    [row] = pq.read_table(tmp_path / "trl-prompt-completion.parquet").to_pylist()
    assert row["completion"] == [{"role": "assistant", "content": "<guess>[`ONE`, `TWO`]</guess>"}]
    ok(tmp_path, "format", "run", "verl", "run", "-o", "verl.parquet", "--quiet")  # RL: every task
    assert pq.read_table(tmp_path / "verl.parquet").num_rows == 2
    ok(tmp_path, "format", "run", "openai-finetune", "run", "-o", "both.jsonl", "--include-failed", "--quiet")
    lost = [json.loads(line) for line in (tmp_path / "both.jsonl").read_text().splitlines()][1]
    assert [m.get("weight") for m in lost["messages"] if m["role"] == "assistant"] == [
        0,
        1,
        1,
        1,
        1,
    ]  # invalid first guess


def test_code_episodes_exported(tmp_path):
    # (The mbpp verifier does not implement harness.verify.Verifier yet: the code environment's
    # own test run decides success, and the default success filter keeps the passing episode.)
    mbpp = FIXTURES / "code" / "mbpp_small.jsonl"
    right = "```python\ndef largest(a, b, c):\n    return max(a, b, c)\n```"
    wrong = "```python\ndef largest(a, b, c):\n    return a\n```"
    generate(tmp_path, "code", ["5"], [right], "dataset=mbpp", f"path={mbpp}", "timeout=60")
    (tmp_path / "run").rename(tmp_path / "right")
    generate(tmp_path, "code", ["5"], [wrong], "dataset=mbpp", f"path={mbpp}", "timeout=60")
    out = tmp_path / "pc.parquet"
    err = ok(tmp_path, "format", "run", "trl-prompt-completion", "right", "run", "-o", str(out), "--quiet")
    assert "2 records -> 1 rows" in err and "(1 failed)" in err
    [row] = pq.read_table(out).to_pylist()
    assert row["completion"][0] == {"role": "assistant", "content": right}
    assert load(out, tmp_path).num_rows == 1
