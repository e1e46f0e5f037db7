"""The pytest verifier: real pytest inside the sandbox, outcomes through our plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness_code import PytestVerifier

TASKS = Path(__file__).parent / "fixtures" / "code" / "pytest_tasks.jsonl"
STACK = (
    "class Stack:\n    def __init__(self):\n        self.items = []\n"
    "    def push(self, x):\n        self.items.append(x)\n"
    "    def pop(self):\n        return self.items.pop()\n"
    "    def __len__(self):\n        return len(self.items)\n"
)


@pytest.fixture(scope="module")
def verifier() -> PytestVerifier:
    return PytestVerifier(TASKS, timeout=120.0)


def test_passing_and_failing_code(verifier):
    assert verifier.verify(f"```python\n{STACK}```", "stack").verdict == "pass"
    wrong = verifier.verify(STACK.replace("return self.items.pop()", "return None"), "stack")
    assert wrong.verdict == "fail" and "test_push_pop" in wrong.error
    assert wrong.details["tests_passed"] == 0  # pop on empty no longer raises either


def test_partial_credit_counts_tests():
    partial = PytestVerifier(TASKS, timeout=120.0, partial_credit=True)
    half = STACK.replace("return self.items.pop()", "return self.items.pop() if self.items else None")
    result = partial.verify(half, "stack")
    assert result.verdict == "fail" and result.reward == pytest.approx(0.5)


def test_zero_collected_tests_is_a_fail(verifier):
    result = verifier.verify("x = 1\n", tests="def helper():\n    pass\n")
    assert (result.verdict, result.error) == ("fail", "no tests were collected")


@pytest.mark.parametrize("attack", [
    "import os\nos._exit(0)\n",
    "import sys\nsys.exit(0)\n",
    "print('2 passed in 0.01s')\nprint('PASSED')\n",
    "open('conftest.py', 'w').write('import pytest\\n@pytest.hookimpl(tryfirst=True)\\n"
    "def pytest_runtest_call(item):\\n    return True\\n')\n",
])
def test_attacks_on_the_report_fail(verifier, attack):
    result = verifier.verify(attack + "class Stack:\n    pass\n", "stack")
    assert result.verdict == "fail", result


def test_exit_inside_a_test_does_not_end_the_session_as_a_pass(verifier):
    code = STACK.replace("return len(self.items)", "import os\n        os._exit(0)")
    result = verifier.verify(code, "stack")
    assert result.verdict == "fail"
    assert "did not finish" in result.error


def test_unknown_task(verifier):
    assert verifier.verify(STACK, "queue").error == "No test cases found for task: queue"
