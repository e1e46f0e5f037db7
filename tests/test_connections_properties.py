"""Property tests: any action sequence replays to the identical state and observations, and
resuming from any prefix of the guess history reproduces the game state."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.episode import Task
from harness_connections import ConnectionsEnv

FIXTURES = Path(__file__).parent / "fixtures" / "connections"
ENV = ConnectionsEnv(puzzles=str(FIXTURES / "puzzles.json"))
TASKS = [ENV.task("fixed-4x4"), ENV.task("fixed-3x3"), ENV.task(7)]


def words_of(task: Task) -> list[str]:
    return [w for c in task.data["categories"] for w in c["members"]]


@st.composite
def actions(draw, task: Task) -> str:
    """A guess made of board words (any case, repeats possible), strangers, or no guess at all."""
    kind = draw(st.sampled_from(["group", "board", "board", "text"]))
    if kind == "text":
        return draw(st.text(max_size=40))
    if kind == "group":  # a real group, sometimes with one word swapped: correct and one_away
        group = list(draw(st.sampled_from(task.data["categories"]))["members"])
        if draw(st.booleans()):
            group[draw(st.integers(0, len(group) - 1))] = draw(st.sampled_from(words_of(task)))
        items = group
    else:
        pool = st.one_of(st.sampled_from(words_of(task)), st.text(alphabet="ABCXYZ`<> ", max_size=6))
        items = draw(st.lists(pool, min_size=0, max_size=6))
    items = [w.lower() if draw(st.booleans()) else w for w in items]
    return draw(st.text(max_size=20)) + "<guess>[" + ", ".join(f"`{w}`" for w in items) + "]</guess>"


@st.composite
def games(draw):
    task = draw(st.sampled_from(TASKS))
    return task, draw(st.lists(actions(task), min_size=1, max_size=12)), draw(st.integers(0, 2**32))


def play(task: Task, moves: list[str], seed: int):
    session = ENV.start(task, seed)
    played, snapshots = [], []
    for action in moves:
        if session.done:
            break
        session.step(action)
        played.append(action)
        snapshots.append((session.state(), session.messages()))
    return session, played, snapshots


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(games())
def test_replaying_recorded_actions_gives_identical_state_and_observations(game):
    task, moves, seed = game
    session, played, _ = play(task, moves, seed)
    replayed = ENV.start(task, seed, actions=played)
    assert replayed.state() == session.state()
    assert replayed.messages() == session.messages()
    assert [s.model_dump() for s in replayed.steps] == [s.model_dump() for s in session.steps]
    assert replayed.summary() == session.summary()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(games(), st.data())
def test_resuming_from_any_history_prefix_reproduces_the_game(game, data):
    task, moves, seed = game
    session, played, snapshots = play(task, moves, seed)
    history = session.summary().info["guess_history"]
    # Cut after a guess record whose game was still running (a finished game cannot resume).
    cuts = [k for k in range(1, len(played) + 1) if not snapshots[k - 1][0]["done"]]
    if not cuts:
        return
    kept_turns = data.draw(st.sampled_from(cuts))
    kept = [r for r in history if r["status"] != "auto"][:kept_turns]
    resumed_task = Task(
        id=task.id,
        data={**task.data, "resumed_from_guess_history": kept, "resumed_from_actions": played[:kept_turns]},
    )
    resumed = ENV.start(resumed_task, seed)
    state, messages = snapshots[kept_turns - 1]
    for key in ("found", "mistakes", "remaining_words", "guess_history"):
        assert resumed.state()[key] == state[key]
    assert resumed.prompt == messages
