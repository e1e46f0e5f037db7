"""The verify stage: verdicts appended to episodes, resume, versions, no silent zero."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.engine import RolloutConfig, generate
from harness.episode import Episode, Verdict, load_episodes
from harness.verify import NotApplicable, NothingVerified, Verifier, VerifyConfig, verify_files

ANSWERS = ["<search>cheese</search>", "<answer>Gouda</answer>"]


class AnswerIsGouda(Verifier):
    """Passes episodes whose last action answers Gouda; counts its calls."""

    name = "answer-is-gouda"
    version = "1"

    def __init__(self, broken: bool = False) -> None:
        self.calls = 0
        self.broken = broken

    def verify(self, episode: Episode) -> Verdict:
        if episode.env.name != "search":
            raise NotApplicable(f"not a search episode ({episode.env.name})")
        self.calls += 1
        if self.broken:
            return self.verdict("no_verdict", details={"error": "checker down"})
        last = episode.steps[-1].action if episode.steps else ""
        return self.verdict("pass" if "Gouda" in last else "fail", score=float("Gouda" in last))


class AnswerIsGoudaV2(AnswerIsGouda):
    version = "2"


@pytest.fixture(scope="module")
def rollouts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rollouts")
    config = RolloutConfig(env="search", backend="scripted", backend_args={"responses": ANSWERS},
                           limit=5, num_shards=2, max_turns=4)
    generate(config, out, progress=False)
    return out


def _shards(run: Path) -> list[Path]:
    return sorted(run.glob("shard-*.jsonl"))


def test_verdicts_are_appended_and_counted(rollouts: Path, tmp_path: Path) -> None:
    verifier = AnswerIsGouda()
    report = verify_files(_shards(rollouts), tmp_path, VerifyConfig(verifier="answer-is-gouda"),
                          verifier=verifier, progress=False)
    assert (report.episodes, report.judged, report.reused) == (5, 5, 0)
    assert report.passed + report.failed == 5 and report.no_verdict == 0
    episodes = list(load_episodes(sorted(tmp_path.glob("shard-*.jsonl"))))
    assert len(episodes) == 5
    for ep in episodes:
        verdict = ep.verdict("answer-is-gouda")
        assert verdict is not None and verdict.version == "1"
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["report"]["episodes"] == 5
    assert manifest["settings"] == {"verifier": "answer-is-gouda", "verifier_args": {}}
    assert not list(tmp_path.glob(".*"))  # no partial or lock file left


def test_same_version_is_not_judged_again_a_new_one_is(rollouts: Path, tmp_path: Path) -> None:
    first, again, newer = tmp_path / "v1", tmp_path / "v1-again", tmp_path / "v2"
    verify_files(_shards(rollouts), first, VerifyConfig(verifier="x"), verifier=AnswerIsGouda(),
                 progress=False)
    repeat = AnswerIsGouda()
    report = verify_files(_shards(first), again, VerifyConfig(verifier="x"), verifier=repeat,
                          progress=False)
    assert repeat.calls == 0 and report.reused == 5 and report.judged == 0
    v2 = AnswerIsGoudaV2()
    report = verify_files(_shards(first), newer, VerifyConfig(verifier="x"), verifier=v2, progress=False)
    assert v2.calls == 5 and report.judged == 5
    for ep in load_episodes(_shards(newer)):
        assert [v.version for v in ep.verification] == ["1", "2"]


def test_a_finished_output_is_not_redone(rollouts: Path, tmp_path: Path) -> None:
    verify_files(_shards(rollouts), tmp_path, VerifyConfig(verifier="x"), verifier=AnswerIsGouda(),
                 progress=False)
    before = {p: p.read_bytes() for p in _shards(tmp_path)}
    verifier = AnswerIsGouda()
    report = verify_files(_shards(rollouts), tmp_path, VerifyConfig(verifier="x"), verifier=verifier,
                          progress=False)
    assert verifier.calls == 0 and report.episodes == 5
    assert {p: p.read_bytes() for p in _shards(tmp_path)} == before


def test_a_partial_output_resumes_where_it_stopped(rollouts: Path, tmp_path: Path) -> None:
    shard = _shards(rollouts)[0]
    lines = shard.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 2
    # what a kill leaves: one complete verified line, then half of the next
    done = tmp_path / "done"
    verify_files([shard], done, VerifyConfig(verifier="x"), verifier=AnswerIsGouda(), progress=False)
    verified = (done / shard.name).read_bytes().splitlines(keepends=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / f".{shard.name}.partial").write_bytes(verified[0] + verified[1][:40])
    verifier = AnswerIsGouda()
    report = verify_files([shard], out, VerifyConfig(verifier="x"), verifier=verifier, progress=False)
    assert verifier.calls == len(lines) - 1 and report.reused == 1
    assert (out / shard.name).read_bytes() == (done / shard.name).read_bytes()


def test_no_verdict_is_counted_and_fails_unless_allowed(rollouts: Path, tmp_path: Path) -> None:
    with pytest.raises(NothingVerified, match="5 of 5 episodes got no verdict"):
        verify_files(_shards(rollouts), tmp_path / "a", VerifyConfig(verifier="x"),
                     verifier=AnswerIsGouda(broken=True), progress=False)
    assert len(list(load_episodes(_shards(tmp_path / "a")))) == 5  # the verdicts are kept
    report = verify_files(_shards(rollouts), tmp_path / "b", VerifyConfig(verifier="x", allow_no_verdict=True),
                          verifier=AnswerIsGouda(broken=True), progress=False)
    assert report.no_verdict == 5


def test_nothing_to_judge_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(NothingVerified, match="no episodes"):
        verify_files([empty], tmp_path / "o1", VerifyConfig(verifier="x"), verifier=AnswerIsGouda(),
                     progress=False)
    runs = tmp_path / "conn"
    generate(RolloutConfig(env="connections", backend="scripted", backend_args={"responses": ["x"]},
                           limit=2, max_turns=1), runs, progress=False)
    with pytest.raises(NothingVerified, match=r"applies to none of the 2 episodes.*connections"):
        verify_files(_shards(runs), tmp_path / "o2", VerifyConfig(verifier="x"), verifier=AnswerIsGouda(),
                     progress=False)


def test_two_inputs_with_one_name_are_refused(rollouts: Path, tmp_path: Path) -> None:
    shard = _shards(rollouts)[0]
    copy = tmp_path / "copy" / shard.name
    copy.parent.mkdir()
    copy.write_bytes(shard.read_bytes())
    with pytest.raises(ValueError, match="share file names"):
        verify_files([shard, copy], tmp_path / "o", VerifyConfig(verifier="x"), verifier=AnswerIsGouda(),
                     progress=False)


def test_the_command_line_names_a_bad_verifier(rollouts: Path, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "harness", "verify", str(rollouts), "-o", str(tmp_path / "o"),
                             "--verifier", "no-such-verifier"], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 1
    assert "no verifier named 'no-such-verifier'" in result.stderr
