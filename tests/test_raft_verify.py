"""RAFT's verify stage inside the loop, in one process (scripted answers that solve nothing, so no
cycle trains and no model is loaded): the sandbox pool the code environment warms during
generation serves every verify stage of every cycle (no worker is started after the first
generation), each problem's reference is recorded once per process rather than once per verifier
(the environment's in each cycle's generation, the verify stage's),
and the stage's manifest says how much of its time was judging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.rlvr.prepare import prepare
from harness.rlvr.raft import RaftConfig, raft
from harness.sandbox import Sandbox
from harness_code.judge import Judge

MBPP = Path(__file__).parent / "fixtures" / "code" / "mbpp_small.jsonl"


def test_the_pool_stays_warm_across_cycles_and_references_are_recorded_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare(tmp_path / "data", "mbpp", 1, source="local", mbpp_path=str(MBPP))
    config = RaftConfig(problems=str(tmp_path / "data" / "mbpp_train_full.jsonl"), backend="scripted",
                        backend_args={"responses": ["```python\ndef nothing():\n    return None\n```"]},
                        samples_per_task=2, cycles=2, timeout=60, keep_policy="passing", allow_empty=True)
    started: list[str] = []  # the stage during which each worker was started
    recorded: list[str] = []  # the task of each reference recorded
    stage = ["before the run"]
    start, record = Sandbox._start, Judge._record
    monkeypatch.setattr(Sandbox, "_start", lambda self, slot: (started.append(stage[0]), start(self, slot))[1])
    monkeypatch.setattr(Judge, "_record", lambda self, problem, key: (recorded.append(str(problem.task_id)),
                                                                       record(self, problem, key))[1])

    def say(line: str) -> None:
        if " done in " in line:  # "cycle 1: generate done in 1.2 s": the next stage starts
            stage[0] = f"after {line.split(' done in ')[0]}"

    report = raft(config, tmp_path / "run", progress=False, say=say)

    assert [c["samples"] for c in report.cycles] == [4, 4]
    assert [c["passed"] for c in report.cycles] == [0, 0]
    # Pools left by an earlier test of this process may serve the run: then no worker starts at all.
    assert set(started) <= {"before the run"}, started  # none in a verify stage, none in cycle 2
    assert len(recorded) == len(set(recorded)) and set(recorded) <= {"610", "611"}, recorded
    for n in (1, 2):
        verified = json.loads((tmp_path / "run" / f"cycle-{n}" / "verified" / "manifest.json").read_text())["report"]
        assert verified["judged"] == 4
        assert 0 < verified["judge_seconds"] <= verified["seconds"]
