"""`harness rollouts generate`: runs, reports, resumes, and names bad settings."""

from __future__ import annotations

import json

from click.testing import CliRunner

from harness.cli import cli
from harness.episode import load_episodes

SCRIPT = json.dumps({"responses": ["<answer>1412</answer>"]})


def generate(out, *extra: str):
    args = ["rollouts", "generate", "--env", "search", "--backend", "scripted", "--backend-args", SCRIPT,
            "--limit", "3", "--samples", "2", "--quiet", "-o", str(out), *extra]
    return CliRunner().invoke(cli, args)


def test_generates_reports_and_reruns_without_redoing(tmp_path):
    first = generate(tmp_path)
    assert first.exit_code == 0, first.output
    assert f"{tmp_path}/shard-00000-of-00001.jsonl: 6 episodes, 0 failed" in first.output
    assert len(list(load_episodes(tmp_path / "shard-00000-of-00001.jsonl"))) == 6
    again = generate(tmp_path)
    assert again.exit_code == 0 and again.output == first.output


def test_one_shard_of_several(tmp_path):
    result = generate(tmp_path, "--shards", "2", "--shard", "1")
    assert result.exit_code == 0, result.output
    assert [p.name for p in sorted(tmp_path.glob("*.jsonl"))] == ["shard-00001-of-00002.jsonl"]


def test_bad_settings_are_named(tmp_path):
    assert generate(tmp_path).exit_code == 0
    changed = generate(tmp_path, "--temperature", "0.2")
    assert changed.exit_code == 1 and "temperature: 0.7 -> 0.2" in changed.output
    unknown = CliRunner().invoke(cli, ["rollouts", "generate", "--env", "nope", "-o", str(tmp_path / "x")])
    assert unknown.exit_code == 1 and "no environment named 'nope'" in unknown.output
    bad_json = generate(tmp_path / "y", "--env-args", "[1]")
    assert bad_json.exit_code == 2 and "expected a JSON object" in bad_json.output
    bad_task = generate(tmp_path / "z", "--task", "q-999")
    assert bad_task.exit_code == 1 and "has no task(s) q-999" in bad_task.output
