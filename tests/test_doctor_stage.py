"""The doctor stage over episode files: selection and classification, the children it writes,
resume, no silent zero, the CLI and the Luigi task."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import luigi
import pytest

from doctor_data import SCRIPT, puzzles_file
from harness.backends.scripted import ScriptedBackend
from harness.doctor.stage import DoctorConfig, NothingToDoctor, doctor_files, is_good
from harness.engine import RolloutConfig, generate
from harness.engine.config import ConfigMismatch
from harness.episode import load_episodes

BAD_SCRIPT = [SCRIPT[0]] + ["no guess"] * 9  # a correct guess, then nothing valid: cut to one step
CONFIG = DoctorConfig(backend="scripted", backend_args={"responses": SCRIPT})


class Counting(ScriptedBackend):
    calls = 0

    async def generate(self, requests):
        Counting.calls += len(requests)
        return await super().generate(requests)


def rollouts(tmp_path: Path, script: list[str], ids: list[str], name: str = "run", **config) -> Path:
    puzzles = puzzles_file(tmp_path / f"{name}.puzzles.jsonl", ids, unsolvable=())
    generate(RolloutConfig(env="connections", backend="scripted", env_args={"puzzles": str(puzzles)},
                           backend_args={"responses": script}, **config), tmp_path / name, progress=False)
    return tmp_path / name / "shard-00000-of-00001.jsonl"


def without_provenance(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        record.pop("provenance")
        out.append(record)
    return out


def test_good_ones_are_copied_bad_ones_doctored_in_task_order(tmp_path):
    good = rollouts(tmp_path, SCRIPT, ["p1", "p2"], "good")
    bad = rollouts(tmp_path, BAD_SCRIPT, ["p2", "p3", "p4"], "bad")
    report = doctor_files([bad, good], tmp_path / "out", CONFIG, progress=False)
    assert (report.episodes, report.tasks, report.good, report.bad) == (5, 4, 2, 2)
    # the good episode of p2 wins over its bad one, whichever file comes first
    good_lines = (tmp_path / "out" / "good.jsonl").read_bytes().splitlines()
    assert good_lines == good.read_bytes().splitlines()  # byte for byte, p1 then p2
    children = list(load_episodes(tmp_path / "out" / "doctored.jsonl"))
    assert [str(c.task.id) for c in children] == ["p3", "p4"]
    parents = {e.episode_id: e for e in load_episodes(bad)}
    for child in children:
        parent = parents[child.parent.episode_id]
        assert child.parent.steps_kept == 1
        assert child.prompt[: len(parent.prompt)] == parent.prompt
        assert child.seed == parent.seed and child.task == parent.task
        assert child.episode_id != parent.episode_id and child.outcome.success
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["report"]["doctored"] == 2 and manifest["settings"]["backend"] == "scripted"
    assert not list((tmp_path / "out").glob(".*"))  # no partial or lock left


def test_verdicts_decide_with_a_named_verifier():
    fail = {"verifier": "v", "verdict": "fail"}
    passing = {"verifier": "v", "verdict": "pass"}
    other = {"verifier": "w", "verdict": "fail"}
    assert is_good({"/outcome/success": True}, None)
    assert not is_good({"/outcome/success": True, "/verification": [passing, other]}, None)
    assert is_good({"/outcome/success": True, "/verification": [fail, passing]}, None)  # the latest counts
    assert is_good({"/outcome/success": False, "/verification": [passing, other]}, "v")
    assert not is_good({"/outcome/success": True, "/verification": [fail]}, "v")
    assert is_good({"/outcome/success": True, "/verification": [{"verifier": "v", "verdict": "no_verdict"}]}, "v")
    assert not is_good({"/outcome/success": True, "/error/type": "X"}, None)


def test_ties_go_to_fewer_tokens(tmp_path):
    # two good episodes of one task, equal rewards: the fewer completion tokens per step wins
    good = rollouts(tmp_path, SCRIPT, ["p1"], "good", samples_per_task=2)
    records = [json.loads(line) for line in good.read_text().splitlines()]
    records[0]["usage"], records[1]["usage"] = {"completion_tokens": 900}, {"completion_tokens": 100}
    good.write_text("".join(json.dumps(r) + "\n" for r in records))
    # two bad ones, equally salvageable: the cut keeping fewer tokens is continued
    bad = rollouts(tmp_path, BAD_SCRIPT, ["p2"], "bad", samples_per_task=2)
    cut = [json.loads(line) for line in bad.read_text().splitlines()]
    cut[0]["steps"][0]["usage"], cut[1]["steps"][0]["usage"] = {"completion_tokens": 50}, {"completion_tokens": 5}
    bad.write_text("".join(json.dumps(r) + "\n" for r in cut))
    doctor_files([good, bad], tmp_path / "out", CONFIG, progress=False)
    [kept] = [json.loads(line) for line in (tmp_path / "out" / "good.jsonl").read_text().splitlines()]
    assert kept["episode_id"] == records[1]["episode_id"]
    [child] = load_episodes(tmp_path / "out" / "doctored.jsonl")
    assert child.parent.episode_id == cut[1]["episode_id"]


def test_a_killed_run_resumes_with_the_children_it_had(tmp_path):
    bad = rollouts(tmp_path, BAD_SCRIPT, ["p1", "p2", "p3"])
    doctor_files([bad], tmp_path / "whole", CONFIG, progress=False)
    whole = (tmp_path / "whole" / "doctored.jsonl").read_text().splitlines()
    out = tmp_path / "out"
    out.mkdir()
    # what a kill -9 leaves: the settings, one complete child, half of the next
    (out / "doctor.settings.json").write_bytes((tmp_path / "whole" / "doctor.settings.json").read_bytes())
    (out / ".doctored.jsonl.partial").write_text(whole[0] + "\n" + whole[1][:50])
    Counting.calls = 0
    report = doctor_files([bad], out, CONFIG, backend=Counting(responses=SCRIPT), progress=False)
    assert Counting.calls == 2 * 2  # two children, two turns each: the first was not redone
    assert report.doctored == 3
    assert without_provenance(out / "doctored.jsonl") == without_provenance(tmp_path / "whole" / "doctored.jsonl")
    assert (out / "doctored.jsonl").read_text().splitlines()[0] == whole[0]


def test_a_finished_directory_is_not_redone_and_other_settings_are_refused(tmp_path):
    bad = rollouts(tmp_path, BAD_SCRIPT, ["p1"])
    doctor_files([bad], tmp_path / "out", CONFIG, progress=False)
    before = (tmp_path / "out" / "doctored.jsonl").read_bytes()
    Counting.calls = 0
    report = doctor_files([bad], tmp_path / "out", CONFIG, backend=Counting(responses=SCRIPT), progress=False)
    assert Counting.calls == 0 and report.doctored == 1
    assert (tmp_path / "out" / "doctored.jsonl").read_bytes() == before
    with pytest.raises(ConfigMismatch, match="max_tokens: 256 -> 9"):
        doctor_files([bad], tmp_path / "out", DoctorConfig(backend="scripted", backend_args={"responses": SCRIPT},
                                                          max_tokens=9), progress=False)


def test_a_replay_that_does_not_reproduce_its_parent_is_an_error_on_the_child(tmp_path):
    shard = rollouts(tmp_path, BAD_SCRIPT, ["p1"])
    [record] = [json.loads(line) for line in shard.read_text().splitlines()]
    record["steps"][0]["status"]["label"] = "one_away"  # not what the rules give
    shard.write_text(json.dumps(record) + "\n")
    report = doctor_files([shard], tmp_path / "out", CONFIG, progress=False)
    assert (report.doctored, report.failed, report.replay_mismatch) == (1, 1, 1)
    [child] = load_episodes(tmp_path / "out" / "doctored.jsonl")
    assert child.error.type == "ReplayMismatch" and "step 0: the replay gives status 'correct'" in child.error.message


def test_nothing_to_doctor_is_an_error_unless_allowed(tmp_path):
    good = rollouts(tmp_path, SCRIPT, ["p1"])
    with pytest.raises(NothingToDoctor, match="of 1 tasks, 1 have a good episode"):
        doctor_files([good], tmp_path / "out", CONFIG, progress=False)
    assert not (tmp_path / "out" / "doctor.settings.json").exists()  # a failed start binds nobody
    report = doctor_files([good], tmp_path / "out", DoctorConfig(backend="scripted", backend_args={"responses": SCRIPT},
                                                                 allow_empty=True), progress=False)
    assert report.doctored == 0 and (tmp_path / "out" / "doctored.jsonl").read_text() == ""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(NothingToDoctor, match="no episodes"):
        doctor_files([empty], tmp_path / "o2", CONFIG, progress=False)


def test_the_cli_from_another_directory(tmp_path):
    bad = rollouts(tmp_path, BAD_SCRIPT, ["p1", "p2"])
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    command = [sys.executable, "-m", "harness", "doctor", str(bad.parent), "-o", "out", "--backend", "scripted",
               "--backend-arg", f"responses={json.dumps(SCRIPT)}", "--quiet"]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "2 doctored: 2 now succeed, 0 failed -> out" in done.stderr
    assert len((cwd / "out" / "doctored.jsonl").read_text().splitlines()) == 2
    good = subprocess.run([sys.executable, "-m", "harness", "doctor", "episodes", str(cwd / "out" / "doctored.jsonl"),
                           "-o", "again", "--backend", "scripted", "--backend-arg", "responses=[]"],
                          cwd=cwd, capture_output=True, text=True)
    assert good.returncode == 1 and "Error: nothing to doctor" in good.stderr and "Traceback" not in good.stderr
    helped = subprocess.run([sys.executable, "-m", "harness", "doctor", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "loop" in helped.stdout and "reduce" in helped.stdout


def test_the_luigi_task_over_files(tmp_path):
    from luigi_tasks.doctor import DoctorFiles

    bad = rollouts(tmp_path, BAD_SCRIPT, ["p1", "p2"])
    task = DoctorFiles(episodes=[str(bad.parent)], backend="scripted", backend_args={"responses": SCRIPT},
                       data_dir=str(tmp_path / "data"))
    assert task.task_id.startswith("DoctorFiles(scripted)-")
    assert luigi.build([task], local_scheduler=True, log_level="WARNING")
    out = task.output_dir()
    assert out.parent == tmp_path / "data" / "doctored"
    assert json.loads((out / "manifest.json").read_text())["report"]["succeeded"] == 2
    assert task.complete()
    other = DoctorFiles(episodes=[str(bad.parent)], backend="scripted", backend_args={"responses": SCRIPT},
                        max_tokens=9, data_dir=str(tmp_path / "data"))
    assert other.output_dir() != out  # another setting, another directory


def test_the_luigi_graph_generates_verifies_then_doctors(tmp_path):
    """DoctorRollouts requires VerifyRollouts, which requires the run: one command does all three."""
    puzzles = puzzles_file(tmp_path / "puzzles.jsonl", ["p1", "p2"], unsolvable=())
    done = subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "luigi_tasks.doctor", "DoctorRollouts", "--env", "connections",
         "--env-args", json.dumps({"puzzles": str(puzzles)}), "--backend", "scripted",
         "--backend-args", json.dumps({"responses": BAD_SCRIPT}), "--verifier", "connections-rules",
         "--local-scheduler"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    [manifest] = list((tmp_path / "data" / "doctored").glob("connections,connections-rules-*/manifest.json"))
    report = json.loads(manifest.read_text())["report"]
    # the same scripted answers continue the cut games: they go wrong the same way, but every
    # bad episode (failed by the verifier) was cut, replayed and continued
    assert (report["bad"], report["salvageable"], report["doctored"]) == (2, 2, 2)
    assert [d.name.split(",")[0] for d in sorted((tmp_path / "data").iterdir())] == ["doctored", "rollouts", "verified"]
    children = list(load_episodes(manifest.parent / "doctored.jsonl"))
    assert all(c.parent.reason == "verdict fail (connections-rules)" for c in children)
