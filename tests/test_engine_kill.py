"""kill -9 of a real generation run (the CLI, the search environment, the scripted backend) at
random moments, repeated, and inside the shard's finish, then a rerun to the end: exactly one
valid record per (task, sample), and nothing else left in the directory."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections import Counter

import pytest

from harness.episode import validate_episode

TASKS, SAMPLES, CHUNK = 53, 8, 4  # the search environment has 53 tasks
RESPONSES = ["<think>look it up</think><search>harbour town founded</search>", "<answer>1412</answer>"]


def command(out) -> list[str]:
    return [sys.executable, "-m", "harness", "rollouts", "generate", "--env", "search",
            "--backend", "scripted", "--backend-arg", "responses=" + json.dumps(RESPONSES),
            "--samples-per-task", str(SAMPLES), "--chunk-size", str(CHUNK), "--concurrency", "16",
            "--quiet", "-o", str(out)]


def committed(out) -> int:
    return len(list(out.glob("*.chunks/chunk-*.jsonl")))


def test_kill_9_at_random_moments_then_resume(tmp_path):
    rng = random.Random()
    total_chunks = TASKS * SAMPLES // CHUNK
    kills = 0
    for _ in range(6):
        target = rng.randrange(total_chunks // 2)  # kill once this many chunks are on disk
        process = subprocess.Popen(command(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while committed(tmp_path) < target:  # the kill lands wherever the run happens to be
            try:
                process.wait(timeout=0.005)
                break
            except subprocess.TimeoutExpired:
                pass
        process.send_signal(signal.SIGKILL)
        kills += process.wait() == -signal.SIGKILL
        if (tmp_path / "shard-00000-of-00001.jsonl").exists():
            break
    assert kills >= 1
    kept = committed(tmp_path)
    finished = subprocess.run(command(tmp_path), capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr

    shard = tmp_path / "shard-00000-of-00001.jsonl"
    lines = shard.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    records = [validate_episode(json.loads(line), path=str(shard), line=i + 1) for i, line in enumerate(lines[:-1])]
    counts = Counter((str(e.task.id), e.sample_index) for e in records)
    assert len(counts) == TASKS * SAMPLES
    assert set(counts.values()) == {1}
    assert not list(tmp_path.glob("*.chunks"))
    if kept:  # the rerun kept what the killed runs had committed instead of redoing it
        assert len({e.provenance.run_id for e in records}) >= 2
    manifest = json.loads((tmp_path / "shard-00000-of-00001.manifest.json").read_text())
    assert manifest["counts"]["episodes"] == TASKS * SAMPLES


BIG = ["<think>" + "x " * 50_000 + "</think><answer>1412</answer>"]  # 200 KB records: the finish copies 40 MB
SHARD = "shard-00000-of-00001"


def finishing_command(out) -> list[str]:
    return [sys.executable, "-m", "harness", "rollouts", "generate", "--env", "search", "--backend",
            "scripted", "--backend-arg", "responses=" + json.dumps(BIG), "--samples-per-task", "4",
            "--chunk-size", "1", "--quiet", "-o", str(out)]


def shard_temporaries(out) -> list[str]:
    return [n for n in os.listdir(out) if n.startswith(f".{SHARD}.") and n.endswith(".tmp")]


def removing_chunks(out) -> bool:
    return (out / f"{SHARD}.manifest.json").exists() and (out / f"{SHARD}.chunks").exists()


def kill_when(out, moment) -> bool:
    """Run a generation and kill -9 it as soon as `moment(out)` holds; False if it never did."""
    process = subprocess.Popen(finishing_command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None:
        if out.exists() and moment(out):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return moment(out)  # still true: the kill landed inside the moment
    return False


@pytest.mark.parametrize("moment", [shard_temporaries, removing_chunks], ids=["writing-shard", "removing-chunks"])
def test_kill_9_during_the_finish_then_a_rerun_leaves_only_the_outputs(tmp_path, moment):
    for attempt in range(10):
        out = tmp_path / str(attempt)
        if kill_when(out, moment):
            break
        shutil.rmtree(out)
    else:
        pytest.fail(f"no run was caught in {moment.__name__} in 10 tries")
    rerun = subprocess.run(finishing_command(out), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(os.listdir(out)) == sorted(
        ["manifest.json", "settings.json", f"{SHARD}.jsonl", f"{SHARD}.manifest.json"]
    )
    shard = out / f"{SHARD}.jsonl"
    records = [validate_episode(json.loads(line), path=str(shard), line=i + 1)
               for i, line in enumerate(shard.read_text(encoding="utf-8").splitlines())]
    counts = Counter((str(e.task.id), e.sample_index) for e in records)
    assert len(counts) == TASKS * 4 and set(counts.values()) == {1}
    assert json.loads((out / f"{SHARD}.manifest.json").read_text())["counts"]["episodes"] == TASKS * 4
