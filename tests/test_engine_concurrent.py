"""Two real `harness rollouts generate` processes on one output directory, many times over: one
writer per shard, the other stops naming it (or waits, with --wait), nothing is lost, and the
manifests count what the shards hold."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

from harness.episode import validate_episode

TASKS, SAMPLES = 50, 4  # 200 episodes, as in the report
RESPONSES = ["<think>look it up</think><search>harbour town founded</search>", "<answer>1412</answer>"]


def command(out, *extra: str) -> list[str]:
    return [sys.executable, "-m", "harness", "rollouts", "generate", "--env", "search",
            "--backend", "scripted", "--backend-arg", "responses=" + json.dumps(RESPONSES),
            "--limit", str(TASKS), "--samples-per-task", str(SAMPLES), "--chunk-size", "4", "--concurrency", "8",
            "--quiet", "-o", str(out), *extra]


def start(out, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(command(out, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def records(shard) -> list:
    lines = shard.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    return [validate_episode(json.loads(line), path=str(shard), line=i + 1) for i, line in enumerate(lines[:-1])]


def assert_complete(out, shards: int = 1) -> None:
    """Exactly one valid record per (task, sample) over the shards, and honest manifests."""
    counts: Counter[tuple[str, int]] = Counter()
    for index in range(shards):
        stem = f"shard-{index:05d}-of-{shards:05d}"
        held = records(out / f"{stem}.jsonl")
        counts.update((str(e.task.id), e.sample_index) for e in held)
        manifest = json.loads((out / f"{stem}.manifest.json").read_text())
        assert manifest["counts"]["episodes"] == len(held)
    assert len(counts) == TASKS * SAMPLES and set(counts.values()) == {1}
    left = sorted(p.name for p in out.iterdir() if not p.name.startswith("shard-") or not
                  p.name.endswith((".jsonl", ".manifest.json")))
    assert left in (["settings.json"], ["manifest.json", "settings.json"]), left


def test_a_second_writer_stops_naming_the_first_and_nothing_is_lost(tmp_path):
    stopped = 0
    for attempt in range(8):
        out = tmp_path / str(attempt)
        first, second = start(out), start(out)
        results = [(p, *p.communicate()) for p in (first, second)]
        for process, _stdout, stderr in results:
            if process.returncode != 0:
                other = first if process is second else second
                assert process.returncode == 1, stderr
                assert "another process is writing shard-00000-of-00001.jsonl" in stderr
                assert f"pid {other.pid} on host" in stderr
                stopped += 1
        assert any(p.returncode == 0 for p, _, _ in results)
        assert_complete(out)
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["totals"]["episodes"] == TASKS * SAMPLES
    assert stopped >= 1  # the writers did meet


def test_writers_that_wait_take_turns(tmp_path):
    for attempt in range(2):
        out = tmp_path / str(attempt)
        first, second = start(out, "--wait"), start(out, "--wait")
        outputs = [p.communicate() for p in (first, second)]
        assert [first.returncode, second.returncode] == [0, 0], outputs
        assert outputs[0][0] == outputs[1][0]  # both report the same finished shard
        assert_complete(out)


def test_writers_of_different_shards_of_one_run_work_side_by_side(tmp_path):
    for attempt in range(2):
        out = tmp_path / str(attempt)
        writers = [start(out, "--num-shards", "2", "--shard-index", str(i)) for i in range(2)]
        outputs = [p.communicate() for p in writers]
        assert [p.returncode for p in writers] == [0, 0], outputs
        assert_complete(out, shards=2)


def test_of_two_runs_with_other_shard_counts_started_together_one_is_refused(tmp_path):
    for attempt in range(2):
        out = tmp_path / str(attempt)
        writers = [
            start(out, "--num-shards", "2", "--shard-index", "0"),
            start(out, "--num-shards", "3", "--shard-index", "0"),
        ]
        outputs = [p.communicate() for p in writers]
        codes = sorted(p.returncode for p in writers)
        assert codes == [0, 1], outputs
        refused = next(err for p, (_, err) in zip(writers, outputs) if p.returncode == 1)
        assert f"{out / 'settings.json'}: these episodes were generated with other settings" in refused
        assert "num_shards: 2 -> 3" in refused or "num_shards: 3 -> 2" in refused
        assert len(list(out.glob("shard-*.jsonl"))) == 1
