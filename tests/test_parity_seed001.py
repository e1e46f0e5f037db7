"""Seed 001 parity (issue 12): golden cases of our own writing that pin, point by point, what the
seed's Connections pipeline writes, and the continuation of data the seed made, exactly as it
stands, through the real environment, engine and rules verifier."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from harness.backends.scripted import ScriptedBackend
from harness.engine import RolloutConfig, generate_shard
from harness.environment import EnvError
from harness.episode import Task, load_episodes
from harness_connections import ConnectionsEnv
from harness_connections.predicates import wrap_think
from harness_connections.rollout_record import to_rollout_record
from harness_connections.selection import mark_over_token_limit, select_best
from harness_connections.truncation import kept_history, truncate
from harness_connections.verifier import RulesVerifier

# -- a puzzle and the seed's records of it, all of our own writing --------------------------------

CATEGORIES = [
    {"group": "CAFÉ ORDERS", "members": ["LATTE", "MOCHA", "CORTADO", "FLAT WHITE"]},
    {"group": "BIRDS", "members": ["ÑANDÚ", "EMU", "KIWI", "ROBIN"]},
    {"group": "___BOARD", "members": ["CHESS", "SKATE", "KEY", "CLIP"]},
    {"group": "SEEN IN THE NIGHT SKY", "members": ["MARS", "VENUS", "COMET", "MOON"]},
]
# The board as the seed recorded it: an order of its own, not the one we would shuffle.
ALL_WORDS = ["KIWI", "MARS", "LATTE", "CHESS", "EMU", "COMET", "SKATE", "MOCHA",
             "ÑANDÚ", "KEY", "VENUS", "CORTADO", "MOON", "CLIP", "ROBIN", "FLAT WHITE"]


def guess(*words: str) -> str:
    return "<guess>[" + ", ".join(f"`{w}`" for w in words) + "]</guess>"


def seed_example(puzzle_id="nyt-512") -> dict:
    """A truncated example as the seed's doctoring prep writes it: the prompt (its own wording,
    think-wrapped assistant turns, its feedback) + the kept turns, an empty completion, and the
    kept history in info; its records carry `words`, as the seed's GuessRecord does."""
    return {
        "prompt": [
            {"role": "system", "content": "You are playing Connections! Find four groups of four.\n"},
            {"role": "user", "content": "Words: " + " | ".join(ALL_WORDS) + "\n\nGood luck 🍀"},
            {"role": "assistant", "content": "<think>  Flightless birds… and a robin.</think>\n\n"
             + guess("ÑANDÚ", "EMU", "KIWI", "ROBIN")},
            {"role": "user", "content": "✓ CORRECT — BIRDS\n\nRemaining: MARS, LATTE, …"},
            {"role": "assistant", "content": "<think>Coffee?</think>\n\n" + guess("LATTE", "MOCHA", "CORTADO", "MOON")},
            {"role": "user", "content": "✗ One away. Mistakes left: 3"},
        ],
        "completion": [],
        "info": {
            "puzzle_id": puzzle_id,
            "categories": CATEGORIES,
            "all_words": ALL_WORDS,
            "resumed_from_guess_history": [
                {"words": ["ÑANDÚ", "EMU", "KIWI", "ROBIN"], "status": "correct", "category_idx": 1.0},
                {"words": ["LATTE", "MOCHA", "CORTADO", "MOON"], "status": "one_away", "category_idx": 0},
            ],
        },
        "guess_history": [],
    }


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


# -- the filter: best rollout per puzzle --------------------------------------------------------


def g(*statuses: str) -> list[dict]:
    return [{"items": [], "status": s, "category_idx": None, "result_message": ""} for s in statuses]


WON = ["correct", "correct", "correct", "auto"]


def rollout(puzzle_id, reward, statuses, reason, words=1, **extra) -> dict:
    record = {
        "prompt": [{"role": "system", "content": "rules"}, {"role": "user", "content": "  board <guess>"}],
        "completion": [
            {"role": "assistant", "content": ("w " * words) + guess("A", "B", "C", "D")},
            {"role": "user", "content": "feedback <guess>[`X`]</guess>"},
        ],
        "info": {"puzzle_id": puzzle_id},
        "reward": reward,
        "guess_history": g(*statuses),
        "complete_reason": reason,
        **extra,
    }
    if reward is ...:
        del record["reward"]
    return record


def test_output_rows_are_think_wrapped_with_the_seeds_tags_and_metadata():
    good = rollout(1, 1.0, WON, "all_categories_found", words=3)
    selection = select_best([good])
    [row] = selection.good
    # Byte for byte what the seed writes: the record's keys in order, completion replaced, then
    # tags and metadata; prompt and user messages untouched.
    expected = dict(good)
    expected["completion"] = [
        {"role": "assistant", "content": "<think>w w w</think>\n\n" + guess("A", "B", "C", "D")},
        {"role": "user", "content": "feedback <guess>[`X`]</guess>"},
    ]
    expected["tags"] = ["good example"]
    expected["metadata"] = {"Quality": "good", "Complete Reason": "all_categories_found"}
    assert json.dumps(row, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
    assert good["completion"][0]["content"].startswith("w w w")  # the input is not changed


def test_bad_rows_say_why_and_an_absent_complete_reason_is_unknown():
    invalid = rollout("p-invalid", 0.9, ["correct", "invalid"], "max_turns_reached")
    lost = rollout("p-lost", 0.5, ["incorrect"] * 4, "max_mistakes")
    no_reason = rollout("p-none", 0.2, ["incorrect"], None)
    del no_reason["complete_reason"]
    null_reason = rollout("p-null", 0.2, ["incorrect"], None)  # present but null stays null
    bad = {row["info"]["puzzle_id"]: row for row in select_best([invalid, lost, no_reason, null_reason]).bad}
    assert bad["p-invalid"]["tags"] == ["rr: invalid guess"]
    assert bad["p-invalid"]["metadata"] == {"Rejection Reason": "invalid guess", "Complete Reason": "max_turns_reached"}
    assert bad["p-lost"]["tags"] == ["rr: game lost"]
    assert bad["p-lost"]["metadata"] == {"Rejection Reason": "game lost", "Complete Reason": "max_mistakes"}
    assert bad["p-none"]["metadata"]["Complete Reason"] == "unknown"
    assert bad["p-null"]["metadata"]["Complete Reason"] is None
    assert bad["p-lost"]["completion"][0]["content"] == "<think>w</think>\n\n" + guess("A", "B", "C", "D")


def test_puzzles_come_out_in_sorted_order_of_their_id_string():
    ids = [10, "b", 2, "3", "a", "é", 0]
    selection = select_best([rollout(i, 1.0, WON, "all_categories_found") for i in ids])
    assert [row["info"]["puzzle_id"] for row in selection.good] == [0, 10, 2, "3", "a", "b", "é"]


def test_int_and_string_ids_are_one_puzzle():
    as_int = rollout(7, 0.4, ["incorrect"] * 4, "max_mistakes")
    as_str = rollout("7", 0.9, WON, "all_categories_found")
    selection = select_best([as_int, as_str])
    assert [row["info"]["puzzle_id"] for row in selection.good] == ["7"] and selection.bad == []


def test_records_without_an_id_are_reported_and_skipped():
    records = [
        {"info": {}}, rollout("", 1.0, WON, "all_categories_found"), rollout(None, 1.0, WON, "all_categories_found"),
        {"reward": 1.0}, {"info": None}, rollout("kept", 1.0, WON, "all_categories_found"),
    ]
    with pytest.warns(
        UserWarning, match=r"skipped 5 rollout record\(s\) without info.puzzle_id \(records 0, 1, 2, 3, 4"
    ):
        selection = select_best(records)
    assert selection.skipped == [0, 1, 2, 3, 4]
    assert [row["info"]["puzzle_id"] for row in selection.good] == ["kept"]


def test_a_missing_reward_ranks_as_zero():
    negative = rollout(1, -0.5, WON, "all_categories_found", marker="negative")
    missing = rollout(1, ..., WON, "all_categories_found", words=40, marker="missing")
    null = rollout(2, None, WON, "all_categories_found", words=40, marker="null")
    small = rollout(2, 0.1, WON, "all_categories_found", marker="small")
    selection = select_best([negative, missing, null, small])
    # 0 > -0.5 although "missing" is longer; 0 < 0.1
    assert [row["marker"] for row in selection.good] == ["missing", "small"]
    # as the top of a bad puzzle too
    lost_missing = rollout(3, ..., ["incorrect"] * 4, "max_mistakes", marker="lost-missing")
    lost_negative = rollout(3, -1.0, ["invalid"], "max_turns_reached", marker="lost-negative")
    [row] = select_best([lost_negative, lost_missing]).bad
    assert row["marker"] == "lost-missing" and row["tags"] == ["rr: game lost"]


def test_ties_go_to_fewer_mean_assistant_tokens_then_input_order():
    long = rollout(1, 0.8, WON, "all_categories_found", words=30, marker="long")
    short = rollout(1, 0.8, WON, "all_categories_found", words=2, marker="short")
    short_too = rollout(1, 0.8, WON, "all_categories_found", words=2, marker="short-too")
    assert select_best([long, short, short_too]).good[0]["marker"] == "short"
    assert select_best([long, short_too, short]).good[0]["marker"] == "short-too"
    # the tie is broken by tokens per assistant message, not in total
    two_turns = rollout(2, 0.8, WON, "all_categories_found", words=5, marker="two")
    two_turns["completion"] = two_turns["completion"] * 2
    one_turn = rollout(2, 0.8, WON, "all_categories_found", words=6, marker="one")
    assert select_best([one_turn, two_turns]).good[0]["marker"] == "two"


# -- the token limit ----------------------------------------------------------------------------


def test_over_token_limit_names_the_messages_own_token_count():
    record = rollout(1, 1.0, ["correct", "incorrect", "correct", "auto"], "all_categories_found")
    record["completion"] = [{"role": "assistant", "content": "a " * n} for n in (3, 9, 1000)]
    marked = mark_over_token_limit(record, 8)
    assert [x.get("invalid_reason") for x in marked["guess_history"]] == [
        None, "over_token_limit_9", "over_token_limit_1000", None]
    assert [x["status"] for x in marked["guess_history"]] == ["correct", "invalid", "invalid", "auto"]


# -- truncation: a history that already ends the game is unsalvageable ------------------------------


@pytest.mark.parametrize(
    ("statuses", "salvageable"),
    [
        (["incorrect", "incorrect", "one_away", "incorrect"], False),  # four mistakes, no correct
        (["incorrect", "one_away", "incorrect", "incorrect", "invalid"], False),
        (["incorrect", "one_away", "incorrect", "invalid"], True),  # three mistakes: play on
        (["correct", "incorrect", "incorrect", "incorrect", "incorrect"], True),  # cut after the correct
        (["invalid"], False),
        ([], False),
    ],
)
def test_truncate_agrees_with_the_environment(statuses, salvageable):
    env = ConnectionsEnv(puzzles=str(Path(__file__).parent / "fixtures" / "connections" / "puzzles.json"))
    task = env.task("fixed-4x4")
    history = [{"items": [], "status": s, "category_idx": 0 if s == "correct" else None, "result_message": "r"}
               for s in statuses]
    record = {"prompt": [], "completion": [], "guess_history": history,
              "info": {"puzzle_id": "fixed-4x4", "categories": task.data["categories"]}}
    truncated = truncate(record)
    assert (truncated is not None) == salvageable
    kept = kept_history(history)
    resumed = Task(id=task.id, data={**task.data, "resumed_from_guess_history": kept})
    if salvageable:
        assert truncated["info"]["resumed_from_guess_history"] == kept
        assert not env.start(resumed, 0).done
    elif kept:  # what truncate refuses, the environment refuses too
        with pytest.raises(EnvError, match="the game is already over"):
            env.start(resumed, 0)


def test_a_kept_history_that_finds_every_group_is_unsalvageable():
    three = [{"group": f"G{i}", "members": [f"W{i}{j}" for j in range(3)]} for i in range(3)]
    record = {"info": {"puzzle_id": 1, "categories": three}, "completion": [],
              "guess_history": [{"status": "correct", "category_idx": i} for i in range(3)] + [{"status": "invalid"}]}
    assert truncate(record) is None
    record["info"]["categories"] = [*three, {"group": "G3", "members": ["X", "Y", "Z"]}]
    assert truncate(record) is not None


# -- think wrapping keeps leading whitespace ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "wrapped"),
    [
        ("  Fish first.\n<guess>[`A`]</guess>", "<think>  Fish first.</think>\n\n<guess>[`A`]</guess>"),
        ("\n\nHmm…  \n\n<guess>[`A`]</guess>", "<think>\n\nHmm…</think>\n\n<guess>[`A`]</guess>"),
        (" \n\t<guess>[`A`]</guess>", "<guess>[`A`]</guess>"),
        ("  no guess  ", "<think>  no guess  </think>"),
        ("", "<think></think>"),
    ],
)
def test_wrap_think_keeps_leading_whitespace(text, wrapped):
    assert wrap_think(text) == wrapped


# -- continuing data the seed made, exactly as it stands --------------------------------------------


def test_a_seed_truncated_example_continues_verbatim(tmp_path):
    example = seed_example()
    env = ConnectionsEnv(puzzles=str(write_jsonl(tmp_path / "doctor_gameplay.jsonl", [example])))
    task = env.task("nyt-512")
    session = env.start(task, seed=3)
    # What the model sees is the example's own prompt, byte for byte.
    assert json.dumps([m.model_dump() for m in session.prompt], ensure_ascii=False) == json.dumps(
        example["prompt"], ensure_ascii=False)
    # The state replayed from the kept history, the board in the record's order.
    state = session.state()
    assert state["found"] == [1] and state["mistakes"] == 1 and state["turns"] == 0
    assert state["remaining_words"] == [w for w in ALL_WORDS if w not in CATEGORIES[1]["members"]]
    step = session.step("<think>Boards.</think>\n\n" + guess("CHESS", "SKATE", "KEY", "MOON"))
    assert step.status.label == "one_away"
    remaining = [w for w in ALL_WORDS if w not in CATEGORIES[1]["members"]]
    assert step.observation[0].content.endswith("Remaining words: " + ", ".join(f"`{w}`" for w in remaining))
    assert session.state()["mistakes"] == 2
    summary = session.summary()
    assert summary.info["all_words"] == ALL_WORDS
    history = summary.info["guess_history"]
    assert history[:2] == example["info"]["resumed_from_guess_history"] and len(history) == 3


def test_the_doctored_rollout_holds_old_and_new_guesses_and_only_new_turns(tmp_path):
    example = seed_example(puzzle_id=512)  # an integer id, as the NYT archive has
    path = write_jsonl(tmp_path / "doctor.jsonl", [example])
    new_turns = ["<think>Coffee.</think>\n\n" + guess("LATTE", "MOCHA", "CORTADO", "FLAT WHITE"),
                 guess("CHESS", "SKATE", "KEY", "CLIP")]
    seen: list[list[dict]] = []

    class Recording(ScriptedBackend):
        async def generate(self, requests):
            seen.extend([m.model_dump() for m in r.messages] for r in requests)
            return await super().generate(requests)

    # The scripted backend answers by assistant turn; the prompt already holds two.
    backend = Recording(responses=["unused", "unused", *new_turns])
    config = RolloutConfig(env="connections", backend="scripted", env_args={"puzzles": str(path)},
                           task_ids=["512"], max_tokens=64)
    manifest = generate_shard(config, tmp_path / "run", backend=backend, progress=False)
    [episode] = list(load_episodes(tmp_path / "run" / manifest["shard"]["path"]))
    assert seen[0] == example["prompt"]  # the first request is the example's prompt, verbatim
    assert episode.error is None and episode.outcome.reason == "all_categories_found"
    record = to_rollout_record(episode)
    assert record["prompt"] == example["prompt"]
    assert [m["content"] for m in record["completion"] if m["role"] == "assistant"] == new_turns
    statuses = [x["status"] for x in record["guess_history"]]
    assert statuses == ["correct", "one_away", "correct", "correct", "auto"]
    assert record["info"]["resumed_from_guess_history"] == example["info"]["resumed_from_guess_history"]
    assert record["info"]["all_words"] == ALL_WORDS
    verdict = RulesVerifier().verify_episode(episode)  # the rules replay it from the task alone
    assert verdict.verdict == "pass", verdict.details


def test_our_own_truncated_rollouts_continue_the_same_way(tmp_path):
    """truncate() of a (think-wrapped) bad row feeds the environment through the same path."""
    bad = {
        "prompt": seed_example()["prompt"][:2],
        "completion": [
            {"role": "assistant", "content": "Birds. " + guess("ÑANDÚ", "EMU", "KIWI", "ROBIN")},
            {"role": "user", "content": "Correct!"},
            {"role": "assistant", "content": "Oops"},
            {"role": "user", "content": "Invalid."},
        ],
        "info": {"puzzle_id": "p-ours", "categories": CATEGORIES, "all_words": ALL_WORDS},
        "reward": 0.3,
        "guess_history": [{"items": CATEGORIES[1]["members"], "status": "correct", "category_idx": 1,
                           "result_message": "Correct!"}, {"items": [], "status": "invalid", "category_idx": None}],
        "complete_reason": "max_turns_reached",
    }
    [row] = select_best([bad]).bad
    truncated = truncate(row)
    assert truncated["prompt"][2]["content"] == "<think>Birds.</think>\n\n" + guess("ÑANDÚ", "EMU", "KIWI", "ROBIN")
    assert "resumed_from_actions" not in truncated["info"]
    env = ConnectionsEnv(puzzles=str(write_jsonl(tmp_path / "t.jsonl", [truncated])))
    session = env.start(env.task("p-ours"), seed=0)
    assert [m.model_dump() for m in session.prompt] == truncated["prompt"]
    assert session.state()["found"] == [1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e["info"].update(all_words=ALL_WORDS[:-1]), r"doctor.jsonl:1: /info/all_words: lacks 'FLAT WHITE'"),
        (lambda e: e["info"].update(all_words=[*ALL_WORDS, "EMU"]), r"/info/all_words: 'EMU' listed more than once"),
        (lambda e: e["info"].update(all_words=[*ALL_WORDS[:-1], "TEA"]), r"/info/all_words: 'TEA' not in the puzzle"),
        (
            lambda e: e.update(completion=[{"role": "assistant", "content": "x"}]),
            r"doctor.jsonl:1: /completion: .*truncate it first",
        ),
        (lambda e: e["prompt"].append({"role": "robot", "content": "x"}), r"/prompt/6/role: expected one of"),
        (lambda e: e["prompt"].append({"role": "user", "content": None}), r"/prompt/6/content: expected a string"),
        (
            lambda e: e["info"]["resumed_from_guess_history"].append({"status": "correct", "category_idx": 1}),
            r"task 'nyt-512': /data/resumed_from_guess_history/2/category_idx: group 1 is already found",
        ),
    ],
)
def test_bad_seed_examples_are_named_errors(tmp_path, change, message):
    example = seed_example()
    change(example)
    with pytest.raises(EnvError, match=message):
        ConnectionsEnv(puzzles=str(write_jsonl(tmp_path / "doctor.jsonl", [example])))


def test_bad_examples_can_be_left_out(tmp_path):
    broken = seed_example("broken")
    broken["info"]["resumed_from_guess_history"] *= 2  # the birds found twice
    path = write_jsonl(tmp_path / "doctor.jsonl", [seed_example(), broken])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = ConnectionsEnv(puzzles=str(path), skip_invalid=True)
    assert [t.id for t in env.tasks()] == ["nyt-512"]
    assert "task 'broken': /data/resumed_from_guess_history/2/category_idx" in str(env.skipped[0])
    assert "left out 1 invalid puzzle" in str(caught[0].message)


def test_a_task_with_its_own_prompt_takes_no_rebuilt_actions():
    task = Task(id="x", data={"categories": CATEGORIES, "prompt": seed_example()["prompt"],
                              "resumed_from_guess_history": seed_example()["info"]["resumed_from_guess_history"],
                              "resumed_from_actions": ["a", "b"]})
    with pytest.raises(EnvError, match="/data/resumed_from_actions: rebuilds the prompt"):
        ConnectionsEnv(count=1).start(task, 0)
