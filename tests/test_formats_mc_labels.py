"""Monte Carlo PRM labels (`harness.labels.prm_mc`, `harness format prm-mc`, `--label-mode mc` of
the seed 000 command): the real data-analysis environment replayed to each step, continuations
played by the real `scripted` backend through the real rollout engine, the output loaded with
pyarrow and datasets. The labelled episodes are the engine's own (a data-analysis rollout) and a
seed 000 record made of it, imported."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from data_analysis_episodes import episode_of, play
from harness import plugins
from harness.backends.scripted import ScriptedBackend
from harness.engine import RolloutConfig
from harness.episode import load_episodes, write_episodes
from harness.formats.data_analysis import Prm
from harness.labels.prm_mc import McConfig, McReport, NothingLabelled, mc_labels, write_mc_prm
from harness_data_analysis.seed_record import to_seed_record

TASK_ID = "iris-column_mean-00"
ROWS = "Count the rows.\n\n```python\nn = len(df)\nhook(n, name='rows')\n```"
DOUBLE = "Double it.\n\n```python\nd = n * 2\nhook(d, name='double')\nprint(d)\n```"
WRONG = "Guess.\n\n```python\nsubmit(-1)\n```"


@pytest.fixture(scope="module")
def env():
    return plugins.get("environment", "data-analysis")(csvs=["iris"])


@pytest.fixture(scope="module")
def task(env):
    return env.task(TASK_ID)


@pytest.fixture(scope="module")
def gold(task) -> str:
    return f"Compute and submit.\n\n```python\n{task.data['gold_program']}\n```"


@pytest.fixture(scope="module")
def episode(env, task, gold):
    """A successful data-analysis episode: three turns (rows; double; the gold program, which
    hooks `mean_value` and submits), so four PRM samples on turns 0, 1, 2, 2."""
    played = episode_of(play(env, task, 0, [ROWS, DOUBLE, gold]))
    assert played.outcome.success is True
    return played


@pytest.fixture(scope="module")
def record(episode) -> dict:
    """The seed 000 record of the same run (verified by two consistency runs)."""
    record = to_seed_record(episode, [episode, episode])
    assert record["verified"]
    return json.loads(json.dumps(record))


def config(k: int, **options) -> RolloutConfig:
    return RolloutConfig(env="data-analysis", backend="scripted", samples_per_task=k,
                         env_args={"csvs": ["iris"]}, temperature=0.9, max_tokens=300, seed=7,
                         **options)


def mc_config(k: int, **options) -> McConfig:
    return McConfig(backend="scripted", samples_per_task=k, env_args={"csvs": ["iris"]}, temperature=0.9,
                    max_tokens=300, seed=7, **options)


def steps(rows: list[dict]) -> list[tuple]:
    return [(r["turn_index"], r["variable_name"], r["label"], r["label_mc_n"]) for r in rows]


def test_labels_are_the_share_of_correct_continuations(episode, gold):
    # A continuation's first model turn is assistant turn len(prefix): after turn 0 it gets
    # responses[1] (the gold program: right), after turn 1 responses[2] (a wrong answer); the
    # replay of turn 2 already submitted the right answer.
    report = McReport()
    rows = mc_labels([episode], config(3), backend=ScriptedBackend(responses=[ROWS, gold, WRONG]),
                     concurrency=4, report=report)
    assert steps(rows) == [(0, "rows", 1.0, 3), (1, "double", 0.0, 3),
                           (2, "mean_value", 1.0, 3), (2, "answer", 1.0, 3)]
    # everything else is the sample the prm formatter gives
    assert [{k: v for k, v in r.items() if k not in ("label", "label_mc_n")} for r in rows] == [
        {k: v for k, v in s.items() if k != "label"} for s in Prm().format(episode)]
    assert report == McReport(episodes=1, samples=4, left_out=0, continuations=9, failed=0, samples_per_task=3)


def test_a_failed_backend_is_counted_and_its_steps_left_out(episode, gold):
    # No response for assistant turn 3: the continuations after turn 1 fail in the backend.
    report = McReport()
    rows = mc_labels([episode], config(2), backend=ScriptedBackend(responses=[ROWS, gold]), report=report)
    assert steps(rows) == [(0, "rows", 1.0, 2), (2, "mean_value", 1.0, 2), (2, "answer", 1.0, 2)]
    assert report == McReport(episodes=1, samples=3, left_out=1, continuations=6, failed=2,
                              failures={"BackendError": 2}, samples_per_task=2)


def test_a_replay_that_does_not_reproduce_the_trace_is_a_failure(episode, gold):
    # The episode claims another value for `rows`: replaying turn 0 hooks 150, not that, so no
    # continuation starts from the state the sample describes.
    changed = episode.model_copy(deep=True)
    changed.steps[0].info["execution"]["hooks"][0]["value_hash"] = "0" * 16
    report = McReport()
    rows = mc_labels([changed], config(2), backend=ScriptedBackend(responses=[ROWS, gold, WRONG]), report=report)
    assert rows == []
    assert report.left_out == 4 and report.failures == {"replay_diverged": 6}


def test_fractional_shares_agree_with_the_kept_continuations(episode, task, tmp_path):
    # A continuation that submits the right answer only when the interpreter's random number
    # (seeded by the continuation's own environment seed) is below 0.5.
    answer = task.data["question"]["ground_truth"]
    coin = f"Toss.\n\n```python\nimport random\nsubmit({answer!r} if random.random() < 0.5 else -1)\n```"
    episodes = tmp_path / "episodes.jsonl"
    write_episodes(episodes, [episode])
    out, kept = tmp_path / "prm.jsonl", tmp_path / "continuations.jsonl"
    report = write_mc_prm([episodes], out, mc_config(12), continuations_out=kept,
                          backend=ScriptedBackend(responses=[ROWS, coin, coin]))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    continuations = list(load_episodes(kept))
    assert report.continuations == len(continuations) == 36 and report.failed == 0
    # after turn 0 a continuation has 2 steps (1 replayed), after turn 1 it has 3 (2 replayed)
    outcomes = defaultdict(list)
    for continuation in continuations:
        if continuation.steps[-1].action == coin:
            outcomes[len(continuation.steps) - 2].append(continuation.outcome.success is True)
    for turn in (0, 1):
        share = sum(outcomes[turn]) / len(outcomes[turn])
        assert 0 < share < 1
        assert [(r["label"], r["label_mc_n"]) for r in rows if r["turn_index"] == turn] == [(share, 12)]
    # explicit sampling: the run's settings (n: K samples of the step, as the engine records
    # samples per task) and one seed per continuation
    assert {(e.sampling.temperature, e.sampling.max_tokens, e.sampling.n) for e in continuations} == {(0.9, 300, 12)}
    assert len({e.sampling.seed for e in continuations}) == 36
    assert len({e.seed for e in continuations}) == 36


def test_episodes_that_did_not_succeed_or_of_other_envs_are_not_labelled(episode, tmp_path):
    lost = episode.model_copy(deep=True, update={"episode_id": "ep-lost"})
    lost.outcome.success = False
    other = episode.model_copy(deep=True, update={"episode_id": "ep-other"})
    other.env.name = "connections"
    episodes = tmp_path / "episodes.jsonl"
    write_episodes(episodes, [lost, other])
    with pytest.raises(NothingLabelled, match="0 of 1 data-analysis episodes succeeded; --include-failed"):
        write_mc_prm([episodes], tmp_path / "prm.jsonl", mc_config(1), backend=ScriptedBackend(responses=[ROWS]))
    assert not (tmp_path / "prm.jsonl").exists()


def harness(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True)


def run_seed_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.prepare_finetune_data", *args],
                          capture_output=True, text=True)


@pytest.mark.parametrize("ext", ["parquet", "jsonl"])
def test_seed_cli_output_loads_with_pyarrow_and_datasets(record, gold, tmp_path: Path, ext):
    import datasets

    episodes = tmp_path / "episodes.jsonl"
    episodes.write_text(json.dumps(record) + "\n")
    out = tmp_path / f"prm.{ext}"
    done = run_seed_cli("--input", str(episodes), "--format", "prm", "--label-mode", "mc",
                        "--backend", "scripted", "--backend-arg", "responses=" + json.dumps([ROWS, gold, WRONG]),
                        "--env-arg", 'csvs=["iris"]', "--samples-per-task", "2", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "Wrote 4 prm examples" in done.stdout and "6 run, 0 failed" in done.stdout
    loaded = datasets.load_dataset("parquet" if ext == "parquet" else "json", data_files=str(out),
                                   split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded["label"] == [1.0, 0.0, 1.0, 1.0]
    assert loaded["label_mc_n"] == [2, 2, 2, 2]
    if ext == "parquet":
        table = pq.read_table(out)
        assert table.column("label").to_pylist() == [1.0, 0.0, 1.0, 1.0]
        assert json.loads(table.column("value").to_pylist()[0]) == 150


def test_format_prm_mc_on_the_engines_episodes(episode, gold, tmp_path):
    episodes = tmp_path / "episodes.jsonl"
    write_episodes(episodes, [episode])
    out = tmp_path / "prm.parquet"
    done = harness("format", "prm-mc", str(episodes), "-o", str(out), "--backend", "scripted",
                   "--backend-arg", "responses=" + json.dumps([ROWS, gold, WRONG]), "--env-arg", 'csvs=["iris"]',
                   "--samples-per-task", "2")
    assert done.returncode == 0, done.stderr
    assert "prm-mc: 1 episodes read, 1 labelled -> 4 samples (2 continuations per step)" in done.stderr
    assert pq.read_table(out).column("label").to_pylist() == [1.0, 0.0, 1.0, 1.0]


def test_seed_cli_refuses_mc_without_a_backend_or_for_other_formats(record, tmp_path: Path):
    episodes = tmp_path / "episodes.jsonl"
    episodes.write_text(json.dumps(record) + "\n")
    done = run_seed_cli("--input", str(episodes), "--format", "prm", "--label-mode", "mc")
    assert done.returncode == 2 and "needs --backend" in done.stderr
    done = run_seed_cli("--input", str(episodes), "--label-mode", "mc", "--backend", "scripted")
    assert done.returncode == 2 and "applies to --format prm" in done.stderr
    assert not (tmp_path / "data").exists()


def test_a_bad_record_names_file_line_and_field(record, tmp_path: Path):
    broken = {k: v for k, v in record.items() if k != "csv_source"}
    episodes = tmp_path / "episodes.jsonl"
    episodes.write_text(json.dumps(record) + "\n\n" + json.dumps(broken) + "\n")
    done = run_seed_cli("--input", str(episodes), "--format", "prm", "--label-mode", "mc", "--backend", "scripted",
                        "--backend-arg", "responses=[]", "--output", str(tmp_path / "prm.jsonl"))
    assert done.returncode == 1 and f"{episodes}:3: /csv_source: required field is missing" in done.stderr
    assert not (tmp_path / "prm.jsonl").exists()


def test_luigi_task_writes_the_same_labels(episode, gold, tmp_path: Path):
    import luigi

    from luigi_tasks.formats import PrmMonteCarloLabels

    episodes = tmp_path / "episodes.jsonl"
    write_episodes(episodes, [episode])
    task = PrmMonteCarloLabels(
        episodes=[str(episodes)], backend="scripted", backend_args={"responses": [ROWS, gold, WRONG]},
        env_args={"csvs": ["iris"]}, samples_per_task=2, data_dir=str(tmp_path / "data"),
    )
    assert luigi.build([task], local_scheduler=True, detailed_summary=True).status.name == "SUCCESS"
    table = pq.read_table(task.rows_path())
    assert table.column("label").to_pylist() == [1.0, 0.0, 1.0, 1.0]
    assert table.column("label_mc_n").to_pylist() == [2, 2, 2, 2]
