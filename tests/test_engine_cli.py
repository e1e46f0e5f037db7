"""`harness rollouts generate`: runs, reports, resumes, and names bad settings."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.episode import load_episodes

SCRIPT = "responses=" + json.dumps(["<answer>1412</answer>"])


def generate(out, *extra: str):
    args = ["rollouts", "generate", "--env", "search", "--backend", "scripted", "--backend-arg", SCRIPT,
            "--limit", "3", "--samples-per-task", "2", "--quiet", "-o", str(out), *extra]
    return CliRunner().invoke(cli, args)


def test_generates_reports_and_reruns_without_redoing(tmp_path):
    first = generate(tmp_path)
    assert first.exit_code == 0, first.output
    assert f"{tmp_path}/shard-00000-of-00001.jsonl: 6 episodes, 0 failed" in first.output
    assert len(list(load_episodes(tmp_path / "shard-00000-of-00001.jsonl"))) == 6
    again = generate(tmp_path)
    assert again.exit_code == 0 and again.output == first.output


def test_one_shard_of_several(tmp_path):
    result = generate(tmp_path, "--num-shards", "2", "--shard-index", "1")
    assert result.exit_code == 0, result.output
    assert [p.name for p in sorted(tmp_path.glob("*.jsonl"))] == ["shard-00001-of-00002.jsonl"]


def test_bad_settings_are_named(tmp_path):
    assert generate(tmp_path).exit_code == 0
    changed = generate(tmp_path, "--temperature", "0.2")
    assert changed.exit_code == 1 and "temperature: 0.7 -> 0.2" in changed.output
    unknown = CliRunner().invoke(cli, ["rollouts", "generate", "--env", "nope", "-o", str(tmp_path / "x")])
    assert unknown.exit_code == 1 and "no environment named 'nope'" in unknown.output
    bad_arg = generate(tmp_path / "y", "--env-arg", "max_turns")
    assert bad_arg.exit_code == 1 and "--env-arg: expected KEY=VALUE, got 'max_turns'" in bad_arg.output
    bad_task = generate(tmp_path / "z", "--task-ids", "q-999")
    assert bad_task.exit_code == 1 and "has no task(s) q-999" in bad_task.output


def test_a_rerun_with_another_shard_count_or_other_responses_is_refused(tmp_path):
    assert generate(tmp_path).exit_code == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    shards = generate(tmp_path, "--num-shards", "2")
    assert shards.exit_code == 1
    assert f"{tmp_path / 'settings.json'}: these episodes were generated with other settings" in shards.output
    assert "num_shards: 1 -> 2" in shards.output
    other = CliRunner().invoke(cli, ["rollouts", "generate", "--env", "search", "--backend", "scripted",
                                     "--backend-arg", "responses=" + json.dumps(["<answer>1</answer>"]),
                                     "--limit", "3", "--samples-per-task", "2", "--quiet", "-o", str(tmp_path)])
    assert (
        other.exit_code == 1
        and "backend_args.responses: ['<answer>1412</answer>'] -> ['<answer>1</answer>']" in other.output
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_lone_surrogate_in_the_model_text_is_repaired_and_the_run_finishes(tmp_path):
    script = 'responses=["<answer>\\ud83d</answer>"]'  # JSON escapes decode to a lone surrogate
    result = CliRunner().invoke(cli, ["rollouts", "generate", "--env", "search", "--backend", "scripted",
                                      "--backend-arg", script, "--limit", "3", "--samples-per-task", "2", "--quiet",
                                      "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    records = list(load_episodes(tmp_path / "shard-00000-of-00001.jsonl"))
    assert len(records) == 6
    assert all(e.steps[0].action == "<answer>\ufffd</answer>" and e.error is None for e in records)
    assert all(e.info["text_repairs"] == ["/steps/0/action"] for e in records)


@pytest.mark.parametrize("umask", [0o022, 0o027], ids=["umask-022", "umask-027"])
def test_every_output_gets_the_mode_the_umask_gives(tmp_path, umask):
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "harness", "rollouts", "generate", "--env", "search",
                             "--backend", "scripted", "--backend-arg", SCRIPT, "--limit", "3", "--num-shards", "2",
                             "--quiet", "-o", str(out)], capture_output=True, text=True, umask=umask)
    assert result.returncode == 0, result.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert len(modes) == 6  # two shards, two shard manifests, the run manifest, settings.json
    assert set(modes.values()) == {0o666 & ~umask}, {k: oct(v) for k, v in modes.items()}


def test_an_output_that_cannot_be_written_is_named(tmp_path):
    (tmp_path / "file").write_text("")
    result = generate(tmp_path / "file" / "out")
    assert result.exit_code == 1 and str(tmp_path / "file") in result.output and "Traceback" not in result.output
