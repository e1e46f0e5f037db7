"""kill -9 of real `harness doctor loop` and `harness doctor` processes at several points, then a
rerun: the same files as a run that was never interrupted, and nothing left behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from doctor_data import SCRIPT, puzzles_file, seed_results

IDS = ["p1", "p2", "p3", "p4"] + [f"q{i:03d}" for i in range(150)]
UNSOLVABLE = ("p3", *tuple(f"q{i:03d}" for i in range(0, 150, 3)))


def loop_command(results: Path, puzzles: Path) -> list[str]:
    return [sys.executable, "-m", "harness", "doctor", "loop", "--loops", "3", "--results-dir", str(results),
            "--env-arg", f"puzzles={puzzles}", "--backend", "scripted", "--backend-arg",
            f"responses={json.dumps(SCRIPT)}", "--concurrency", "4", "--quiet"]


def kill_when(command: list[str], moment) -> bool:
    """Start `command` and kill -9 it once `moment()` holds; True if the kill landed."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            process.wait(timeout=0.005)
            return False  # finished before the moment came
        except subprocess.TimeoutExpired:
            if moment():
                process.send_signal(signal.SIGKILL)
                return process.wait() == -signal.SIGKILL


def files(directory: Path) -> dict[str, bytes]:
    """Every file the loop writes, but its caches (.index/) and the SFT manifest (paths, and what
    each run did)."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file() and ".index" not in p.parts and p.name != "manifest.json"}


def test_the_loop_killed_at_several_points_gives_the_same_files(tmp_path):
    puzzles = puzzles_file(tmp_path / "puzzles.jsonl", IDS, unsolvable=UNSOLVABLE)
    reference = tmp_path / "reference"
    seed_results(reference)
    done = subprocess.run(loop_command(reference, puzzles), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    results = tmp_path / "results"
    seed_results(results)
    moments = [
        lambda: any((results / ".loop").glob("run-1/*.chunks/chunk-*.jsonl")),  # inside loop 1's games
        lambda: (results / "results_2.jsonl").exists(),  # loop 1 written, loop 2 starting
        lambda: any((results / ".loop").glob("run-3/*.chunks/chunk-*.jsonl")),  # inside loop 3's games
        lambda: (results / "sft" / "good_examples.jsonl").exists(),  # in the SFT steps
    ]
    kills = sum(kill_when(loop_command(results, puzzles), moment) for moment in moments)
    assert kills >= 2
    finished = subprocess.run(loop_command(results, puzzles), capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr

    assert files(results) == files(reference)
    assert (results / "sft" / "manifest.json").exists()
    assert done.stdout.splitlines()[:12] == finished.stdout.splitlines()[:12]  # the loops' lines again
    assert not (results / ".loop").exists()
    assert not [p for p in results.rglob(".*.tmp")]


def test_the_doctor_stage_killed_then_rerun(tmp_path):
    from harness.engine import RolloutConfig, generate

    puzzles = puzzles_file(tmp_path / "puzzles.jsonl", IDS, unsolvable=())
    generate(
        RolloutConfig(
            env="connections",
            backend="scripted",
            env_args={"puzzles": str(puzzles)},
            backend_args={"responses": [SCRIPT[0]] + ["no guess"] * 9},
        ),
        tmp_path / "run",
        progress=False,
    )

    def command(out: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "harness",
            "doctor",
            str(tmp_path / "run"),
            "-o",
            str(out),
            "--backend",
            "scripted",
            "--backend-arg",
            f"responses={json.dumps(SCRIPT)}",
            "--concurrency",
            "2",
            "--quiet",
        ]

    assert subprocess.run(command(tmp_path / "reference"), capture_output=True).returncode == 0
    out = tmp_path / "out"
    partial = out / ".doctored.jsonl.partial"
    kills = 0
    for threshold in (1, 40, 100):
        kills += kill_when(
            command(out), lambda t=threshold: partial.exists() and partial.read_bytes().count(b"\n") >= t
        )
    assert kills >= 1
    assert subprocess.run(command(out), capture_output=True).returncode == 0

    def children(path: Path) -> list[dict]:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            del row["provenance"]  # when and where each child was made
        return rows

    assert children(out / "doctored.jsonl") == children(tmp_path / "reference" / "doctored.jsonl")
    assert len(children(out / "doctored.jsonl")) == len(IDS)
    assert (out / "good.jsonl").read_bytes() == (tmp_path / "reference" / "good.jsonl").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == [
        "doctor.settings.json",
        "doctored.jsonl",
        "good.jsonl",
        "manifest.json",
    ]
