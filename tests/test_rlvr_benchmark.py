"""The in-memory pass@k benchmark over ready backends: a Backend subclass returning fixed canonical
or broken solutions; JSON report, PNG plot. (Through the engine, the CLI and Luigi:
test_rlvr_checkpoints.py.)"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.backends.base import Backend, Completion, Request
from harness.rlvr import benchmark
from harness.rlvr.prepare import prepare
from harness_code import MBPPVerifier

FIXTURES = Path(__file__).parent / "fixtures" / "code"
MBPP = FIXTURES / "mbpp_small.jsonl"


class FixedSolutions(Backend):
    """Answers the j-th sample of a prompt with the reference solution when j < `correct`,
    else with a broken one."""

    name = "fixed-solutions"

    def __init__(self, solutions: dict[str, str], correct: dict[str, int]) -> None:
        self.solutions, self.correct = solutions, correct

    @property
    def model_name(self) -> str:
        return "fixed"

    async def generate(self, requests: Sequence[Request]) -> list[list[Completion]]:
        out = []
        for request in requests:
            prompt = request.messages[-1].content
            good = self.correct[prompt]
            out.append([
                Completion(text=f"```python\n{self.solutions[prompt]}\n```" if j < good
                           else "```python\ndef broken(:\n```")
                for j in range(request.sampling.n)
            ])
        return out


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rlvr")
    prepare(out, "mbpp", 2, source="local", mbpp_path=str(MBPP))
    return out


def test_report_counts_and_pass_at_k(data, tmp_path):
    problems = benchmark.load_problems(data / "mbpp_train_full.jsonl")
    solutions = {p["prompt"]: p["solution"] for p in problems}
    first, second = (p["prompt"] for p in problems)
    checkpoints = {
        "base": FixedSolutions(solutions, {first: 0, second: 2}),
        "raft-1": FixedSolutions(solutions, {first: 4, second: 3}),
    }
    verifier = MBPPVerifier(data / "mbpp_train_full.jsonl", timeout=60.0)
    report = benchmark.run_benchmark(checkpoints, problems, verifier, n=4, ks=(1, 2, 5))
    base, raft = report["checkpoints"]
    assert [(r["n"], r["c"]) for r in base["problems"]] == [(4, 0), (4, 2)]
    assert base["pass_at_k"] == {"pass@1": pytest.approx(0.25), "pass@2": pytest.approx((0 + 5 / 6) / 2)}
    assert raft["pass_at_k"]["pass@1"] == pytest.approx((1 + 0.75) / 2)
    assert "pass@5" not in raft["pass_at_k"]  # k > n is not reported
    benchmark.write_report(report, tmp_path / "report.json")
    benchmark.plot_report(report, tmp_path / "report.png")
    assert json.loads((tmp_path / "report.json").read_text())["n"] == 4
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
