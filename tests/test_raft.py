"""RAFT end to end with the embedded model on a tiny MBPP subset (2 prompts, 2 samples each, 8
new tokens, 2 training steps): `harness raft --cycles 2` writes every cycle's files and stats and a
rerun does nothing; Luigi's `PassAtKAcrossCheckpoints` charts the base model and both cycles.
A run killed with SIGKILL in cycle 2 (in generation, then in training) and finished by Luigi's
`RaftCycles` samples with the scripted backend, whose `delay_seconds` holds generation open long
enough for the kill to land inside it, and trains the embedded model.

The 135M model solves none of these prompts in 8 tokens, so the runs keep samples by the seed's
policy with reward_threshold 0 (the top half of every judged sample): the loop trains whatever the
model does. Which samples the policies keep is tested in test_rlvr_keep.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import luigi
import pytest

from harness.rlvr.prepare import prepare
from luigi_tasks.rlvr import PassAtKAcrossCheckpoints, RaftCycles

MBPP = Path(__file__).parent / "fixtures" / "code" / "mbpp_small.jsonl"
ENV = {**os.environ, "NO_COLOR": "1"}


KILL_DELAY = 5.0
"""Seconds each scripted answer of the killed run takes: the test sees cycle 2's generation begin
(its shard's run.json) and kills it well inside this window, however loaded the machine."""
KILL_STEPS = 4
"""Training steps per cycle of the killed run: it is killed at the first checkpoint, 3 steps early."""


def config_text(data: Path, *, raft_extra: str = "", max_steps: int = 2) -> str:
    problems = data / "mbpp_train_full.jsonl"  # tasks 610 and 611
    return f"""
raft:
  problems: {problems}
  cycles: 1                 # the command lines ask for 2
  samples_per_task: 2
  max_tokens: 8
  keep_policy: seed
  reward_threshold: 0.0
  max_steps: {max_steps}
  batch_size: 1
  gradient_accumulation_steps: 1
  max_length: 256
  save_steps: 1
  timeout: 60{raft_extra}
passk:
  problems: {problems}
  dataset: mbpp
  samples_per_task: 2
  ks: [1, 2, 5]             # 5 > n: not reported
  max_tokens: 8
  timeout: 60
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("raft")
    prepare(root / "data", "mbpp", 2, source="local", mbpp_path=str(MBPP))
    config = root / "tiny.yaml"
    config.write_text(config_text(root / "data"))
    scripted = root / "scripted.yaml"
    answer = "```python\\ndef nothing():\\n    return None\\n```"
    scripted.write_text(config_text(root / "data", max_steps=KILL_STEPS, raft_extra=f"""
  backend: scripted
  backend_args: {{responses: ["{answer}"], delay_seconds: {KILL_DELAY}}}"""))
    return {"root": root, "config": config, "scripted": scripted}


def luigi_run_dir(config: Path, data_dir: Path) -> Path:
    """Where Luigi's RaftCycles keeps this run: the CLI writes there too, so both share it."""
    return RaftCycles(config_file=str(config), data_dir=str(data_dir), cycles=2).raft_run().out


def raft_command(config: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "harness", "raft", "--config", str(config), "-o", str(out), "--cycles", "2",
            "--quiet"]


@pytest.fixture(scope="module")
def cli_run(setup: dict[str, Path]) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = luigi_run_dir(setup["config"], setup["root"] / "luigi-data")
    done = subprocess.run(raft_command(setup["config"], out), capture_output=True, text=True, cwd=setup["root"],
                          env=ENV, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


SHARD = "shard-00000-of-00001"


def shard_episodes(samples: Path) -> list[dict]:
    return [json.loads(line) for line in (samples / f"{SHARD}.jsonl").read_text().splitlines()]


def files(directory: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in directory.rglob("*") if p.is_file()}


def test_every_cycle_writes_its_files_and_stats(cli_run) -> None:
    out, done = cli_run
    for n in (1, 2):
        cycle = out / f"cycle-{n}"
        for target in ("samples/manifest.json", "verified/manifest.json", "kept/rows.jsonl", "kept/manifest.json",
                       "train/manifest.json", "train/adapter/adapter_config.json", "cycle.json"):
            assert (cycle / target).exists(), (n, target)
        record = json.loads((cycle / "cycle.json").read_text())
        assert record["adapter"] == str(cycle / "train" / "adapter")
        stats = record["stats"]
        assert (stats["samples"], stats["tasks"], stats["kept"], stats["train_steps"]) == (4, 2, 2, 2)
        assert stats["passed"] + stats["no_verdict"] <= 4 and stats["first_loss"] > 0
        assert all(stats["seconds"][s] is not None for s in ("generate", "verify", "keep", "train"))
        episodes = shard_episodes(cycle / "samples")
        assert {e["sampling"]["temperature"] for e in episodes} == {0.7}
        if n == 2:  # cycle 2 samples with cycle 1's adapter and trains on from it
            assert {e["model"]["name"] for e in episodes} == {f"smollm2-135m-instruct+{out / 'cycle-1/train/adapter'}"}
            assert record["started_from"] == str(out / "cycle-1" / "train" / "adapter")
        rows = [json.loads(line) for line in (cycle / "kept" / "rows.jsonl").read_text().splitlines()]
        assert [[m["role"] for m in r["prompt"]] + [m["role"] for m in r["completion"]] for r in rows] == [
            ["system", "user", "assistant"]] * 2  # the loss is on the completion: prompt-completion rows
        train = json.loads((cycle / "train" / "manifest.json").read_text())
        assert train["report"]["kind"] == "prompt-completion"
        assert train["settings"]["lora_r"] == 16 and train["settings"]["lora_alpha"] == 32
        assert train["settings"]["init_adapter"] == (None if n == 1 else str(out / "cycle-1" / "train" / "adapter"))
    stats = json.loads((out / "stats.json").read_text())
    assert [c["cycle"] for c in stats["cycles"]] == [1, 2]
    table = (out / "stats.md").read_text()
    assert table.startswith("| cycle | samples | pass rate |") and table in done.stdout + "\n"
    assert "2 RAFT cycles" in done.stderr


def test_a_rerun_does_nothing(cli_run, setup) -> None:
    out, first = cli_run
    before = files(out)
    # Another batch size of the backend decides nothing the run writes: the run is the same one.
    again = subprocess.run([*raft_command(setup["config"], out), "--backend-arg", "max_batch=2"],
                           capture_output=True, text=True, cwd=setup["root"], env=ENV, timeout=600)
    assert again.returncode == 0, again.stderr
    assert files(out) == before
    assert "done in" not in again.stderr  # no stage ran
    # stdout is the result, the stats table, on both runs: the first's training logged nothing there
    assert first.stdout == again.stdout == (out / "stats.md").read_text()


def test_other_settings_in_the_run_directory_are_refused(cli_run, setup) -> None:
    out, _ = cli_run
    done = subprocess.run([*raft_command(setup["config"], out), "--samples-per-task", "3"], capture_output=True,
                          text=True, cwd=setup["root"], env=ENV, timeout=600)
    assert done.returncode == 1
    assert "holds a RAFT run with other settings (samples_per_task: 2 -> 3)" in done.stderr


def killed_when(command: list[str], cwd: Path, event) -> int:
    """Run `command`, SIGKILL it as soon as `event()` holds; its exit status (-9 when the kill
    came first: the test then knows it landed where `event` says)."""
    process = subprocess.Popen(command, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not event():
            try:
                return process.wait(timeout=0.05)  # ended before the event: the caller's assert says so
            except subprocess.TimeoutExpired:
                pass
        process.kill()
        return process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def killed_and_finished(setup) -> dict:
    """`harness raft --cycles 2` killed as cycle 2 starts generating, run again and killed at cycle
    2's first training checkpoint, then finished by Luigi's RaftCycles."""
    from harness.train.checkpoints import latest_checkpoint

    data = setup["root"] / "luigi-killed"
    out = luigi_run_dir(setup["scripted"], data)
    command = raft_command(setup["scripted"], out)
    cycle2 = out / "cycle-2"
    generating = killed_when(command, setup["root"], lambda: (cycle2 / f"samples/{SHARD}.chunks/run.json").exists())
    in_generation = {"cycle 1 done": (out / "cycle-1/cycle.json").exists(),
                     "samples done": (cycle2 / "samples/manifest.json").exists()}
    cycle1 = files(out / "cycle-1")
    training = killed_when(command, setup["root"], lambda: latest_checkpoint(cycle2 / "train/checkpoints") is not None)
    in_training = {stage: (cycle2 / stage / "manifest.json").exists() for stage in ("samples", "verified", "kept",
                                                                                      "train")}
    finished = subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "luigi_tasks.rlvr", "RaftCycles", "--config-file",
         str(setup["scripted"]), "--data-dir", str(data), "--cycles", "2", "--local-scheduler"],
        capture_output=True, text=True, cwd=setup["root"], env=ENV, timeout=3600)
    return {"out": out, "exits": [generating, training], "in_generation": in_generation, "in_training": in_training,
            "cycle1": cycle1, "finished": finished}


def test_kill_9_during_cycle_2_then_luigi_completes_it(killed_and_finished) -> None:
    run = killed_and_finished
    out, finished = run["out"], run["finished"]
    assert run["exits"] == [-signal.SIGKILL, -signal.SIGKILL]
    assert run["in_generation"] == {"cycle 1 done": True, "samples done": False}
    assert run["in_training"] == {"samples": True, "verified": True, "kept": True, "train": False}
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert files(out / "cycle-1") == run["cycle1"]  # a finished cycle is never redone
    log = finished.stderr + finished.stdout
    ran = log[log.index("ran successfully:"):].split("\n\n")[0].splitlines()[1:]
    # Luigi's summary: one task of each family ran, cycle 2's training (cycle 1's was complete: its
    # files are untouched) and the stats; the stages done before the second kill did not run again.
    assert [line.strip() for line in ran] == ["- 1 RaftCycles(...)", "- 1 RaftTrain(...)"]
    train = json.loads((out / "cycle-2" / "train" / "manifest.json").read_text())["report"]
    assert train["resumed_from"] in range(1, KILL_STEPS) and train["steps"] == KILL_STEPS  # resumed inside training
    episodes = shard_episodes(out / "cycle-2/samples")
    assert sorted((e["task"]["id"], e["sample_index"]) for e in episodes) == [(610, 0), (610, 1), (611, 0), (611, 1)]
    assert {e["model"]["name"] for e in episodes} == {f"smollm2-135m-instruct+{out / 'cycle-1/train/adapter'}"}
    # What does not hang on the model is what an unkilled cycle gives: the same answers, so the same rows.
    assert (out / "cycle-2/kept/rows.jsonl").read_text() == (out / "cycle-1/kept/rows.jsonl").read_text()
    stats = json.loads((out / "stats.json").read_text())
    assert [(c["cycle"], c["samples"], c["kept"], c["train_steps"]) for c in stats["cycles"]] == [
        (1, 4, 2, KILL_STEPS), (2, 4, 2, KILL_STEPS)]


def test_luigi_charts_pass_at_k_of_the_base_model_and_both_cycles(cli_run, setup) -> None:
    out, _ = cli_run
    data = setup["root"] / "luigi-data"
    task = PassAtKAcrossCheckpoints(config_file=str(setup["config"]), data_dir=str(data), raft_settings={"cycles": 2})
    assert task.requires().complete()  # the CLI's run is Luigi's: nothing of RAFT runs again
    assert luigi.build([task], local_scheduler=True, log_level="WARNING")
    passk = task.output_dir()
    report = json.loads((passk / "passk.json").read_text())
    assert [c["label"] for c in report["checkpoints"]] == ["base", "cycle-1", "cycle-2"]
    assert [c["adapter"] for c in report["checkpoints"]] == [
        None, str(out / "cycle-1/train/adapter"), str(out / "cycle-2/train/adapter")]
    for checkpoint in report["checkpoints"]:
        assert set(checkpoint["pass_at_k"]) == {"pass@1", "pass@2"}  # k = 5 > n = 2 is not reported
        assert [(p["task_id"], p["n"] + p["no_verdict"]) for p in checkpoint["problems"]] == [(610, 2), (611, 2)]
    assert (passk / "passk.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (passk / "passk.md").read_text().startswith("| checkpoint | pass@1 | pass@2 |")

    # The command line measures the same checkpoints into the same directory: nothing is sampled again.
    before = files(passk)
    done = subprocess.run([sys.executable, "-m", "harness", "rlvr", "passk", "--config", str(setup["config"]),
                           "--raft-run", str(out), "-o", str(passk), "--quiet"], capture_output=True, text=True,
                          cwd=setup["root"], env=ENV, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (passk / "passk.md").read_text() and files(passk) == before
