"""pass@k across checkpoints through the engine and the verify stage (`harness rlvr passk`, Luigi
`PassAtK`), with the scripted backend: counts, k <= n, infrastructure failures reported and never
scored as fails, a rerun that does nothing, other settings refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import luigi
import pytest

from harness.rlvr.checkpoints import Checkpoint, PassAtKConfig, pass_at_k_across, raft_checkpoints
from harness.rlvr.prepare import prepare
from luigi_tasks.rlvr import PassAtK

MBPP = Path(__file__).parent / "fixtures" / "code" / "mbpp_small.jsonl"
ENV = {**os.environ, "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def problems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rlvr")
    prepare(out, "mbpp", 2, source="local", mbpp_path=str(MBPP))
    return out / "mbpp_train_full.jsonl"  # tasks 610 and 611


def answer_for(problems: Path, task_id: int) -> str:
    row = next(json.loads(line) for line in problems.read_text().splitlines() if json.loads(line)["task_id"] == task_id)
    return f"```python\n{row['solution']}\n```"


def passk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "rlvr", "passk", *args, "--quiet"], capture_output=True,
                          text=True, cwd=cwd, env=ENV, timeout=600)


def test_the_command_counts_each_checkpoint_and_reports_k_up_to_n(problems: Path, tmp_path: Path) -> None:
    right_610 = json.dumps([answer_for(problems, 610)])  # right for 610, wrong for 611
    done = passk("--problems", str(problems), "--dataset", "mbpp", "--backend", "scripted",
                 "--backend-arg", f"responses={right_610}", "--checkpoint", "renamed=scripted-2",
                 "--samples-per-task", "2", "--ks", "1", "--ks", "2", "--ks", "5", "--timeout", "60", "-o", "out",
                 cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "passk.json").read_text())
    assert [(c["label"], c["model"], c["adapter"]) for c in report["checkpoints"]] == [
        ("base", "smollm2-135m-instruct", None), ("renamed", "scripted-2", None)]
    for checkpoint in report["checkpoints"]:
        assert [(p["task_id"], p["n"], p["c"]) for p in checkpoint["problems"]] == [(610, 2, 2), (611, 2, 0)]
        assert checkpoint["pass_at_k"] == {"pass@1": 0.5, "pass@2": 0.5}  # k = 5 > n = 2: not reported
    assert done.stdout == (tmp_path / "out" / "passk.md").read_text()
    assert done.stdout.splitlines()[:3] == ["| checkpoint | pass@1 | pass@2 | samples | no verdict |",
                                           "|---|---|---|---|---|", "| base | 0.500 | 0.500 | 4 | 0 |"]
    assert (tmp_path / "out" / "passk.png").read_bytes()[:4] == b"\x89PNG"
    assert "pass@k of 2 checkpoints on 2 problems, n=2" in done.stderr


def test_infrastructure_failures_are_reported_never_failed(problems: Path, tmp_path: Path) -> None:
    broken = tmp_path / "with_broken_reference.jsonl"  # task 700's reference fails its own tests
    broken.write_text(problems.read_text().splitlines()[0] + "\n" + json.dumps(
        {"task_id": 700, "prompt": "Add one.", "entry_point": "f", "solution": "def f(x):\n    return x",
         "tests": "def test_solution():\n    assert f(1) == 2\n", "test_count": 1}) + "\n")
    args = ["--problems", str(broken), "--dataset", "mbpp", "--backend", "scripted", "--backend-arg",
            f"responses={json.dumps([answer_for(problems, 610)])}", "--samples-per-task", "2", "--ks", "1",
            "--timeout", "60", "-o", "out"]
    failed = passk(*args, cwd=tmp_path)
    assert failed.returncode == 1
    assert "2 samples got no verdict (infrastructure failures; left out of n" in failed.stderr
    report = json.loads((tmp_path / "out" / "passk.json").read_text())  # written all the same
    [base] = report["checkpoints"]
    problems = [(p["task_id"], p["n"], p["c"], p["no_verdict"]) for p in base["problems"]]
    assert problems == [(610, 2, 2, 0), (700, 0, 0, 2)]
    assert base["pass_at_k"] == {"pass@1": 1.0} and base["problems_without_verdict"] == 1  # not a 0.5
    allowed = passk(*args, "--allow-no-verdict", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert "| base | 1.000 | 4 | 2 |" in allowed.stdout  # 4 samples, 2 without a verdict


def test_a_rerun_samples_nothing_and_other_settings_are_refused(problems: Path, tmp_path: Path) -> None:
    config = PassAtKConfig(problems=str(problems), dataset="mbpp", backend="scripted",
                           backend_args={"responses": ["no code"]}, samples_per_task=1, ks=[1], timeout=60)
    checkpoints = raft_checkpoints(None, config)
    first = pass_at_k_across(checkpoints, tmp_path, config, progress=False)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    assert pass_at_k_across(checkpoints, tmp_path, config, progress=False) == first
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == before
    with pytest.raises(ValueError, match=r"other settings .*samples_per_task: 1 -> 2"):
        pass_at_k_across(checkpoints, tmp_path, PassAtKConfig(**{**config.__dict__, "samples_per_task": 2}),
                         progress=False)


def test_checkpoints_of_a_raft_run(tmp_path: Path) -> None:
    run = tmp_path / "raft"
    (run / "cycle-2").mkdir(parents=True)
    (run / "cycle-1").mkdir()
    (run / "settings.json").write_text(json.dumps({"settings": {"backend": "vllm", "model": "Qwen/Qwen2.5-Coder-7B",
                                                                "backend_args": {"max_batch": 8},
                                                                "init_adapter": str(tmp_path / "sft")}}))
    for n in (1, 2):
        (run / f"cycle-{n}" / "cycle.json").write_text(json.dumps({"adapter": f"/a/{n}"}))
    found = raft_checkpoints(run, PassAtKConfig(backend_args={"max_batch": 64}))
    assert [(c.label, c.model, c.adapter, c.backend) for c in found] == [
        ("base", "Qwen/Qwen2.5-Coder-7B", None, "vllm"),
        ("sft", "Qwen/Qwen2.5-Coder-7B", str(tmp_path / "sft"), "vllm"),
        ("cycle-1", "Qwen/Qwen2.5-Coder-7B", "/a/1", "vllm"), ("cycle-2", "Qwen/Qwen2.5-Coder-7B", "/a/2", "vllm")]
    assert dict(found[0].backend_args) == {"max_batch": 64}
    with pytest.raises(ValueError, match="not a RAFT run directory"):
        raft_checkpoints(tmp_path, PassAtKConfig())
    with pytest.raises(ValueError, match="given twice"):
        raft_checkpoints(run, PassAtKConfig(), [("base", "x")])
    with pytest.raises(ValueError, match="names a directory"):
        Checkpoint("../up", "m")
    with pytest.raises(ValueError, match="no k of \\[5\\] is <= samples_per_task 2"):
        PassAtKConfig(samples_per_task=2, ks=[5])


def test_luigi_pass_at_k_of_given_checkpoints(problems: Path, tmp_path: Path) -> None:
    task = PassAtK(problems=str(problems), dataset="mbpp", backend="scripted",
                   backend_args={"responses": [answer_for(problems, 611)]}, samples_per_task=2, ks=[1, 2],
                   checkpoints={"other": "scripted-b"}, timeout=60, data_dir=str(tmp_path))
    assert luigi.build([task], local_scheduler=True, log_level="WARNING")
    assert task.output_dir().parent == tmp_path / "passk"
    report = json.loads((task.output_dir() / "passk.json").read_text())
    assert [c["label"] for c in report["checkpoints"]] == ["base", "other"]
    assert [(p["task_id"], p["c"]) for p in report["checkpoints"][0]["problems"]] == [(610, 0), (611, 2)]
    assert json.loads((task.output_dir() / "manifest.json").read_text())["report"]["checkpoints"] == ["base", "other"]


def test_python_m_benchmark_is_an_alias_of_harness_rlvr_passk() -> None:
    done = subprocess.run([sys.executable, "-m", "harness.rlvr.benchmark", "--help"], capture_output=True, text=True,
                          env=ENV)
    assert done.returncode == 0 and "--raft-run" in done.stdout and "--samples-per-task" in done.stdout
