"""Puzzles from files (our shape, the archive shape, JSON and JSONL, errors naming file, place
and field), split assignment, and the shipped category bank with its seeded generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.environment import EnvError
from harness_connections import ConnectionsEnv
from harness_connections.bank import BankError, generate_puzzle, generate_puzzles, load_bank
from harness_connections.puzzles import PuzzleError, assign_split, load_puzzles

FIXTURES = Path(__file__).parent / "fixtures" / "connections"


def test_our_shape_with_splits_from_the_file():
    puzzles = load_puzzles(FIXTURES / "puzzles.json")
    assert [p.puzzle_id for p in puzzles] == ["fixed-4x4", "fixed-3x3", 7]
    assert [p.split for p in puzzles] == ["train", "test", None]
    assert puzzles[0].categories[1].group == "___BALL"
    assert puzzles[0].categories[1].members == ("BASKET", "FOOT", "EYE", "SNOW")
    assert [p.group_size for p in puzzles] == [4, 3, 4]


def test_archive_shape_keeps_the_date():
    puzzles = load_puzzles(FIXTURES / "archive.json")
    assert [p.puzzle_id for p in puzzles] == [1, 2]
    assert puzzles[0].extra == {"date": "2024-01-01"}
    assert puzzles[1].categories[3].members == ("RED", "DEAD", "BLACK", "CORAL")
    env = ConnectionsEnv(puzzles=str(FIXTURES / "archive.json"))
    task = env.task("1")  # ids compare as strings
    assert task.id == 1 and task.data["date"] == "2024-01-01"
    assert task.data["categories"][0] == {"group": "COLOURS", "members": ["RED", "GREEN", "BLUE", "PINK"]}
    assert task.split == assign_split(1, 0.2)


def test_jsonl_in_both_shapes_and_several_files():
    puzzles = load_puzzles([FIXTURES / "puzzles.jsonl", FIXTURES / "archive.json"])
    assert [p.puzzle_id for p in puzzles] == ["j1", "j2", 1, 2]
    env = ConnectionsEnv(puzzles=[str(FIXTURES / "puzzles.jsonl"), str(FIXTURES / "archive.json")])
    assert env.args["puzzles"] == [str(FIXTURES / "puzzles.jsonl"), str(FIXTURES / "archive.json")]
    assert len(list(env.tasks())) == 4


def test_split_assignment_is_deterministic_and_follows_the_fraction():
    ids = [f"p{i}" for i in range(2000)]
    splits = [assign_split(i, 0.2) for i in ids]
    assert splits == [assign_split(i, 0.2) for i in ids]
    assert 300 < splits.count("test") < 500
    assert all(assign_split(i, 0.0) == "train" for i in ids[:50])
    assert all(assign_split(i, 1.0) == "test" for i in ids[:50])
    assert assign_split(7, 0.3) == assign_split("7", 0.3)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


GOOD = {"group": "G", "members": ["A", "B"]}


@pytest.mark.parametrize(
    ("name", "text", "where", "field", "reason"),
    [
        ("p.json", "[1, 2", ":1", "(puzzle)", "not valid JSON"),
        ("p.json", '{"puzzle_id": 1}', "", "(puzzle)", "expected a JSON list of puzzles"),
        ("p.json", "[[]]", "[0]", "(puzzle)", "expected a JSON object, got list"),
        ("p.json", '[{"puzzle_id": "x"}]', "[0]", "(puzzle)", "expected `puzzle_id` + `categories`"),
        (
            "p.json",
            json.dumps([{"categories": [GOOD, {"group": "H", "members": ["C", "D"]}]}]),
            "[0]",
            "/puzzle_id",
            "expected a non-empty string or an integer",
        ),
        ("p.json", json.dumps([{"puzzle_id": True, "categories": []}]), "[0]", "/categories", "at least 2 groups"),
        (
            "p.json",
            json.dumps([{"puzzle_id": 1, "categories": [GOOD, {"group": "", "members": ["C", "D"]}]}]),
            "[0]",
            "/categories/1/group",
            "non-empty string",
        ),
        (
            "p.json",
            json.dumps([{"puzzle_id": 1, "categories": [GOOD, {"group": "H", "members": ["C", "D", "E"]}]}]),
            "[0]",
            "/categories/1/members",
            "has 3 words but group 0 has 2",
        ),
        (
            "p.json",
            json.dumps([{"puzzle_id": 1, "categories": [GOOD, {"group": "H", "members": ["C", "a"]}]}]),
            "[0]",
            "/categories/1/members/1",
            "appears twice (also at /categories/0/members/0)",
        ),
        (
            "p.json",
            json.dumps([{"puzzle_id": 1, "categories": [GOOD, {"group": "H", "members": ["C", 5]}]}]),
            "[0]",
            "/categories/1/members/1",
            "non-empty string without backticks",
        ),
        (
            "p.json",
            json.dumps([{"id": 3, "answers": [GOOD, {"level": 1, "group": "H"}]}]),
            "[0]",
            "/answers/1/members",
            "at least 2 words",
        ),
        (
            "p.json",
            json.dumps([{"puzzle_id": 1, "split": 3, "categories": [GOOD, {"group": "H", "members": ["C", "D"]}]}]),
            "[0]",
            "/split",
            "non-empty string",
        ),
        (
            "p.jsonl",
            '{"puzzle_id": "a", "categories": [{"group": "G", "members": ["A", "B"]}, '
            '{"group": "H", "members": ["C", "D"]}]}\n\n{"puzzle_id": 2,\n',
            ":3",
            "(puzzle)",
            "not valid JSON",
        ),
        (
            "p.jsonl",
            '{"puzzle_id": "1", "categories": [{"group": "G", "members": ["A", "B"]}, '
            '{"group": "H", "members": ["C", "D"]}]}\n'
            '{"id": 1, "answers": [{"group": "G", "members": ["A", "B"]}, {"group": "H", "members": ["C", "D"]}]}\n',
            ":2",
            "(puzzle)",
            "puzzle id 1 already used at",
        ),
    ],
)
def test_bad_files_are_errors_naming_file_place_and_field(tmp_path, name, text, where, field, reason):
    path = write(tmp_path, name, text)
    with pytest.raises(PuzzleError) as err:
        load_puzzles(path)
    message = str(err.value)
    assert message.startswith(f"{path}{where}: {field}: "), message
    assert reason in message
    with pytest.raises(EnvError, match="connections: "):
        ConnectionsEnv(puzzles=path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(EnvError, match=r"connections: .*nope\.json: \(puzzle\): no such file"):
        ConnectionsEnv(puzzles=str(tmp_path / "nope.json"))


# -- the bank ----------------------------------------------------------------------------------


def test_the_shipped_bank():
    bank = load_bank()
    assert len(bank) >= 80
    assert len({c.group for c in bank}) == len(bank)
    for category in bank:
        assert 5 <= len(category.members) <= 8
        assert all(w == w.upper() and w.strip() == w for w in (*category.members, *category.also))


def test_generator_is_deterministic_and_prefix_stable():
    first = generate_puzzles(30, seed=3)
    assert first == generate_puzzles(30, seed=3)
    assert generate_puzzles(10, seed=3) == first[:10]
    assert generate_puzzle(3, 17) == first[17]
    assert generate_puzzles(30, seed=4) != first
    assert [p.puzzle_id for p in first[:2]] == ["gen-3-00000", "gen-3-00001"]
    assert len({tuple(c.group for c in p.categories) for p in first}) > 25  # varied


def test_generated_groups_share_no_theme_words():
    bank = {c.group: c for c in load_bank()}
    for puzzle in generate_puzzles(200, seed=0):
        themes = [bank[c.group].words for c in puzzle.categories]
        for i, words in enumerate(themes):
            assert set(w.casefold() for w in puzzle.categories[i].members) <= words
            for other in themes[i + 1 :]:
                assert words.isdisjoint(other), puzzle


def test_generator_sizes():
    puzzle = generate_puzzle(0, 0, groups=5, group_size=5)
    assert len(puzzle.categories) == 5 and {len(c.members) for c in puzzle.categories} == {5}
    env = ConnectionsEnv(count=5, groups=3, group_size=6, generator_seed=9)
    assert [len(t.data["categories"]) for t in env.tasks()] == [3] * 5
    with pytest.raises(BankError, match="no 4 categories with 9\\+ members"):
        generate_puzzle(0, 0, group_size=9)
    with pytest.raises(EnvError, match="connections: the bank has no 4 categories"):
        ConnectionsEnv(group_size=9)


def test_skip_invalid_leaves_bad_puzzles_out_and_says_which(tmp_path):
    good = {"puzzle_id": "ok", "categories": [GOOD, {"group": "H", "members": ["C", "D"]}]}
    empty = {"id": 660, "answers": [{"group": "SYMBOLS", "members": ["", ""]}, GOOD]}  # as in the real archive
    path = write(tmp_path, "p.jsonl", json.dumps(good) + "\n{broken\n" + json.dumps(empty) + "\n")
    with pytest.raises(EnvError, match=r"p\.jsonl:2: \(puzzle\): not valid JSON"):
        ConnectionsEnv(puzzles=path)
    with pytest.warns(UserWarning, match=r"left out 2 invalid puzzle\(s\), the first: .*p\.jsonl:2"):
        env = ConnectionsEnv(puzzles=path, skip_invalid=True)
    assert [t.id for t in env.tasks()] == ["ok"]
    assert [str(e) for e in env.skipped] == [
        f"{path}:2: (puzzle): not valid JSON (Expecting property name enclosed in double quotes, column 2)",
        f"{path}:3: /answers/0/members/0: expected a non-empty string without backticks",
    ]
    assert env.args["skip_invalid"] is True
