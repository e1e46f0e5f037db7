"""The `connections-oracle` backend: it wins every game it is given, judged by the game-rules
verifier; it continues a doctored conversation from where the cut left it; a board it does not
know is an error the engine records."""

from __future__ import annotations

from pathlib import Path

from doctor_data import GROUPS, SCRIPT, puzzles_file
from harness import plugins
from harness.doctor.stage import DoctorConfig, doctor_files
from harness.engine import RolloutConfig, generate
from harness.episode import load_episodes
from harness_connections.guess import parse_guess
from harness_connections.oracle import ConnectionsOracle

SHAPES = [{"count": 12}, {"count": 6, "groups": 3, "group_size": 3, "generator_seed": 7}]


def run(tmp_path: Path, name: str, env_args: dict, **config) -> list:
    generate(RolloutConfig(env="connections", env_args=env_args, **config), tmp_path / name, progress=False)
    return list(load_episodes(tmp_path / name / "shard-00000-of-00001.jsonl"))


def test_it_is_a_registered_backend_and_wins_every_game_by_the_rules(tmp_path):
    assert plugins.get("backend", "connections-oracle") is ConnectionsOracle
    verifier = plugins.get("verifier", "connections-rules")()
    for k, env_args in enumerate(SHAPES):
        episodes = run(tmp_path, f"shape{k}", env_args, backend="connections-oracle",
                       backend_args={"env_args": env_args})
        assert len(episodes) == env_args["count"]
        groups = env_args.get("groups", 4)
        for episode in episodes:
            assert episode.error is None
            assert episode.outcome.success and episode.outcome.reason == "all_categories_found"
            assert episode.reward == 1.0
            # one guess per group but the last, which completes itself; each one right
            assert [s.status.label for s in episode.steps] == ["correct"] * (groups - 1)
            assert verifier.verify_episode(episode).verdict == "pass"
            # each turn names the group's theme in a sentence before its guess tag
            categories = {c["group"]: c["members"] for c in episode.task.data["categories"]}
            for step in episode.steps:
                theme = step.action.split("share a theme: ", 1)[1].split(".\n", 1)[0]
                assert sorted(parse_guess(step.action)) == sorted(categories[theme])


def test_it_continues_a_doctored_conversation_from_its_cut(tmp_path):
    puzzles = puzzles_file(tmp_path / "puzzles.jsonl", ["p1", "p2"], unsolvable=())
    env_args = {"puzzles": str(puzzles)}
    # a correct first guess, then nothing the game can read: cut back to the first step
    bad = run(tmp_path, "bad", env_args, backend="scripted",
              backend_args={"responses": [SCRIPT[0]] + ["I give up."] * 9})
    assert not any(e.outcome.success for e in bad)
    config = DoctorConfig(backend="connections-oracle", backend_args={"env_args": env_args})
    report = doctor_files([tmp_path / "bad"], tmp_path / "doctored", config, progress=False)
    assert (report.bad, report.doctored) == (2, 2)
    children = list(load_episodes(tmp_path / "doctored" / "doctored.jsonl"))
    assert len(children) == 2
    for child in children:
        assert child.parent.steps_kept == 1 and child.error is None
        # the kept turn is in the prompt; the oracle goes on with the groups still on the board
        assert parse_guess(child.prompt[-2].content) == GROUPS[0]
        assert [parse_guess(s.action) for s in child.steps] == [GROUPS[1], GROUPS[2]]
        assert child.outcome.success and child.info["mistakes"] == 0
        verdict = plugins.get("verifier", "connections-rules")().verify_episode(child)
        assert verdict.verdict == "pass", verdict.details


def test_a_board_of_another_environment_is_an_error_on_its_episode(tmp_path):
    puzzles = puzzles_file(tmp_path / "puzzles.jsonl", ["p1"], unsolvable=())
    episodes = run(tmp_path, "other", {"puzzles": str(puzzles)}, backend="connections-oracle",
                   backend_args={"env_args": {"count": 3}})
    [episode] = episodes
    assert episode.error is not None and "no puzzle of its environment" in episode.error.message
    assert "env_args" in episode.error.message
