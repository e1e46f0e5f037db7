"""The connections environment played by scripted policies: every status, every complete reason,
bad messages, replay from actions and from a truncated guess history, and the registry."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

from harness import plugins
from harness.environment import EnvError
from harness.episode import Task
from harness_connections import ConnectionsEnv

FIXTURES = Path(__file__).parent / "fixtures" / "connections"
FISH = ["BASS", "TROUT", "SALMON", "TUNA"]
BALL = ["BASKET", "FOOT", "EYE", "SNOW"]
BLUE = ["NAVY", "TEAL", "COBALT", "AZURE"]
POKER = ["FLOP", "RIVER", "BLIND", "CALL"]


def guess(*words: str, thinking: str = "Let me think.") -> str:
    return thinking + "\n\n<guess>[" + ", ".join(f"`{w}`" for w in words) + "]</guess>"


@pytest.fixture(scope="module")
def env() -> ConnectionsEnv:
    return ConnectionsEnv(puzzles=str(FIXTURES / "puzzles.json"))


@pytest.fixture
def session(env):
    return env.start(env.task("fixed-4x4"), seed=0)


def statuses(session) -> list[str]:
    return [r["status"] for r in session.summary().info["guess_history"]]


# -- the plugin --------------------------------------------------------------------------------


def test_found_through_the_registry():
    registry = plugins.load()
    cls = registry.get("environment", "connections")
    assert cls is ConnectionsEnv
    plugin = next(p for p in registry.plugins if p.distribution == "harness-connections")
    assert plugin.version == importlib.metadata.version("harness-connections") == ConnectionsEnv.version


def test_default_env_generates_puzzles_with_train_and_test_splits():
    env = ConnectionsEnv()
    assert env.args == {
        "test_fraction": 0.2, "max_mistakes": 4, "max_turns": 10,
        "count": 200, "generator_seed": 0, "groups": 4, "group_size": 4,
    }
    train, test = list(env.tasks("train")), list(env.tasks("test"))
    assert len(train) + len(test) == 200 and train and test
    assert env.splits() == ["train", "test"]
    json.dumps(env.args)  # goes into every episode record


# -- the prompt --------------------------------------------------------------------------------


def test_prompt_explains_rules_and_shows_words_shuffled_by_puzzle_id(env):
    a = env.start(env.task("fixed-4x4"), seed=0)
    b = env.start(env.task("fixed-4x4"), seed=99)
    assert [m.role for m in a.prompt] == ["system", "user"]
    assert "<guess>[`WORD1`, `WORD2`, `WORD3`, `WORD4`]</guess>" in a.prompt[0].content
    assert "4 mistakes" in a.prompt[0].content and "10 turns" in a.prompt[0].content
    shown = a.summary().info["all_words"]
    assert sorted(shown) == sorted(FISH + BALL + BLUE + POKER)
    assert shown != FISH + BALL + BLUE + POKER  # shuffled
    assert b.summary().info["all_words"] == shown  # the seed of the episode does not matter
    assert ", ".join(f"`{w}`" for w in shown) in a.prompt[1].content


# -- full games --------------------------------------------------------------------------------


def test_perfect_game_ends_with_auto_completion(session):
    first = session.step(guess(*FISH))
    assert first.status.valid and first.status.label == "correct" and not first.done
    assert first.info["category_idx"] == 0
    assert "Correct! FISH: BASS, TROUT, SALMON, TUNA" in first.observation[0].content
    assert "Groups found: 1/4" in first.observation[0].content
    session.step(guess(*BLUE))
    last = session.step(guess(*reversed(BALL)))
    assert last.done and last.observation == []
    assert last.info["complete_reason"] == "all_categories_found"
    assert last.info["auto_completed"]["status"] == "auto"
    assert last.info["auto_completed"]["category_idx"] == 3
    summary = session.summary()
    assert statuses(session) == ["correct", "correct", "correct", "auto"]
    assert summary.outcome.done and summary.outcome.reason == "all_categories_found"
    assert summary.outcome.success is True
    assert summary.reward == 1.0
    assert summary.reward_components == {"groups_found": 1.0, "valid_guesses": 1.0, "efficiency": 1.0}
    assert summary.info["complete_reason"] == "all_categories_found"
    assert summary.info["puzzle_id"] == "fixed-4x4"
    assert summary.info["categories"][3] == {"group": "POKER TERMS", "members": POKER}
    with pytest.raises(EnvError, match="already ended"):
        session.step(guess(*POKER))


def test_four_mistakes_lose_the_game(session):
    one_away = session.step(guess("BASS", "TROUT", "SALMON", "NAVY"))
    assert one_away.status.label == "one_away" and one_away.status.valid
    assert "One away!" in one_away.observation[0].content
    assert one_away.info["category_idx"] == 0
    wrong = session.step(guess("BASS", "TROUT", "NAVY", "TEAL"))
    assert wrong.status.label == "incorrect" and wrong.info["category_idx"] is None
    assert "Mistakes: 2/4" in wrong.observation[0].content
    session.step(guess(*FISH))
    session.step(guess("FOOT", "EYE", "FLOP", "RIVER"))
    last = session.step(guess("SNOW", "BASKET", "BLIND", "NAVY"))
    assert last.done and last.info["complete_reason"] == "max_mistakes"
    summary = session.summary()
    assert statuses(session) == ["one_away", "incorrect", "correct", "incorrect", "incorrect"]
    assert summary.outcome.reason == "max_mistakes" and summary.outcome.success is False
    assert summary.info["mistakes"] == 4
    assert summary.reward_components == {"groups_found": 0.25, "valid_guesses": 1.0, "efficiency": 0.2}
    assert summary.reward == pytest.approx((0.25 + 0.25 + 0.25 * 0.2) / 1.5)


def test_turn_limit_ends_the_game(env):
    session = env.start(env.task("fixed-4x4"), seed=0)
    for turn in range(10):
        step = session.step("I am not sure yet.")
        assert step.status.label == "invalid" and step.done == (turn == 9)
    assert session.summary().outcome.reason == "max_turns_reached"
    assert session.summary().info["mistakes"] == 0  # invalid guesses are not mistakes
    assert session.summary().reward == 0.0


def test_a_win_on_the_last_turn_is_a_win():
    env = ConnectionsEnv(puzzles=str(FIXTURES / "puzzles.json"), max_turns=3)
    session = env.start(env.task("fixed-4x4"), seed=0)
    for words in (FISH, BALL, BLUE):
        step = session.step(guess(*words))
    assert step.info["complete_reason"] == "all_categories_found"


def test_max_mistakes_and_turns_are_env_args():
    env = ConnectionsEnv(puzzles=str(FIXTURES / "puzzles.json"), max_mistakes=1, max_turns=2)
    session = env.start(env.task("fixed-4x4"), seed=0)
    assert "1 mistakes" in session.prompt[0].content
    assert session.step(guess("BASS", "TROUT", "NAVY", "TEAL")).info["complete_reason"] == "max_mistakes"
    session = env.start(env.task("fixed-4x4"), seed=0)
    session.step("no guess")
    assert session.step("no guess").info["complete_reason"] == "max_turns_reached"
    with pytest.raises(EnvError, match="max_turns must be a positive integer"):
        ConnectionsEnv(max_turns=0)


def test_prompt_too_long_is_reported_by_the_summary(session):
    session.step(guess(*FISH))
    session.end("prompt_too_long")
    summary = session.summary()
    assert summary.outcome == type(summary.outcome)(done=True, reason="prompt_too_long", success=False)
    assert summary.info["complete_reason"] == "prompt_too_long"
    assert session.state()["end_reason"] == "prompt_too_long"
    with pytest.raises(EnvError):
        session.step(guess(*BLUE))


def test_other_puzzle_sizes(env):
    small = env.start(env.task("fixed-3x3"), seed=0)
    assert "9 words that split into 3 groups of 3" in small.prompt[0].content
    assert small.step(guess("iron", "tin", "lion")).status.label == "one_away"
    assert small.step(guess("iron", "tin", "oak", "lion")).status.reason == "wrong_count"
    assert small.step(guess("IRON", "TIN", "LEAD")).info["items"] == ["Iron", "Tin", "Lead"]
    last = small.step(guess("Lion", "Puma", "Lynx"))
    assert last.info["auto_completed"]["items"] == ["Oak", "Elm", "Ash"]
    assert small.summary().outcome.reason == "all_categories_found"
    five = env.start(env.task(7), seed=0)
    assert "20 words that split into 5 groups of 4" in five.prompt[0].content
    for group in (
        ["MARS", "VENUS", "SATURN", "URANUS"],
        ["ALPHA", "BETA", "GAMMA", "DELTA"],
        ["BASIL", "THYME", "SAGE", "DILL"],
    ):
        assert five.step(guess(*group)).status.label == "correct"
    step = five.step(guess("WALTZ", "SALSA", "TANGO", "POLKA"))
    assert step.done and step.info["auto_completed"]["category_idx"] == 4


# -- invalid guesses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "reason", "mentions"),
    [
        ("I think the fish go together: BASS, TROUT, SALMON, TUNA", "no_guess", "no complete <guess>"),
        ("<guess>[`BASS`, `TROUT`, `SALMON`, `TUNA`]", "no_guess", "no complete <guess>"),
        (guess("BASS", "TROUT", "SALMON"), "wrong_count", "you named 3 words"),
        (guess("BASS", "TROUT", "SALMON", "TUNA", "NAVY"), "wrong_count", "you named 5 words"),
        ("<guess>[BASS, TROUT, SALMON, TUNA]</guess>", "wrong_count", "you named 0 words"),
        (guess("BASS", "TROUT", "SALMON", "WHALE"), "unknown_word", "WHALE not on the board"),
        (guess("BASS", "bass", "SALMON", "TUNA"), "repeated_word", "BASS named more than once"),
        (guess("NAVY", "TEAL", "COBALT", "BASS"), "already_found", "BASS already in a found group"),
    ],
)
def test_each_invalid_guess_has_a_reason_and_costs_no_mistake(session, action, reason, mentions):
    session.step(guess(*FISH))
    step = session.step(action)
    assert (step.status.valid, step.status.reason, step.status.label) == (False, reason, "invalid")
    assert step.info["invalid_reason"] == reason and step.info["status"] == "invalid"
    assert mentions in step.info["result_message"]
    assert mentions in step.observation[0].content
    assert "does not count as a mistake" in step.observation[0].content
    assert session.state()["mistakes"] == 0 and not step.done


def test_last_complete_tag_counts_and_case_does_not_matter(session):
    action = (
        "First idea: <guess>[`NAVY`, `TEAL`, `BASS`, `TUNA`]</guess>\n"
        "No wait, the fish: <GUESS>[` bass `, `Trout`, `salmon`, `tUNA`]</Guess> and then <guess>[`oops`"
    )
    step = session.step(action)
    assert step.status.label == "correct"
    assert step.info["items"] == ["BASS", "TROUT", "SALMON", "TUNA"]


@pytest.mark.parametrize(
    "action",
    [
        "",
        "x" * 100_000,
        "<guess>" * 20_000,
        "</guess>" * 20_000 + "<guess>",
        "`" * 100_001,
        "<guess>[`" + "A" * 100_000 + "`]</guess>",
        "<guess>[`BASS`, `TROUT`, `SALMON`, `TUNA`</guess>",  # no closing bracket: still 4 items
        "<guess>[[`BASS`]], `TROUT`]]]</guess>",
        "<guess>[`鲈鱼`, `🐟`, `Ｂａｓｓ`, `ß`]</guess>",
        "\x00\x01\ufffd<guess>\u202e[`BASS`]</guess>",
        "<guess>[`BASS`, `BASS`, `BASS`, `BASS`]</guess>",
        "<guess>[``, ``, ``, ``]</guess>",
        "<guess></guess><guess>",
        "{\"guess\": [\"BASS\", \"TROUT\", \"SALMON\", \"TUNA\"]}",
    ],
)
def test_bad_messages_are_steps_not_exceptions(env, action):
    session = env.start(env.task("fixed-4x4"), seed=0)
    step = session.step(action)
    if step.status.valid:  # the unclosed bracket is still a complete guess of four words
        assert step.status.label == "correct"
    else:
        assert step.status.label == "invalid" and step.status.reason
    assert step.action == action and not step.done


# -- replay ------------------------------------------------------------------------------------

GAME = [
    "hmm",
    guess("BASS", "TROUT", "SALMON", "NAVY"),
    guess(*FISH),
    guess("FOOT", "EYE", "FLOP", "RIVER"),
    guess(*BLUE),
    guess("BASS", "FOOT", "EYE", "SNOW"),
    guess(*BALL),
]


def test_replaying_actions_rebuilds_the_state(env, session):
    for action in GAME:
        session.step(action)
    replayed = env.start(env.task("fixed-4x4"), seed=0, actions=GAME)
    assert replayed.state() == session.state()
    assert replayed.messages() == session.messages()
    assert replayed.summary() == session.summary()
    with pytest.raises(EnvError, match="ended after"):
        env.start(env.task("fixed-4x4"), seed=0, actions=[*GAME, "more"])


def game_state(state: dict) -> dict:
    """What decides the rest of the game; the turn count restarts in a resumed episode."""
    return {k: state[k] for k in ("found", "mistakes", "remaining_words", "guess_history")}


@pytest.mark.parametrize("kept", [1, 2, 3, 4, 5])
def test_resuming_from_a_truncated_history_reproduces_the_state(env, session, kept):
    snapshots = []
    for action in GAME:
        session.step(action)
        snapshots.append((session.state(), session.messages()))
    history = session.summary().info["guess_history"]
    task = env.task("fixed-4x4")
    resumed_task = Task(
        id=task.id,
        split=task.split,
        data={**task.data, "resumed_from_guess_history": history[:kept], "resumed_from_actions": GAME[:kept]},
    )
    resumed = env.start(resumed_task, seed=0)
    state, messages = snapshots[kept - 1]
    assert game_state(resumed.state()) == game_state(state)
    assert resumed.prompt == messages  # original prompt + kept turns, ending with the feedback
    assert resumed.prompt[-1].role == "user"
    for action in GAME[kept:]:
        resumed.step(action)
    assert game_state(resumed.state()) == game_state(session.state())
    summary = resumed.summary()
    assert summary.info["guess_history"] == history  # the old guesses and the new ones
    assert summary.info["resumed_from_guess_history"] == history[:kept]
    assert summary.outcome == session.summary().outcome
    assert resumed.messages() == session.messages()


def test_resuming_the_seed_way_by_status(env):
    """Records from other tools: lowercase items, no messages; invalid ones change nothing."""
    history = [
        {"items": ["bass", "trout", "salmon", "tuna"], "status": "correct", "category_idx": 0},
        {"items": ["foot", "eye", "flop", "river"], "status": "incorrect", "category_idx": None},
        {"items": ["x"], "status": "invalid", "category_idx": None},
        {"items": ["navy", "teal", "cobalt", "snow"], "status": "one_away", "category_idx": 2.0},
    ]
    task = env.task("fixed-4x4")
    session = env.start(Task(id=task.id, data={**task.data, "resumed_from_guess_history": history}), seed=0)
    state = session.state()
    assert state["found"] == [0] and state["mistakes"] == 2 and state["turns"] == 0
    assert [m.role for m in session.prompt] == ["system", "user"] + ["assistant", "user"] * 4
    assert session.prompt[2].content == "<guess>[`bass`, `trout`, `salmon`, `tuna`]</guess>"
    assert session.prompt[3].content.startswith("Correct! FISH: BASS, TROUT, SALMON, TUNA\n\nMistakes: 0/4")
    assert session.step(guess(*BLUE)).status.label == "correct"
    assert session.step(guess("SNOW", "FOOT", "EYE", "BASKET")).info["complete_reason"] == "all_categories_found"
    assert [r["status"] for r in session.summary().info["guess_history"][4:]] == ["correct", "correct", "auto"]


@pytest.mark.parametrize(
    ("history", "actions", "message"),
    [
        (
            [{"status": "correct", "category_idx": 9}],
            None,
            "resumed_from_guess_history/0/category_idx: expected a group index 0..3",
        ),
        ([{"status": "won"}], None, "resumed_from_guess_history/0/status: expected one of"),
        (
            [{"status": "correct", "category_idx": 1}, {"status": "correct", "category_idx": 1}],
            None,
            "group 1 is already found",
        ),
        ([{"status": "incorrect"}] * 4, None, "the game is already over"),
        ([{"status": "incorrect"}] * 5, None, "resumed_from_guess_history/4: the game already ended"),
        ("not a list", None, "expected a list of guess records"),
        ([{"status": "incorrect"}], ["a", "b"], "resumed_from_actions: expected 1 strings"),
    ],
)
def test_bad_resumed_histories_are_named_errors(env, history, actions, message):
    task = env.task("fixed-4x4")
    data = {**task.data, "resumed_from_guess_history": history}
    if actions is not None:
        data["resumed_from_actions"] = actions
    with pytest.raises(EnvError, match="task 'fixed-4x4'") as err:
        env.start(Task(id=task.id, data=data), seed=0)
    assert message in str(err.value)


def test_a_task_with_a_broken_puzzle_is_a_named_error(env):
    task = Task(
        id="hand-made", data={"categories": [{"group": "A", "members": ["X", "Y"]}, {"group": "B", "members": ["Z"]}]}
    )
    with pytest.raises(
        EnvError, match=r"task 'hand-made': /data/categories/1/members: expected a list of at least 2 words"
    ):
        env.start(task, seed=0)
