"""RAFT end to end with the embedded model on a tiny MBPP subset (2 prompts, 2 samples each, 8
new tokens, 2 training steps): `harness raft --cycles 2` writes every cycle's files and stats and a
rerun does nothing; kill -9 during cycle 2 (in generation, then in training) and Luigi's
`RaftCycles` finishes it; Luigi's `PassAtKAcrossCheckpoints` charts the base model and both cycles.

The 135M model solves none of these prompts in 8 tokens, so the runs keep samples by the seed's
policy with reward_threshold 0 (the top half of every judged sample): the loop trains whatever the
model does. Which samples the policies keep is tested in test_rlvr_keep.py.
"""

from __future__ import annotations

import json
import os
import shutil
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


def config_text(data: Path) -> str:
    problems = data / "mbpp_train_full.jsonl"  # tasks 610 and 611
    return f"""
raft:
  problems: {problems}
  cycles: 1                 # the command lines ask for 2
  samples_per_task: 2
  max_tokens: 8
  keep_policy: seed
  reward_threshold: 0.0
  max_steps: 2
  batch_size: 1
  gradient_accumulation_steps: 1
  max_length: 256
  save_steps: 1
  timeout: 60
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
    return {"root": root, "config": config}


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
        episodes = [json.loads(line) for line in (cycle / "samples" / "shard-00000-of-00001.jsonl").read_text().splitlines()]
        assert {e["sampling"]["temperature"] for e in episodes} == {0.7}
        if n == 2:  # cycle 2 samples with cycle 1's adapter and trains on from it
            assert {e["model"]["name"] for e in episodes} == {f"smollm2-135m-instruct+{out / 'cycle-1/train/adapter'}"}
            assert record["started_from"] == str(out / "cycle-1" / "train" / "adapter")
        rows = [json.loads(line) for line in (cycle / "kept" / "rows.jsonl").read_text().splitlines()]
        assert [[m["role"] for m in r["prompt"]] + [m["role"] for m in r["completion"]] for r in rows] == [
            ["system", "user", "assistant"]] * 2  # the loss is on the completion: harness train's prompt-completion rows
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
    again = subprocess.run(raft_command(setup["config"], out), capture_output=True, text=True, cwd=setup["root"],
                           env=ENV, timeout=600)
    assert again.returncode == 0, again.stderr
    assert files(out) == before
    assert again.stdout == first.stdout and "done in" not in again.stderr  # no stage ran


def test_other_settings_in_the_run_directory_are_refused(cli_run, setup) -> None:
    out, _ = cli_run
    done = subprocess.run([*raft_command(setup["config"], out), "--samples-per-task", "3"], capture_output=True,
                          text=True, cwd=setup["root"], env=ENV, timeout=600)
    assert done.returncode == 1
    assert "holds a RAFT run with other settings (samples_per_task: 2 -> 3)" in done.stderr


def wait_for(process: subprocess.Popen, condition) -> bool:
    """Poll until `condition()` or the process ends; True when the condition came first."""
    while not condition():
        try:
            process.wait(timeout=0.1)
            return condition()
        except subprocess.TimeoutExpired:
            pass
    return True


@pytest.fixture(scope="module")
def killed_and_finished(cli_run, setup) -> dict:
    """A copy of the run after cycle 1, killed twice in cycle 2 and finished by Luigi."""
    source, _ = cli_run
    data = setup["root"] / "luigi-killed"
    out = luigi_run_dir(setup["config"], data)
    out.mkdir(parents=True)
    shutil.copy(source / "settings.json", out / "settings.json")
    shutil.copytree(source / "cycle-1", out / "cycle-1")
    cycle1 = files(out / "cycle-1")
    kills = []
    for condition in (lambda: (out / "cycle-2" / "samples").exists(),
                      lambda: (out / "cycle-2/train/checkpoints/checkpoint-1/trainer_state.json").exists()):
        process = subprocess.Popen(raft_command(setup["config"], out), cwd=setup["root"], env=ENV,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        reached = wait_for(process, condition)
        process.send_signal(signal.SIGKILL)
        kills.append(reached and process.wait() == -signal.SIGKILL)
    assert not (out / "cycle-2" / "cycle.json").exists()
    finished = subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "luigi_tasks.rlvr", "RaftCycles", "--config-file",
         str(setup["config"]), "--data-dir", str(data), "--cycles", "2", "--local-scheduler"],
        capture_output=True, text=True, cwd=setup["root"], env=ENV, timeout=3600)
    return {"out": out, "kills": kills, "cycle1": cycle1, "finished": finished}


def test_kill_9_during_cycle_2_then_luigi_completes_it(killed_and_finished) -> None:
    run = killed_and_finished
    out, finished = run["out"], run["finished"]
    assert run["kills"] == [True, True], "a kill came too late to land inside cycle 2"
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert files(out / "cycle-1") == run["cycle1"]  # a finished cycle is never redone
    log = finished.stderr + finished.stdout
    ran = log[log.index("ran successfully"):]
    for family in ("RaftSamples", "RaftVerify", "RaftKeep", "RaftTrain"):
        assert f"{family}(mbpp,smollm2-135m-instruct,cycle-2)" in ran, family
        assert f"{family}(mbpp,smollm2-135m-instruct,cycle-1)" not in ran, family
    train = json.loads((out / "cycle-2" / "train" / "manifest.json").read_text())["report"]
    assert train["resumed_from"] in (1, 2) and train["steps"] == 2  # resumed inside training
    stats = json.loads((out / "stats.json").read_text())
    assert [c["cycle"] for c in stats["cycles"]] == [1, 2] and stats["cycles"][1]["kept"] == 2


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
