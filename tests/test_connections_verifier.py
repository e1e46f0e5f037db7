"""The game-rules verifier on episodes the real engine generated (scripted backend), and on
records edited afterwards."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from harness import plugins
from harness.backends.scripted import ScriptedBackend
from harness.engine import RolloutConfig, generate_shard
from harness_connections.environment import ConnectionsEnv
from harness_connections.verifier import RulesVerifier

ENV_ARGS = {"count": 3}


def guess(words: list[str]) -> str:
    return "<guess>[" + ", ".join(f"`{w}`" for w in words) + "]</guess>"


@pytest.fixture(scope="module")
def task():
    return next(iter(ConnectionsEnv(**ENV_ARGS).tasks()))


def play(tmp_path: Path, task, responses: list[str]) -> list[dict]:
    config = RolloutConfig(env="connections", backend="scripted", env_args=ENV_ARGS,
                           task_ids=[str(task.id)], samples_per_task=2, max_tokens=64)
    generate_shard(config, tmp_path, backend=ScriptedBackend(responses=responses), progress=False)
    [shard] = sorted(tmp_path.glob("shard-*-of-*.jsonl"))
    return [json.loads(line) for line in shard.read_text().splitlines()]


def test_registered_as_a_verifier():
    assert plugins.load().get("verifier", "connections-rules") is RulesVerifier


def test_won_games_pass_and_lost_games_fail(tmp_path, task):
    won = play(tmp_path / "won", task, [guess(c["members"]) for c in task.data["categories"]])
    lost = play(tmp_path / "lost", task, [guess(["A", "B", "C", "D"])] * 12)
    verifier = RulesVerifier()
    assert [verifier.verify_episode(e).verdict for e in won] == ["pass", "pass"]
    for episode in lost:
        verdict = verifier.verify_episode(episode)
        assert verdict.verdict == "fail" and "mismatch" not in verdict.details
        assert verdict.details["complete_reason"] == episode["outcome"]["reason"]


def test_an_edited_record_fails_with_the_first_disagreement(tmp_path, task):
    [episode, _] = play(tmp_path, task, [guess(c["members"]) for c in task.data["categories"]])
    verifier = RulesVerifier()

    relabelled = copy.deepcopy(episode)
    relabelled["steps"][0]["status"]["label"] = "one_away"
    verdict = verifier.verify_episode(relabelled)
    assert verdict.verdict == "fail"
    assert verdict.details["mismatch"] == "step 0: status.label is 'one_away', the rules give 'correct'"

    inflated = copy.deepcopy(episode)
    inflated["reward"] = episode["reward"] + 1
    assert verifier.verify_episode(inflated).details["mismatch"].startswith("reward is")

    other_action = copy.deepcopy(episode)
    other_action["steps"][1]["action"] = guess(["A", "B", "C", "D"])
    assert verifier.verify_episode(other_action).details["mismatch"].startswith("step 1:")
