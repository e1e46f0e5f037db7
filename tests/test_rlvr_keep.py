"""The keep policies of RAFT (passing: dedup per prompt and a cap; seed: top share of reward >=
threshold, stable), and a RAFT cycle that keeps nothing (scripted backend: no model is loaded)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.engine import RolloutConfig, generate
from harness.episode import load_episodes
from harness.rlvr.keep import Judged, keep
from harness.rlvr.prepare import prepare

MBPP = Path(__file__).parent / "fixtures" / "code" / "mbpp_small.jsonl"
ENV = {**os.environ, "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("one")
    generate(RolloutConfig(env="code", env_args={"dataset": "mbpp", "path": str(MBPP), "timeout": 60},
                           backend="scripted", backend_args={"responses": ["x"]}, task_ids=["5"]), out, progress=False)
    [found] = load_episodes(sorted(out.glob("shard-*.jsonl")))
    return found


def sample(episode, task: int, index: int, verdict: str | None, code: str, reward: float | None = None) -> Judged:
    copy = episode.model_copy(update={"task": episode.task.model_copy(update={"id": task}), "sample_index": index,
                                      "episode_id": f"ep-{task}-{index}"})
    if reward is None and verdict in ("pass", "fail"):
        reward = 1.0 if verdict == "pass" else 0.0
    return Judged(copy, verdict, reward, code)


def ids(kept: list[Judged]) -> list[str]:
    return [s.episode.episode_id for s in kept]


def test_passing_keeps_every_pass_once_per_prompt_with_a_cap(episode) -> None:
    samples = [
        sample(episode, 1, 0, "pass", "def f():\n    return 1\n"),
        sample(episode, 1, 1, "pass", "def f():\n    return 1   \n\n"),  # the same code, other spacing
        sample(episode, 1, 2, "pass", "def f():\n    return 2 - 1\n"),
        sample(episode, 1, 3, "fail", "def f():\n    return 0\n"),
        sample(episode, 2, 0, "no_verdict", "def g():\n    return 1\n"),
        sample(episode, 2, 1, "pass", "def f():\n    return 1\n"),  # the same code as task 1's: another prompt
        sample(episode, 3, 0, None, "def h(): pass"),
    ]
    assert ids(keep(samples, "passing")) == ["ep-1-0", "ep-1-2", "ep-2-1"]
    assert ids(keep(samples, "passing", max_kept_per_task=1)) == ["ep-1-0", "ep-2-1"]


def test_the_seeds_policy_keeps_the_top_share_stably(episode) -> None:
    samples = [sample(episode, t, i, "pass" if r == 1 else "fail", f"c{t}{i}", r)
               for t, i, r in [(1, 0, 1.0), (1, 1, 1.0), (2, 0, 1.0), (2, 1, 1.0), (3, 0, 0.0), (3, 1, 0.6)]]
    samples.append(sample(episode, 4, 0, "no_verdict", "c40"))
    # 5 samples have reward >= 0.5 (the no_verdict one has none); int(5 * 0.5) = 2: the earlier
    # prompts' passing samples, half of the passes dropped, as the seed did
    assert ids(keep(samples, "seed")) == ["ep-1-0", "ep-1-1"]
    assert ids(keep(samples, "seed", keep_top_percent=100)) == ["ep-1-0", "ep-1-1", "ep-2-0", "ep-2-1", "ep-3-1"]
    assert ids(keep(samples, "seed", reward_threshold=0.0, keep_top_percent=100))[-1] == "ep-3-0"
    assert keep(samples[:1], "seed") == []  # int(1 * 0.5) = 0
    with pytest.raises(ValueError, match="keep_policy"):
        keep(samples, "best")  # type: ignore[arg-type]


def raft(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    data = tmp_path / "data"
    if not data.exists():
        prepare(data, "mbpp", 2, source="local", mbpp_path=str(MBPP))
    return subprocess.run(
        [sys.executable, "-m", "harness", "raft", "--problems", str(data / "mbpp_train_full.jsonl"), "--backend",
         "scripted", "--backend-arg", 'responses=["```python\\ndef nothing(): pass\\n```"]', "--samples-per-task", "2",
         "--timeout", "60", "-o", str(tmp_path / "run"), "--quiet", *args],
        capture_output=True, text=True, cwd=tmp_path, env=ENV, timeout=600)


def test_a_cycle_that_keeps_nothing_stops_the_run_unless_allowed(tmp_path: Path) -> None:
    stopped = raft(tmp_path, "--cycles", "1")
    assert stopped.returncode == 1
    assert "cycle 1 kept 0 of 4 samples (0 pass, 4 fail, 0 no verdict; policy passing)" in stopped.stderr
    assert "--allow-empty" in stopped.stderr
    assert not (tmp_path / "run" / "cycle-1" / "kept" / "manifest.json").exists()

    allowed = raft(tmp_path, "--cycles", "2", "--allow-empty")
    assert allowed.returncode == 0, allowed.stderr
    for n in (1, 2):
        record = json.loads((tmp_path / "run" / f"cycle-{n}" / "cycle.json").read_text())
        assert record["adapter"] is None and record["stats"]["trained"] is False  # the base model carries on
        assert not (tmp_path / "run" / f"cycle-{n}" / "train").exists()
    assert allowed.stdout.count("not trained (kept nothing)") == 2
