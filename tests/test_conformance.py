"""The conformance check (harness.conformance, `harness check environment`): a conforming
environment passes, and each way of breaking the contract is caught and named by its rule,
with the task, seed and step (tests/conformance_envs.py holds the environments)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import conformance_envs as envs
from harness.conformance import RULES, CheckConfig, assert_conforms, check_environment

TESTS = Path(__file__).resolve().parent

# (environment, its arguments, every rule the check must report broken, words of the first
# failure of the rule the environment was written to break, which is the first one listed)
BROKEN = [
    (envs.NoVersion, {}, ["identity", "engine"], "NoVersion.version must be a non-empty string"),
    (envs.ArgsNotKept, {"max_turns": 4}, ["arguments"], "env.args lacks 'max_turns' (given 4)"),
    (envs.DuplicateIds, {}, ["tasks"], "two tasks have the id 't-5'"),
    (envs.UnstableOrder, {}, ["tasks", "arguments", "splits"], "tasks must come in a stable order"),
    (envs.NoTasks, {}, ["tasks"], "tasks() lists no task"),
    (envs.TupleData, {}, ["tasks"], "task.data changes in a JSON round trip at range"),
    (envs.UnnamedSplit, {}, ["splits"], "the task's split 'test' is not one of splits() ['train']"),
    (envs.SplitIgnored, {}, ["splits"], "tasks('train') differs from the tasks of that split"),
    (envs.EmptyPrompt, {}, ["prompt"], "session.prompt is empty"),
    (envs.SetInInfo, {}, ["json", "engine"], "step.info is not JSON"),
    (envs.TupleState, {}, ["json"], "state() changes in a JSON round trip at history"),
    (envs.GlobalRandom, {}, ["determinism", "replay", "engine"], "lucky number"),
    (envs.DropsLastAction, {}, ["replay"], "start(actions=<the first 1>) rebuilt state.turns as 0, live 1"),
    (envs.ForgetsTurns, {}, ["state"], "state() after step 0 equals state() after step 5, yet garbage"),
    (envs.RaisesOnGarbage, {}, ["robustness"], "step() on garbage: 100 KB of text raised ValueError: "
                                               "message too long (at "),
    (envs.AcceptsAnything, {}, ["robustness"], "garbage: empty message was taken as a valid step"),
    (envs.NoReason, {}, ["complete_reason"], "the step that ended the episode did not say why"),
    (envs.ConstantOutcome, {}, ["complete_reason", "engine"], "summary().outcome.reason is 'over'"),
    (envs.NeverEnds, {}, ["complete_reason"], "still not done after 64 steps"),
    (envs.NanReward, {}, ["json", "engine"], "summary().reward is nan"),
    (envs.BadAstep, {}, ["engine"], "astep() left session.steps at 0 steps, not 1"),
]


def test_a_conforming_environment_passes_every_rule():
    report = assert_conforms(envs.Tally, max_turns=5)
    assert report.ok and report.failures == [] and report.notes == []
    assert report.rules == list(RULES)
    assert report.tasks == ["train-5", "test-5", "train-7"]  # the first of each split, then the next
    assert report.episodes == 3 * 2 + 3  # two seeds per task, and a garbage-only play of seed 0
    assert "keeps the environment contract (12 rules; 3 tasks, 9 episodes" in report.summary()


@pytest.mark.parametrize(("env", "args", "rules", "words"), BROKEN, ids=[b[0].__name__ for b in BROKEN])
def test_each_way_of_breaking_the_contract_is_named(env, args, rules, words):
    report = check_environment(env, max_tasks=2, seeds_per_task=1, **args)
    assert sorted(report.failed_rules()) == sorted(rules), report.text()
    first = next(f for f in report.failures if f.rule == rules[0])
    assert words in first.message, report.text()
    assert not report.ok and f"breaks {len(rules)} of 12 rules" in report.summary()
    text = report.text()
    assert f"FAIL  {rules[0]}" in text and "ok    " in text


def test_failures_name_task_seed_and_step():
    report = check_environment(envs.DropsLastAction, max_tasks=1, seeds_per_task=1)
    first = report.failures[0]
    assert (first.rule, first.task, first.seed, first.step) == ("replay", "train-5", 0, 1)
    assert str(first).startswith("replay: task 'train-5', seed 0, step 1: start(actions=<the first 1>)")


def test_determinism_in_another_process_catches_set_order():
    """Within one process a set of strings always iterates alike; the check plays again in a
    process with another hash seed. This process's seed is fixed so that the orders differ."""
    code = ("import conformance_envs as e, harness.conformance as c\n"
            "r = c.check_environment(e.HashOrder, max_tasks=1, seeds_per_task=1)\n"
            "print(r.failed_rules()); print(r.failures[0])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=TESTS,
                          env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(TESTS)})
    assert done.returncode == 0, done.stderr
    rules, failure = done.stdout.splitlines()
    assert rules == "['determinism']"
    assert "Fruits: " in failure and "in another process, with another PYTHONHASHSEED" in failure


def test_a_class_another_process_cannot_import_is_noted_not_failed():
    class Local(envs.Tally):
        pass

    report = check_environment(Local, max_tasks=1, seeds_per_task=1)
    assert report.ok
    assert report.notes == [
        "determinism in another process not checked: test_a_class_another_process_cannot_import_is_"
        "noted_not_failed.<locals>.Local is defined in test_conformance and cannot be imported by a "
        "fresh interpreter"]


def test_given_actions_are_played_first():
    report = check_environment(envs.RaisesOnGarbage, actions=["<add>1</add>", "x" * 60_000],
                               max_tasks=1, seeds_per_task=1)
    assert "step raised on action 2: ValueError: message too long" in "\n".join(map(str, report.failures))


def test_an_instance_is_checked_as_built():
    assert check_environment(envs.Tally(max_turns=3), max_tasks=1).ok
    with pytest.raises(TypeError, match="not both"):
        check_environment(envs.Tally(), max_turns=3)


def test_unknown_task_ids_and_bad_settings_are_errors():
    with pytest.raises(ValueError, match="has no task"):
        check_environment(envs.Tally, task_ids=["nope"])
    with pytest.raises(ValueError, match="max_steps must be at least 1"):
        CheckConfig(max_steps=0)


def test_assert_conforms_lists_every_failure():
    with pytest.raises(AssertionError) as info:
        assert_conforms(envs.NoReason, max_tasks=1)
    message = str(info.value)
    assert "FAIL  complete_reason" in message and "ok    determinism" in message
    assert "task 'train-5', seed 0, step" in message


# -- the command line -------------------------------------------------------------------------


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(TESTS)}, cwd=TESTS.parent.parent)


def test_cli_passes_a_conforming_environment():
    done = harness("check", "environment", "conformance_envs:Tally", "--env-arg", "max_turns=4")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "ok    identity" and "FAIL" not in done.stdout
    assert "... playing task 'test-5' with seed 1\n" in done.stderr  # progress as it goes
    assert done.stderr.splitlines()[-1].startswith("tally 1.0 keeps the environment contract")


def test_cli_exits_1_naming_the_failures():
    done = harness("check", "environment", "conformance_envs:ForgetsTurns", "--max-tasks", "1")
    assert done.returncode == 1
    assert "FAIL  state" in done.stdout and "task 'train-5', seed 0, step" in done.stdout
    assert "tally 1.0 breaks 1 of 12 rules (state)" in done.stderr


def test_cli_json_report():
    done = harness("check", "environment", "conformance_envs:NoReason", "--max-tasks", "1",
                   "--seeds-per-task", "1", "--json", "--quiet")
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["tally 1.0 breaks 1 of 12 rules (complete_reason): 2 failures "
                                        "(1 task, 2 episodes, 10 steps)"]
    report = json.loads(done.stdout)
    assert report["ok"] is False and report["failed_rules"] == ["complete_reason"]
    assert report["failures"][0]["task"] == "train-5" and report["failures"][0]["seed"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["no-such-env"], "no environment named 'no-such-env' (known: "),
    (["conformance_envs:Nope"], "cannot import conformance_envs:Nope: AttributeError"),
    (["conformance_envs:ArgsNotKept", "--env-arg", "colour=red"],
     "could not be built with arguments {'colour': 'red'}: TypeError"),
    (["conformance_envs:Tally", "--task-ids", "train-99"], "has no task(s) train-99"),
])
def test_cli_user_errors_are_one_line(args, message):
    done = harness("check", "environment", *args)
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr


def test_docs_list_every_rule_and_setting_as_the_code_has_them():
    from harness.options import settings_of

    docs = (TESTS.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = docs.split("## The environment contract, checked", 1)[1]
    for rule, meaning in RULES.items():
        assert f"| `{rule}` | {meaning} |" in section
    for s in settings_of(CheckConfig):
        option = f"`{s.cli_name} KEY=VALUE`" if s.kind == "dict" else f"`{s.cli_name}`"
        keyword = "`**args`" if s.name == "env_args" else f"`{s.name}=`"
        assert f"| {option} | {keyword} | `{s.default_text()}` | {s.help} |" in section
