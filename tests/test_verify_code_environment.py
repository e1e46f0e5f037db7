"""The `code` environment: single- and multi-turn episodes over the verifiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import plugins
from harness.environment import EnvError

FIXTURES = Path(__file__).parent / "fixtures" / "code"
WRONG = "```python\ndef largest(a, b, c):\n    return a\n```"
RIGHT = "```python\ndef largest(a, b, c):\n    return max(a, b, c)\n```"


@pytest.fixture(scope="module")
def Env():
    return plugins.load().get("environment", "code")


def test_single_turn_episode(Env):
    env = Env(dataset="mbpp", path=str(FIXTURES / "mbpp_small.jsonl"), timeout=60.0)
    assert env.splits() == ["prompt", "test", "train", "validation"]
    assert [t.id for t in env.tasks("train")] == [610, 611]
    task = env.task(5)
    session = env.start(task, seed=0)
    assert [m.role for m in session.prompt] == ["system", "user"]
    assert "largest(1, 2, 3)" not in session.prompt[1].content  # the raw text has no example
    step = session.step(RIGHT)
    assert (step.done, step.reward, step.status.label) == (True, 1.0, "pass")
    summary = session.summary()
    assert summary.outcome.success is True and summary.outcome.reason == "passed"
    with pytest.raises(EnvError, match="already ended"):
        session.step(RIGHT)


def test_multi_turn_feedback_then_pass(Env):
    env = Env(dataset="mbpp", path=str(FIXTURES / "mbpp_small.jsonl"), max_turns=3, timeout=60.0)
    session = env.start(env.task("5"), seed=1)
    first = session.step(WRONG)
    assert not first.done and first.reward == 0.0
    (feedback,) = first.observation
    assert feedback.role == "user" and "failed the tests (2 of 3 tests passed)" in feedback.content
    second = session.step(RIGHT)
    assert second.done and second.reward == 1.0
    assert session.summary().info == {"verdicts": ["fail", "pass"], "turns": 2}
    replay = env.start(env.task(5), seed=1, actions=[WRONG, RIGHT])
    assert replay.state() == session.state()


def test_turns_run_out(Env):
    env = Env(dataset="mbpp", path=str(FIXTURES / "mbpp_small.jsonl"), max_turns=2, timeout=60.0)
    session = env.start(env.task(5), seed=0, actions=[WRONG, WRONG])
    assert session.done and session.end_reason == "max_turns_reached"
    assert session.summary().outcome.success is False


def test_humaneval_and_pytest_datasets(Env):
    humaneval = Env(dataset="humaneval", path=str(FIXTURES / "humaneval_small.jsonl"), timeout=60.0)
    assert humaneval.splits() == ["test"]
    step = humaneval.start(humaneval.task("Fixture/0"), 0).step("def add(a, b):\n    return a + b\n")
    assert step.status.label == "pass"
    tests = Env(dataset="pytest", path=str(FIXTURES / "pytest_tasks.jsonl"), timeout=120.0)
    step = tests.start(tests.task("stack"), 0).step("class Stack:\n    pass\n")
    assert step.status.label == "fail" and step.done


def test_bad_arguments(Env):
    with pytest.raises(EnvError, match="unknown dataset"):
        Env(dataset="apps")
    with pytest.raises(EnvError, match="needs path="):
        Env(dataset="mbpp")
    with pytest.raises(EnvError, match="max_turns"):
        Env(max_turns=0)


def test_steps_do_not_block_the_event_loop(Env):
    import asyncio

    env = Env(dataset="mbpp", path=str(FIXTURES / "mbpp_small.jsonl"), timeout=60.0)

    async def both():
        sessions = [env.start(env.task(5), seed=i) for i in range(2)]
        return await asyncio.gather(*(s.astep(RIGHT) for s in sessions))

    steps = asyncio.run(both())
    assert [s.reward for s in steps] == [1.0, 1.0]


def test_levels_that_cannot_hide_the_problem_files_are_refused(Env, monkeypatch):
    from harness.sandbox import SandboxUnavailable

    monkeypatch.setenv("HARNESS_SANDBOX_MINIMUM", "none")
    with pytest.raises(SandboxUnavailable, match="can read the problem files"):
        Env(dataset="mbpp", path=str(FIXTURES / "mbpp_small.jsonl"), isolation="process")


def test_packages_reach_the_verifier(Env, tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"task_id": "t", "prompt": "p", "tests": "def test_x():\\n    assert f() == 3\\n"}\n')
    env = Env(dataset="pytest", path=str(tasks), packages=["numpy"], timeout=60.0)
    session = env.start(env.task("t"), seed=0)
    step = session.step("```python\nimport numpy\n\ndef f():\n    return int(numpy.int64(3))\n```")
    assert step.status.label == "pass", step.info


@pytest.mark.parametrize("answer, reason", [
    ("", "no_code"), ("   \n\t", "no_code"), ("```python\n```", "no_code"),
    ("x" * 100_000 + " ((", "syntax_error"), ("def f(:\n  pass", "syntax_error"), ("a\x00b", "syntax_error"),
])
def test_an_answer_without_a_runnable_program_is_an_invalid_step(answer, reason):
    from harness_code.environment import CodeEnvironment

    env = CodeEnvironment(dataset="humaneval", max_turns=2)
    session = env.start(env.task("HumanEval/0"), seed=0)
    step = session.step(answer)
    assert (step.status.valid, step.status.reason, step.status.label) == (False, reason, "fail")
    assert step.reward == 0.0 and not step.done
    assert reason in step.observation[0].content  # the feedback says why
