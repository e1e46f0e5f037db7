"""Seed 001's pure functions pinned by golden cases from the spec's rules, and the doctoring
path end to end: play, convert to rollout records, select, truncate, resume in the env."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.episode import Env, Episode, ModelSpec, Provenance, Task
from harness_connections import ConnectionsEnv
from harness_connections.predicates import (
    UNSALVAGEABLE,
    accuracy,
    is_solved,
    is_valid,
    is_won,
    salvage_quality,
    wrap_think,
)
from harness_connections.rollout_record import to_rollout_record
from harness_connections.selection import mark_over_token_limit, mean_assistant_tokens, output_row, select_best
from harness_connections.truncation import kept_history, truncate

FIXTURES = Path(__file__).parent / "fixtures" / "connections"
ENV = ConnectionsEnv(puzzles=str(FIXTURES / "puzzles.json"))
FISH = ["BASS", "TROUT", "SALMON", "TUNA"]
BALL = ["BASKET", "FOOT", "EYE", "SNOW"]
BLUE = ["NAVY", "TEAL", "COBALT", "AZURE"]


def guess(*words: str) -> str:
    return "Thinking it over.\n\n<guess>[" + ", ".join(f"`{w}`" for w in words) + "]</guess>"


def g(*statuses: str) -> list[dict]:
    return [{"items": [], "status": s, "category_idx": None, "result_message": ""} for s in statuses]


# -- predicates --------------------------------------------------------------------------------


def test_valid_and_won():
    assert is_valid({"guess_history": g("correct", "incorrect")})
    assert not is_valid({"guess_history": g("correct", "invalid")})
    assert not is_valid({})  # a missing history counts as invalid
    assert is_valid({"guess_history": []})
    assert is_won({"complete_reason": "all_categories_found"}) and is_solved(
        {"complete_reason": "all_categories_found"}
    )
    assert not is_won({"complete_reason": "max_mistakes"}) and not is_won({})


def test_accuracy_leaves_auto_out_of_the_numerator():
    assert accuracy({"guess_history": g("correct", "correct", "correct", "auto")}) == 0.75
    assert accuracy({"guess_history": g("incorrect", "correct", "invalid", "one_away")}) == 0.25
    assert accuracy({"guess_history": []}) == 0.0 and accuracy({}) == 0.0


@pytest.mark.parametrize(
    ("statuses", "quality"),
    [
        ([], UNSALVAGEABLE),
        (["incorrect", "one_away"], UNSALVAGEABLE),
        (["invalid", "correct"], UNSALVAGEABLE),
        (["correct"], 1.0),
        (["correct", "correct", "correct", "auto"], 1 + 1 / 2 + 1 / 4 + 1 / 8),
        (["incorrect", "correct"], -1 / 8 + 1 / 2),
        (["incorrect", "one_away", "incorrect", "correct"], -1 / 8 - 1 / 4 - 1 / 2 + 1 / 8),
        (["correct", "incorrect", "correct", "incorrect", "invalid", "correct"], 1 - 1 / 8 + 1 / 4),
        (["correct", "incorrect", "incorrect"], 1.0),  # mistakes after the last correct are ignored
    ],
)
def test_salvage_quality(statuses, quality):
    assert salvage_quality(g(*statuses)) == pytest.approx(quality)


@pytest.mark.parametrize(
    ("text", "wrapped"),
    [
        ("<think>mine</think>\n<guess>[`A`]</guess>", "<think>mine</think>\n<guess>[`A`]</guess>"),
        ("no guess here", "<think>no guess here</think>"),
        ("Fish first.\n<guess>[`A`]</guess>", "<think>Fish first.</think>\n\n<guess>[`A`]</guess>"),
        ("<guess>[`A`]</guess>", "<guess>[`A`]</guess>"),
        (
            "a <guess>[`B`]</guess> b <guess>[`C`]</guess>",
            "<think>a</think>\n\n<guess>[`B`]</guess> b <guess>[`C`]</guess>",
        ),
    ],
)
def test_wrap_think(text, wrapped):
    assert wrap_think(text) == wrapped


# -- selection ---------------------------------------------------------------------------------


def rollout(puzzle_id, reward, statuses, reason, words=1):
    return {
        "info": {"puzzle_id": puzzle_id},
        "reward": reward,
        "guess_history": g(*statuses),
        "complete_reason": reason,
        "completion": [{"role": "assistant", "content": "w " * words}, {"role": "user", "content": "x " * 99}],
    }


def test_best_rollout_per_puzzle():
    won_long = rollout(1, 0.9, ["correct", "correct", "correct", "auto"], "all_categories_found", words=50)
    won_short = rollout("1", 0.9, ["correct", "correct", "correct", "auto"], "all_categories_found", words=5)
    lost_top = rollout(1, 0.95, ["correct", "invalid"], "max_turns_reached")
    invalid = rollout(2, 0.5, ["invalid", "correct"], "max_mistakes")
    lost = rollout(2, 0.4, ["incorrect"] * 4, "max_mistakes")
    lost_only = rollout(3, 0.3, ["incorrect"] * 4, "max_mistakes")
    with pytest.warns(UserWarning, match="skipped 2 rollout record"):
        selection = select_best([won_long, lost_top, invalid, {"info": {}}, won_short, lost, lost_only, {"reward": 1}])
    assert selection.good == [output_row(won_short)]  # same reward: fewer assistant tokens first
    assert selection.bad == [output_row(invalid, "invalid guess"), output_row(lost_only, "game lost")]
    assert selection.skipped == [3, 7]
    assert mean_assistant_tokens(won_long) == 50


def test_token_limit_marks_the_guess_invalid():
    record = rollout(1, 1.0, ["correct", "incorrect", "correct", "auto"], "all_categories_found")
    record["completion"] = [{"role": "assistant", "content": "a " * n} for n in (3, 9, 3)]
    marked = mark_over_token_limit(record, 8)
    assert [x["status"] for x in marked["guess_history"]] == ["correct", "invalid", "correct", "auto"]
    assert marked["guess_history"][1]["invalid_reason"] == "over_token_limit_9"  # its own count
    assert record["guess_history"][1]["status"] == "incorrect"  # the input is not changed
    assert select_best([marked]).bad[0]["tags"] == ["rr: invalid guess"]


# -- truncation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "kept"),
    [
        (["correct", "incorrect", "invalid", "correct"], ["correct"]),
        (["incorrect", "one_away", "invalid"], ["incorrect", "one_away"]),
        (["correct", "incorrect", "correct", "incorrect", "incorrect"], ["correct", "incorrect", "correct"]),
        (["correct", "correct", "correct", "auto"], ["correct", "correct", "correct"]),
        (["invalid", "correct"], []),
    ],
)
def test_kept_history(statuses, kept):
    assert [x["status"] for x in kept_history(g(*statuses))] == kept


def play(actions, task=None):
    task = task or ENV.task("fixed-4x4")
    session = ENV.start(task, seed=0, actions=actions)
    summary = session.summary()
    return Episode(
        schema_version="1",
        episode_id=f"ep-{len(actions)}",
        env=Env(name=ENV.name, version=ENV.version, args=ENV.args),
        task=task,
        model=ModelSpec(name="scripted", backend="replay"),
        prompt=session.prompt,
        steps=session.steps,
        reward=summary.reward,
        reward_components=summary.reward_components,
        outcome=summary.outcome,
        provenance=Provenance(harness_version="0.1.0", created_at="2025-01-01T00:00:00Z"),
        info=summary.info,
    )


LOST = [
    guess(*FISH),
    guess("FOOT", "EYE", "NAVY", "TEAL"),
    guess(*BLUE),
    "no guess",
    guess("FOOT", "EYE", "FLOP", "CALL"),
]


def test_to_rollout_record():
    episode = play(LOST)
    record = to_rollout_record(episode.to_dict())
    assert record["prompt"] == [m.model_dump() for m in episode.prompt]
    assert [m["role"] for m in record["completion"]] == ["assistant", "user"] * 5
    assert record["info"] == {
        "puzzle_id": "fixed-4x4",
        "categories": episode.task.data["categories"],
        "all_words": episode.info["all_words"],
    }
    assert [x["status"] for x in record["guess_history"]] == ["correct", "incorrect", "correct", "invalid", "incorrect"]
    assert record["complete_reason"] is None and record["reward"] == episode.reward
    # Without the summary in info, the same record comes from the steps and the task.
    bare = to_rollout_record(episode.model_copy(update={"info": {}}))
    assert bare["guess_history"] == record["guess_history"] and bare["info"] == record["info"]
    won = to_rollout_record(play([guess(*FISH), guess(*BALL), guess(*BLUE)]).model_copy(update={"info": {}}))
    assert [x["status"] for x in won["guess_history"]] == ["correct", "correct", "correct", "auto"]
    assert won["complete_reason"] == "all_categories_found"


def test_doctoring_round_trip_through_the_env():
    """A bad rollout, truncated, resumes in the env with the same conversation and state."""
    episode = play(LOST)
    record = to_rollout_record(episode)
    selection = select_best([record])
    assert selection.bad[0]["metadata"]["Rejection Reason"] == "invalid guess"
    truncated = truncate(selection.bad[0])
    assert [x["status"] for x in truncated["guess_history"]] == ["correct", "incorrect", "correct"]
    assert truncated["completion"] == []
    assert [m["content"] for m in truncated["prompt"] if m["role"] == "assistant"] == [
        "<think>Thinking it over.</think>\n\n" + a.split("\n\n", 1)[1] for a in LOST[:3]]
    assert truncated["prompt"][-1]["role"] == "user"  # ends with the env's feedback to the last kept guess
    assert truncated["prompt"][-1]["content"].startswith("Correct! SHADES OF BLUE")
    task = ENV.task("fixed-4x4")
    resumed_task = Task(
        id=task.id,
        data={
            **task.data,
            "all_words": truncated["info"]["all_words"],
            "prompt": truncated["prompt"],
            "resumed_from_guess_history": truncated["info"]["resumed_from_guess_history"],
        },
    )
    session = ENV.start(resumed_task, seed=0)
    assert [m.model_dump() for m in session.prompt] == truncated["prompt"]
    step = session.step(guess(*BALL))
    assert step.info["complete_reason"] == "all_categories_found"
    doctored = to_rollout_record(play([guess(*BALL)], task=resumed_task))
    assert [x["status"] for x in doctored["guess_history"]] == ["correct", "incorrect", "correct", "correct", "auto"]
    assert len(doctored["completion"]) == 1  # only the new turn
    assert doctored["info"]["resumed_from_guess_history"] == truncated["guess_history"]
    assert select_best([doctored]).good == [output_row(doctored)]


def test_unsalvageable_rollouts():
    assert truncate(to_rollout_record(play(["no guess"]))) is None
    assert truncate({"guess_history": []}) is None
