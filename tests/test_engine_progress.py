"""Progress a person can watch while rollouts generate: the engine's callback after every model
turn and every episode (turns, episodes of the shard's total, tokens, failures), the bar that
moves per turn, the summary lines at the end, and the same progress reaching Luigi's scheduler
as the shard task's status message and percentage."""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import sys
from pathlib import Path

import luigi
import luigi.interface
import luigi.scheduler

from engine_guess_env import GuessEnv
from harness.backends.scripted import ScriptedBackend
from harness.engine import RolloutConfig, generate_shard
from harness.engine.config import content_settings
from harness.engine.progress import ShardProgress, run_summary, shard_summary
from harness.engine.shard import ShardStore
from harness.episode import load_episodes
from luigi_tasks.rollouts import GenerateRollouts, GenerateRolloutShard

# t1's secret is found on turn 2; the third turn of every other episode raises in the env
RESPONSES = ["hmm", "word1", "FAIL"]


def config(**overrides) -> RolloutConfig:
    return RolloutConfig(**{"env": "tiny-guess", "backend": "scripted", "samples_per_task": 3,
                            "max_tokens": 8, **overrides})


def test_the_callback_reports_every_turn_and_every_episode(tmp_path):
    seen: list[ShardProgress] = []
    manifest = generate_shard(config(), tmp_path, backend=ScriptedBackend(responses=RESPONSES),
                              env=GuessEnv(n_tasks=4, max_turns=5), progress=False, on_progress=seen.append)
    records = list(load_episodes(tmp_path / manifest["shard"]["path"]))
    first, last = seen[0], seen[-1]
    assert (first.total, first.episodes, first.turns, first.resumed) == (12, 0, 0, 0)
    # after the first snapshot, each one is one more turn or one more episode
    steps = [(b.turns - a.turns, b.episodes - a.episodes) for a, b in itertools.pairwise(seen)]
    assert set(steps) == {(1, 0), (0, 1)}
    recorded_turns = sum(len(e.steps) for e in records)  # the raising third turns are no turns
    assert steps.count((1, 0)) == recorded_turns == 24 and steps.count((0, 1)) == 12
    assert (last.episodes, last.turns, last.failed) == (12, 24, manifest["counts"]["failed"]) == (12, 24, 9)
    assert last.label == "tiny-guess shard 1/1" and last.percentage == 100.0
    assert last.tokens == 0  # the scripted backend counts no tokens
    # the point of per-turn progress: it moves long before the first episode ends
    assert any(p.turns >= 12 and p.episodes == 0 for p in seen)
    assert last.line().startswith("tiny-guess shard 1/1: 12/12 episodes, 24 turns, ")
    assert last.line().endswith(" ep/s, 9 failed")


def test_a_resumed_shard_counts_what_it_found(tmp_path):
    env, backend = GuessEnv(n_tasks=4, max_turns=5), ScriptedBackend(responses=RESPONSES)
    full = generate_shard(config(), tmp_path / "full", backend=backend, env=env, progress=False)
    lines = (tmp_path / "full" / full["shard"]["path"]).read_text().splitlines()
    # an earlier run that committed 5 episodes, then died
    store = ShardStore(tmp_path / "resumed", 0, 1, chunk_size=100)
    store.open(content_settings(config(), ScriptedBackend))
    for line in lines[:5]:
        store.add(line)
    store.commit()
    seen: list[ShardProgress] = []
    generate_shard(config(), tmp_path / "resumed", backend=backend, env=env, progress=False,
                   on_progress=seen.append)
    assert (seen[0].episodes, seen[0].resumed, seen[0].turns) == (5, 5, 0)
    assert (seen[-1].episodes, seen[-1].total) == (12, 12)
    done_now = list(load_episodes(tmp_path / "resumed" / "shard-00000-of-00001.jsonl"))[5:]
    assert seen[-1].turns == sum(len(e.steps) for e in done_now)


def test_tokens_are_the_backend_s_counts(tmp_path, transformers_backend):
    seen: list[ShardProgress] = []
    manifest = generate_shard(config(backend="transformers", samples_per_task=2, max_tokens=4), tmp_path,
                              backend=transformers_backend, env=GuessEnv(n_tasks=2, max_turns=2),
                              progress=False, on_progress=seen.append)
    records = list(load_episodes(tmp_path / manifest["shard"]["path"]))
    per_turn = sorted(b.tokens - a.tokens for a, b in itertools.pairwise(seen) if b.turns > a.turns)
    assert per_turn == sorted(s.usage.completion_tokens for e in records for s in e.steps)
    assert seen[-1].tokens == manifest["counts"]["completion_tokens"] > 0
    assert seen[-1].tokens_per_s > 0


def test_a_callback_that_raises_is_named_once_and_fails_no_episode(tmp_path, caplog):
    calls = []

    def broken(progress: ShardProgress) -> None:
        calls.append(progress)
        raise RuntimeError("watcher bug")

    with caplog.at_level(logging.WARNING, logger="harness.engine.progress"):
        manifest = generate_shard(config(), tmp_path, backend=ScriptedBackend(responses=["word0"] * 3),
                                  env=GuessEnv(n_tasks=2), progress=False, on_progress=broken)
    assert manifest["counts"]["failed"] == 0 and manifest["counts"]["episodes"] == 6
    assert len(calls) == 1
    [warning] = [r for r in caplog.records if "watcher bug" in r.getMessage()]
    assert "not calling it again" in warning.getMessage()


def test_the_bar_shows_turns_and_failures(tmp_path, capsys):
    generate_shard(config(), tmp_path, backend=ScriptedBackend(responses=RESPONSES),
                   env=GuessEnv(n_tasks=4, max_turns=5))
    err = capsys.readouterr().err
    assert "tiny-guess shard 1/1" in err and "12/12" in err
    assert "24 turns" in err and "9 failed" in err


def test_the_command_ends_with_a_summary_line(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "harness", "rollouts", "generate", "--env", "search", "--backend", "scripted",
         "--backend-arg", "responses=" + json.dumps(["<answer>1412</answer>"]), "--limit", "3",
         "--samples-per-task", "2", "--num-shards", "2", "--quiet", "-o", str(out)],
        cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("6 episodes in 2 shards (0 failed, ") and last.endswith(f"-> {out}")
    assert "completion tokens" in last and "ended: " in last


def test_run_summary_counts_every_shard():
    manifests = [{"counts": {"episodes": 3, "failed": 1, "succeeded": 2, "completion_tokens": 10,
                             "outcome_reasons": {"found": 2, "error": 1}}},
                 {"counts": {"episodes": 1, "failed": 0, "succeeded": 1, "completion_tokens": 5,
                             "outcome_reasons": {"found": 1}}}]
    assert run_summary(manifests, "out/run") == (
        "4 episodes in 2 shards (1 failed, 3 succeeded; ended: found 3, error 1), "
        "15 completion tokens -> out/run")


class RecordingScheduler(luigi.scheduler.Scheduler):
    """Luigi's own scheduler, keeping every status message and percentage it is sent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.messages: list[tuple[str, str]] = []
        self.percentages: list[tuple[str, float]] = []

    def set_task_status_message(self, task_id, status_message):
        self.messages.append((task_id, status_message))
        return super().set_task_status_message(task_id, status_message)

    def set_task_progress_percentage(self, task_id, progress_percentage):
        self.percentages.append((task_id, progress_percentage))
        return super().set_task_progress_percentage(task_id, progress_percentage)


class Factory(luigi.interface._WorkerSchedulerFactory):
    def __init__(self):
        self.scheduler = RecordingScheduler()

    def create_local_scheduler(self):
        return self.scheduler


def test_luigi_shows_the_progress_in_the_scheduler(tmp_path, monkeypatch):
    monkeypatch.setattr(GenerateRolloutShard, "status_every", 0.0)  # every update, not one a second
    task = GenerateRollouts(env="search", backend="scripted", limit=3, samples_per_task=2, num_shards=2,
                            backend_args={"responses": ["<think>hm</think><search>founded</search>",
                                                        "<answer>1412</answer>"]},
                            data_dir=str(tmp_path))
    factory = Factory()
    assert luigi.build([task], local_scheduler=True, worker_scheduler_factory=factory, log_level="WARNING")
    scheduler = factory.scheduler
    out = task.output_dir()
    for shard in task.requires():
        messages = [m for t, m in scheduler.messages if t == shard.task_id]
        label = f"search shard {shard.shard_index + 1}/2"
        assert messages[0].startswith(f"{label}: 0/3 episodes, 0 turns, ")
        # 3 episodes of 2 turns: a message per turn and per episode, then the summary
        assert len(messages) == 1 + 6 + 3 + 1
        assert f"{label}: 1/3 episodes" in "\n".join(messages) and f"{label}: 3/3 episodes, 6 turns" in messages[-2]
        manifest = json.loads(Path(shard.output().path).read_text(encoding="utf-8"))
        assert messages[-1] == shard_summary(manifest, out)
        assert messages[-1].startswith(f"{out}/shard-0000{shard.shard_index}-of-00002.jsonl: 3 episodes, 0 failed, ")
        assert scheduler.get_task_status_message(shard.task_id)["statusMessage"] == messages[-1]
        assert scheduler.get_task_progress_percentage(shard.task_id)["progressPercentage"] == 100
        percentages = [p for t, p in scheduler.percentages if t == shard.task_id]
        assert percentages[0] == 0 and 33.3 in percentages and percentages[-1] == 100
    run_status = scheduler.get_task_status_message(task.task_id)["statusMessage"]
    assert run_status.startswith("6 episodes in 2 shards (0 failed, ") and run_status.endswith(f"-> {out}")
