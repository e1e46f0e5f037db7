"""The main job (`make demo`): the real `luigi --module luigi_tasks.demo MainJob` command at a
reduced size, from a working directory outside the repository. Its before-and-after figures must
be the episodes' own (recounted here from the raw JSONL), every path it prints must exist, and
its HTML report must be the rollout viewer with the plots."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.report import GameFigures, game_figures
from luigi_tasks.demo import honest_notes
from pipeline_runs import luigi, ok, read_jsonl

SMALL = ["--train-puzzles", "4", "--eval-puzzles", "2", "--train-max-steps", "2", "--train-batch-size", "2",
         "--max-tokens", "24", "--env-args", json.dumps({"max_turns": 3})]


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("main-job")
    return cwd, ok(luigi(cwd, "luigi_tasks.demo", "MainJob", *SMALL, timeout=1800))


def printed_paths(stdout: str) -> dict[str, Path]:
    """label -> path of every output line the job printed (`  label  /abs/path`)."""
    found = {}
    for line in stdout.splitlines():
        match = re.match(r"^  (\S.*?)\s{2,}(/\S+)", line)
        if match:
            found[match.group(1)] = Path(match.group(2))
    return found


def recount(paths: list[Path]) -> dict[str, int | float]:
    """The figures, counted from the raw records without the harness's help."""
    records = [r for p in paths for f in ([p] if p.is_file() else sorted(p.glob("*.jsonl"))) for r in read_jsonl(f)]
    steps = [s for r in records for s in r["steps"]]
    return {"episodes": len(records), "turns": len(steps), "valid_turns": sum(s["status"]["valid"] for s in steps),
            "wins": sum(r["outcome"]["success"] is True for r in records),
            "mean_reward": sum(r["reward"] or 0.0 for r in records) / len(records)}


def test_it_prints_where_every_output_is_and_each_path_exists(job):
    _, stdout = job
    paths = printed_paths(stdout)
    expected = {"oracle games", "SFT rows (oracle)", "LoRA adapter", "loss curve", "training log",
                "base model games", "adapter games", "doctored", "SFT rows (good + doctored)", "report (HTML)"}
    assert expected <= set(paths), stdout
    for label, path in paths.items():
        assert path.exists(), f"{label}: {path} does not exist"
    assert (paths["LoRA adapter"] / "adapter_config.json").exists()
    # the short table of what came out, with the before and after rows
    assert re.search(r"^stage\s+episodes\s+valid turns\s+won\s+mean reward", stdout, re.M), stdout
    assert re.search(r"^base model\s+2\s+\d+/\d+\s+\d/2\s", stdout, re.M), stdout
    assert re.search(r"^with the adapter\s+2\s+\d+/\d+\s+\d/2\s", stdout, re.M), stdout


def test_the_figures_are_the_episodes_own(job):
    _, stdout = job
    [summary] = re.findall(r"^this summary: (\S+)$", stdout, re.M)
    manifest = json.loads((Path(summary).parent / "manifest.json").read_text())
    figures = {s["label"]: s for s in json.loads(Path(manifest["figures"]).read_text())["stages"]}
    outputs = {k: Path(v) for k, v in manifest["outputs"].items()}
    for label, where in [("oracle (training games)", "oracle games"), ("base model", "base model games"),
                         ("with the adapter", "adapter games")]:
        counted = recount([outputs[where]])
        for key, value in counted.items():
            assert figures[label][key] == pytest.approx(value), (label, key)
    oracle, before = figures["oracle (training games)"], figures["base model"]
    assert oracle["episodes"] == oracle["wins"] == 4 and oracle["valid_turns"] == oracle["turns"] == 12
    assert before["episodes"] == 2 and before["turns"] > 0  # the same test puzzles before and after
    assert figures["with the adapter"]["episodes"] == 2
    # the SFT rows of the oracle's games: one conversation per game, the model's turns in it
    rows = read_jsonl(outputs["SFT rows (oracle)"])
    assert len(rows) == 4 and all(m["role"] == "assistant" for r in rows for m in r["messages"][2::2])


def test_the_report_is_the_viewer_with_the_plots(job):
    _, stdout = job
    page = printed_paths(stdout)["report (HTML)"].read_text(encoding="utf-8")
    for title in ["Before and after", "Reward distribution", "Good and bad per loop", "Loss curve", "Outputs"]:
        assert f">{title}<" in page, title
    assert page.count('src="data:image/png;base64,') == 3
    assert 'type="application/octet-stream"' in page  # the viewer's embedded episodes


def test_the_summary_is_printed_again_and_a_rerun_does_nothing(job):
    cwd, stdout = job
    again = subprocess.run([sys.executable, "-m", "luigi_tasks.demo", *SMALL], cwd=cwd, capture_output=True,
                           text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() and again.stdout.strip() in stdout
    rerun = luigi(cwd, "luigi_tasks.demo", "MainJob", *SMALL, timeout=300)
    ok(rerun)
    assert "this summary:" not in rerun.stdout  # everything was complete: nothing ran
    other = subprocess.run([sys.executable, "-m", "luigi_tasks.demo", "--eval-puzzles", "3"], cwd=cwd,
                           capture_output=True, text=True, check=False)
    assert other.returncode == 1 and "has not finished" in other.stderr


def test_game_figures_count_steps_wins_and_rewards(job):
    _, stdout = job
    base = printed_paths(stdout)["base model games"]
    figures = game_figures("base", [base, base / "missing.jsonl"])
    assert figures.episodes == 2 and figures.mean_reward == pytest.approx(recount([base])["mean_reward"])
    with pytest.raises(ValueError, match="no episodes"):
        game_figures("none", [base / "missing.jsonl"])


def test_the_notes_say_when_the_adapter_did_not_help():
    same = GameFigures("x", 2, 10, 0, 0, 0, (0.0, 0.0))
    better = GameFigures("y", 2, 8, 8, 0, 0, (0.3, 0.3))
    doctor = {"salvageable": 0, "doctored": 0, "succeeded": 0}
    assert any("did not raise" in n for n in honest_notes(same, same, doctor))
    assert not any("did not raise" in n for n in honest_notes(same, better, doctor))
    assert any("continued none" in n for n in honest_notes(same, better, doctor))
