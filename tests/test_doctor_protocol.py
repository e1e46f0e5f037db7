"""The doctoring protocol of the environment API: the generic default (any environment, down to a
third-party plugin that implements nothing but the API), Connections (seed 001's rules), and the
code environment (the first failing submission and its test feedback, in the real sandbox)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from doctor_data import GROUPS, SCRIPT, guess, puzzles_file
from harness import plugins
from harness.doctor.salvage import UNSALVAGEABLE, default_salvage, default_salvage_quality
from harness.doctor.stage import DoctorConfig, doctor_files
from harness.engine import RolloutConfig, generate
from harness.episode import Episode, load_episodes, validate_episode

REPO = Path(__file__).resolve().parents[1]


def episode(
    steps: list[tuple[bool, bool, float | None]], *, success: bool | None = False, error: bool = False
) -> Episode:
    """An episode of (valid, done, reward) steps."""
    record = {
        "schema_version": "1",
        "episode_id": "ep-1",
        "env": {"name": "x", "version": "1"},
        "task": {"id": "t"},
        "model": {"name": "m", "backend": "scripted"},
        "prompt": [{"role": "user", "content": "go"}],
        "steps": [
            {"action": f"a{i}", "status": {"valid": v}, "done": d, "reward": r} for i, (v, d, r) in enumerate(steps)
        ],
        "outcome": {"done": True, "success": success},
        "provenance": {"harness_version": "0", "created_at": "2025-01-01T00:00:00Z"},
    }
    if error:
        record["error"] = {"type": "BackendError", "message": "down"}
    return validate_episode(record)


@pytest.mark.parametrize(
    ("steps", "success", "error", "kept"),
    [
        ([(True, False, 0.5), (False, False, None), (True, True, 0.0)], False, False, 1),  # before the first invalid
        ([(False, False, None), (True, True, 1.0)], False, False, None),  # nothing before it: a fresh sample
        ([(True, False, 0.0), (True, False, 0.0), (True, True, 0.0)], False, False, 2),  # lost: drop the losing move
        ([(True, True, 0.0)], False, False, None),
        ([(True, False, 0.2), (True, False, 0.3)], None, True, 2),  # ended from outside: keep every step
        ([(True, False, 0.0), (True, True, 1.0)], True, False, None),  # succeeded: nothing to repair
        ([], None, True, None),
    ],
)
def test_the_generic_default(steps, success, error, kept):
    ep = episode(steps, success=success, error=error)
    assert default_salvage(ep) == kept
    expected = UNSALVAGEABLE if kept is None else sum(r or 0.0 for _, _, r in steps[:kept])
    assert default_salvage_quality(ep, kept) == expected


# -- Connections ----------------------------------------------------------------------------------


def connections_episodes(tmp_path: Path, responses: list[str], ids=("p1", "p2")) -> tuple[Path, list[Episode]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    puzzles = puzzles_file(tmp_path / "puzzles.jsonl", list(ids))
    generate(RolloutConfig(env="connections", backend="scripted", env_args={"puzzles": str(puzzles)},
                           backend_args={"responses": responses}), tmp_path / "run", progress=False)
    return puzzles, list(load_episodes(tmp_path / "run" / "shard-00000-of-00001.jsonl"))


def test_connections_cuts_by_seed_001s_rules(tmp_path):
    # correct, invalid, incorrect...: kept = the correct guess (one step), quality 1
    _, [ep, _] = connections_episodes(tmp_path, [SCRIPT[0], "no guess", guess(GROUPS[3][:2] + GROUPS[2][:2])] * 4)
    env = plugins.get("environment", "connections")(puzzles=str(tmp_path / "puzzles.jsonl"))
    assert env.salvage(ep) == 1 and env.salvage_quality(ep) == 1.0


def test_connections_won_or_nothing_kept_is_unsalvageable(tmp_path):
    _, [won, _] = connections_episodes(tmp_path / "a", SCRIPT)
    env = plugins.get("environment", "connections")(count=1)
    assert won.outcome.reason == "all_categories_found" and env.salvage(won) is None
    _, [lost, _] = connections_episodes(tmp_path / "b", ["nothing"] * 10)
    assert env.salvage(lost) is None and env.salvage_quality(lost) == UNSALVAGEABLE


def test_a_doctored_connections_child_replays_under_the_rules_verifier(tmp_path):
    """Cut, replayed, continued: the child holds the kept turn in its prompt and passes the
    rules verifier, which replays that turn first (Environment.resume)."""
    connections_episodes(tmp_path, [SCRIPT[0]] + ["no guess"] * 9)
    report = doctor_files([tmp_path / "run"/ "shard-00000-of-00001.jsonl"], tmp_path / "out",
                          DoctorConfig(backend="scripted", backend_args={"responses": SCRIPT}), progress=False)
    assert (report.bad, report.salvageable, report.doctored, report.succeeded) == (2, 2, 2, 2)
    verifier = plugins.get("verifier", "connections-rules")()
    for child in load_episodes(tmp_path / "out" / "doctored.jsonl"):
        assert child.parent.steps_kept == 1 and child.parent.reason == "invalid step"
        assert [m.role for m in child.prompt] == ["system", "user", "assistant", "user"]
        assert child.prompt[2].content == SCRIPT[0]
        assert [s.action for s in child.steps] == SCRIPT[1:3]
        verdict = verifier.verify_episode(child)
        assert verdict.verdict == "pass", verdict.details
        edited = child.model_copy(update={"prompt": child.prompt[:2]})  # the kept turn gone: it no longer replays
        assert verifier.verify_episode(edited).verdict == "fail"
        twice = child.model_copy(update={"prompt": child.prompt + child.prompt[2:]})  # two kept turns for one
        assert "kept turns do not replay" in verifier.verify_episode(twice).details["mismatch"]


@pytest.mark.parametrize(
    ("resumed", "actions", "kept"),
    [
        (["correct"], [SCRIPT[1], "none"], 1),  # a correct new guess, then an invalid one
        (["correct"], ["none"], 0),  # cut where the episode started
        (["correct"], [guess(GROUPS[2][:2] + GROUPS[3][:2])] * 2 + ["none"], 0),  # back to the last correct
        (["correct", "incorrect"], ["none"], None),  # the cut falls before this episode's first step
    ],
)
def test_a_connections_episode_that_resumed_counts_its_own_steps_only(tmp_path, resumed, actions, kept):
    """An episode of a truncated example: the kept history is counted from this episode's first
    step, and a cut before it is nothing this episode can continue."""
    from doctor_data import SOLVABLE

    prompt = [{"role": "user", "content": "board"}]
    for status in resumed:
        prompt += [{"role": "assistant", "content": "earlier"}, {"role": "user", "content": status}]
    history = [{"status": "correct", "category_idx": 0}, {"status": "incorrect"}][: len(resumed)]
    example = {"prompt": prompt, "completion": [],
               "info": {"puzzle_id": "r1", "categories": SOLVABLE, "resumed_from_guess_history": history}}
    path = tmp_path / "examples.jsonl"
    path.write_text(json.dumps(example) + "\n")
    env = plugins.get("environment", "connections")(puzzles=str(path))
    generate(RolloutConfig(env="connections", backend="scripted", env_args={"puzzles": str(path)},
                           backend_args={"responses": ["x"] * len(resumed) + actions}, max_turns=len(actions)),
             tmp_path / "run", progress=False)
    [ep] = load_episodes(tmp_path / "run" / "shard-00000-of-00001.jsonl")
    assert len(ep.steps) == len(actions) and ep.error is None
    assert env.salvage(ep) == kept


# -- the code environment -----------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures" / "code"
WRONG = "```python\ndef largest(a, b, c):\n    return a\n```"
RIGHT = "```python\ndef largest(a, b, c):\n    return max(a, b, c)\n```"


def code_env(**args):
    return plugins.get("environment", "code")(
        dataset="mbpp", path=str(FIXTURES / "mbpp_small.jsonl"), timeout=60.0, **args
    )


def test_code_salvage_keeps_the_first_failing_submission(tmp_path):
    config = RolloutConfig(env="code", backend="scripted", backend_args={"responses": [WRONG, WRONG, WRONG]},
                           env_args={"dataset": "mbpp", "path": str(FIXTURES / "mbpp_small.jsonl"),
                                     "timeout": 60.0, "max_turns": 3}, task_ids=["5"])
    generate(config, tmp_path / "multi", progress=False)
    [ep] = load_episodes(tmp_path / "multi" / "shard-00000-of-00001.jsonl")
    assert [s.status.label for s in ep.steps] == ["fail", "fail", "fail"]
    assert code_env(max_turns=3).salvage(ep) == 1
    assert code_env(max_turns=3).salvage_quality(ep) == pytest.approx(2 / 3)  # 2 of its 3 tests passed
    assert code_env(max_turns=1).salvage(ep) is None  # no turn left for the feedback
    passed = ep.model_copy(update={"outcome": ep.outcome.model_copy(update={"success": True})})
    assert code_env(max_turns=3).salvage(passed) is None


def test_a_single_turn_code_episode_is_doctored_with_its_test_feedback(tmp_path):
    config = RolloutConfig(env="code", backend="scripted", backend_args={"responses": [WRONG]},
                           env_args={"dataset": "mbpp", "path": str(FIXTURES / "mbpp_small.jsonl"), "timeout": 60.0},
                           task_ids=["5"])
    generate(config, tmp_path / "run", progress=False)
    report = doctor_files([tmp_path / "run"], tmp_path / "out",
                          DoctorConfig(backend="scripted", backend_args={"responses": [WRONG, RIGHT]},
                                       env_args={"max_turns": 2}), progress=False)
    assert (report.bad, report.doctored, report.succeeded) == (1, 1, 1)
    [child] = load_episodes(tmp_path / "out" / "doctored.jsonl")
    assert child.parent.steps_kept == 1
    assert child.prompt[-2].content == WRONG and "failed the tests (2 of 3 tests passed)" in child.prompt[-1].content
    assert [(s.action, s.status.label) for s in child.steps] == [(RIGHT, "pass")]
    assert child.outcome.success is True and child.env.args["max_turns"] == 2


def test_a_code_sandbox_failure_is_not_kept():
    ep = episode([(True, True, None)], success=None)
    ep.steps[0].status.label = "no_verdict"
    assert code_env(max_turns=3).salvage(ep) is None


# -- a third-party environment with nothing but the API ----------------------------------------------


@pytest.fixture(scope="module")
def guess_number(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """os.environ for a Python that sees examples/guess-number installed by pip in a directory."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / "guess-number"
    shutil.copytree(REPO / "examples" / "guess-number", source)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("HARNESS_PLUGINS", None)
    env.pop("HARNESS_PLUGINS_BLOCK", None)
    return env


def test_a_third_party_environment_gets_the_generic_default(guess_number, tmp_path):
    # Guess 5, then say nothing useful (invalid), then 8: the doctor cuts before the invalid turn.
    made = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from harness.engine import RolloutConfig, generate
        generate(RolloutConfig(env="guess-number", backend="scripted", split="train",
                               env_args={{"max_turns": 3}}, samples_per_task=2,
                               backend_args={{"responses": ["<guess>5</guess>", "hmm", "<guess>8</guess>"]}}),
                 {str(tmp_path / "run")!r}, progress=False)
        """)], env=guess_number, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    responses = json.dumps(["unused", "<guess>1</guess>", "<guess>2</guess>"])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "doctor",
            str(tmp_path / "run"),
            "-o",
            str(tmp_path / "out"),
            "--backend",
            "scripted",
            "--backend-arg",
            f"responses={responses}",
            "--quiet",
        ],
        env=guess_number,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "doctor: 6 episodes of 3 tasks" in done.stderr
    parents = {e.episode_id: e for e in load_episodes(tmp_path / "run" / "shard-00000-of-00001.jsonl")}
    children = [json.loads(line) for line in (tmp_path / "out" / "doctored.jsonl").read_text().splitlines()]
    assert children
    for child in children:
        parent = parents[child["parent"]["episode_id"]]
        first_invalid = next(i for i, s in enumerate(parent.steps) if not s.status.valid)
        assert child["parent"] == {
            "episode_id": parent.episode_id,
            "steps_kept": first_invalid,
            "reason": "invalid step",
        }
        kept_turns = [m["content"] for m in child["prompt"] if m["role"] == "assistant"]
        assert kept_turns == [s.action for s in parent.steps[:first_invalid]]
        assert [s["action"] for s in child["steps"]] == ["<guess>1</guess>", "<guess>2</guess>"][: len(child["steps"])]
        assert child["env"] == parent.env.model_dump(mode="json")


def test_truncating_a_doctored_record_counts_its_own_turns():
    """A doctored record's prompt holds its resumed turns: a cut is counted from there (the
    prompt is kept, and the new turns before the first invalid one), not from the completion's
    start; a cut inside the resumed turns drops the prompt's last ones."""
    from harness_connections.truncation import truncate

    prompt = [
        {"role": "user", "content": "board"},
        {"role": "assistant", "content": "A0"},
        {"role": "user", "content": "ok"},
    ]
    completion = [{"role": "assistant", "content": "B1"}, {"role": "user", "content": "ok"},
                  {"role": "assistant", "content": "B2"}, {"role": "user", "content": "invalid"}]
    c, x, i = ({"status": "correct", "category_idx": 0}, {"status": "incorrect"}, {"status": "invalid"})
    record = {"prompt": prompt, "completion": completion, "guess_history": [c, dict(c, category_idx=1), i],
              "info": {"puzzle_id": 1, "resumed_from_guess_history": [c]}}
    assert truncate(record)["prompt"] == prompt + completion[:2]
    record = {"prompt": [*prompt, {"role": "assistant", "content": "A1"}, {"role": "user", "content": "no"}],
              "completion": completion[2:], "guess_history": [c, x, i],
              "info": {"puzzle_id": 1, "resumed_from_guess_history": [c, x]}}
    assert truncate(record)["prompt"] == prompt


def test_seed_made_data_is_continued_verbatim_by_the_stage(tmp_path):
    """Rollouts seed 001 wrote, imported as episodes, doctored: the child plays on from the
    seed's own truncated example (its prompt and feedback verbatim, its board order, its kept
    history), and the rules verifier replays it from its task alone."""
    from doctor_data import BOARD, SEED_SYSTEM, seed_results
    from harness.importers.run import ImportConfig, import_files

    import_files([seed_results(tmp_path / "seed")], tmp_path / "imported", ImportConfig(importer="seed001"))
    report = doctor_files([tmp_path / "imported"], tmp_path / "out",
                          DoctorConfig(backend="scripted", backend_args={"responses": SCRIPT}), progress=False)
    assert (report.good, report.bad, report.salvageable, report.doctored, report.succeeded) == (1, 2, 1, 1, 1)
    [child] = load_episodes(tmp_path / "out" / "doctored.jsonl")
    assert str(child.task.id) == "p2" and child.parent.steps_kept == 1
    assert [m.content for m in child.prompt][:2] == [SEED_SYSTEM, "Words: " + " | ".join(BOARD)]
    assert child.prompt[2].content.startswith("<think>Turn 0:")  # think-wrapped, as the seed's bad rows are
    assert child.prompt[3].content == "✓ CORRECT — guess again."  # the seed's own feedback
    assert child.task.data["all_words"] == BOARD and child.info["all_words"] == BOARD
    assert [s.action for s in child.steps] == SCRIPT[1:3]
    assert [g["status"] for g in child.info["guess_history"]] == ["correct", "correct", "correct", "auto"]
    verdict = plugins.get("verifier", "connections-rules")().verify_episode(child)
    assert verdict.verdict == "pass", verdict.details
