"""The example third-party plugin (examples/guess-number), installed with pip into a directory of
its own and discovered through its entry point, exactly as a user's package would be."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "guess-number"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment (os.environ) whose Python sees the example plugin installed by pip."""
    target = tmp_path_factory.mktemp("site")
    # setuptools builds inside the source tree; build from a copy to keep the checkout clean.
    source = tmp_path_factory.mktemp("src") / "guess-number"
    shutil.copytree(EXAMPLE, source)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("HARNESS_PLUGINS", None)
    env.pop("HARNESS_PLUGINS_BLOCK", None)
    return env


def run_python(env: dict[str, str], code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_listed_by_harness_plugins(installed):
    out = subprocess.run([sys.executable, "-m", "harness", "plugins", "--json"],
                         capture_output=True, text=True, env=installed).stdout
    report = json.loads(out)
    [plugin] = [p for p in report["plugins"] if p["distribution"] == "harness-guess-number"]
    assert plugin["version"] == "1.0.0"
    assert plugin["registers"] == [
        {"kind": "environment", "name": "guess-number"},
        {"kind": "formatter", "name": "guess-number-transcripts"},
    ]


def test_not_found_without_the_install():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-m", "harness", "plugins", "--json"],
                         capture_output=True, text=True, env=env).stdout
    assert "harness-guess-number" not in out


def test_plays_an_episode_and_replays_it(installed):
    out = run_python(installed, """
        import json
        from harness import plugins

        env = plugins.get("environment", "guess-number")(max_turns=20)
        task = env.task("test-100")
        session = env.start(task, seed=3)
        low, high, actions = 1, 100, []
        while not session.done:
            guess = (low + high) // 2
            action = f"I think <guess>{guess}</guess>"
            actions.append(action)
            label = session.step(action).status.label
            if label == "higher":
                low = guess + 1
            elif label == "lower":
                high = guess - 1
        replay = env.start(task, seed=3, actions=actions)
        print(json.dumps({
            "won": session.summary().outcome.success,
            "same": replay.state() == session.state(),
            "versions": plugins.registry().versions(),
        }))
    """)
    result = json.loads(out)
    assert result["won"] is True and result["same"] is True
    assert result["versions"]["harness-guess-number"] == "1.0.0"


def test_end_to_end_rollouts_then_training_rows(installed, tmp_path):
    """The plugin's environment through the real engine (scripted backend), then its formatter."""
    # Every episode guesses 5 then 8 then 3: a win exactly when the secret is one of them.
    responses = ["<guess>5</guess>", "<guess>8</guess>", "<guess>3</guess>"]
    out = tmp_path / "rollouts"
    gen = subprocess.run(
        [sys.executable, "-m", "harness", "rollouts", "generate", "--env", "guess-number",
         "--env-arg", "max_turns=3", "--split", "train", "--backend", "scripted",
         "--backend-arg", "responses=" + json.dumps(responses), "--samples-per-task", "8",
         "--output", str(out), "--quiet"],
        capture_output=True, text=True, env=installed,
    )
    assert gen.returncode == 0, gen.stderr
    [shard] = sorted(out.glob("shard-*.jsonl"))
    episodes = [json.loads(line) for line in shard.read_text().splitlines()]
    assert len(episodes) == 3 * 8  # three train tasks, eight samples each
    assert all(e["provenance"]["plugins"]["harness-guess-number"] == "1.0.0" for e in episodes)
    won = [e for e in episodes if e["outcome"]["success"]]
    assert won and len(won) < len(episodes)
    assert all(e["info"]["secret"] in (5, 8, 3) for e in won)

    rows_path = tmp_path / "won.jsonl"
    fmt = subprocess.run(
        [sys.executable, "-m", "harness", "format", "run", "guess-number-transcripts",
         str(shard), "-o", str(rows_path)],
        capture_output=True, text=True, env=installed,
    )
    assert fmt.returncode == 0, fmt.stderr
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    assert len(rows) == len(won)
    for row, episode in zip(rows, won):
        assistant = [m["content"] for m in row["messages"] if m["role"] == "assistant"]
        assert assistant == [s["action"] for s in episode["steps"]]
        assert assistant[-1] == f"<guess>{episode['info']['secret']}</guess>"
