"""Replay and determinism of the search environment: `env.start(task, seed, actions)` rebuilds the
exact state, for scripted and random action sequences, and sessions share one index safely."""

from __future__ import annotations

import asyncio
import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.episode import Message
from harness_search import SearchEnvironment

ENV = SearchEnvironment(max_turns=5, max_searches=2, top_k=2)
TASKS = [t.id for t in ENV.tasks()]

SCRIPT = [
    "<think>Where is it held?</think>\n<search>Glass Lantern Festival</search>",
    "no tag here",
    "<think>Orrendale.</think><search>Orrendale founded</search>",
    "<search>one search too many</search>",
    "<answer>Maelis Varrow</answer>",
]


def observations(session) -> list[list[Message]]:
    return [step.observation for step in session.steps]


def play(env: SearchEnvironment, task_id: str, seed: int, actions: list[str]):
    """Step until the actions run out or the episode ends; return the session and what was taken."""
    session = env.start(env.task(task_id), seed)
    taken = []
    for action in actions:
        if session.done:
            break
        session.step(action)
        taken.append(action)
    return session, taken


def test_replay_of_a_full_episode_is_identical():
    played, taken = play(ENV, "q-030", 7, SCRIPT)
    assert played.done and len(taken) == 5
    replayed = ENV.start(ENV.task("q-030"), 7, actions=taken)
    assert replayed.state() == played.state()
    assert observations(replayed) == observations(played)
    assert [s.status for s in replayed.steps] == [s.status for s in played.steps]
    assert replayed.summary() == played.summary()


def test_replay_in_a_new_environment_instance_is_identical():
    played, taken = play(ENV, "q-030", 7, SCRIPT)
    fresh = SearchEnvironment(**ENV.args)
    replayed = fresh.start(fresh.task("q-030"), 7, actions=taken)
    assert replayed.state() == played.state()
    assert observations(replayed) == observations(played)


def test_replay_from_a_truncated_history_continues_like_the_original():
    played, taken = play(ENV, "q-030", 7, SCRIPT)
    for cut in range(len(taken)):
        resumed = ENV.start(ENV.task("q-030"), 7, actions=taken[:cut])
        for action in taken[cut:]:
            resumed.step(action)
        assert resumed.state() == played.state()
        assert observations(resumed) == observations(played)


# Random action sequences: valid searches over corpus words, answers (gold or not), and the
# bad messages the environment must survive, with random reasoning around them.
WORDS = ["Orrendale", "Varrow", "lighthouse", "Sallow", "1412", "ringball", "comet", "the", "東京", "zzyzx"]
query = st.lists(st.sampled_from(WORDS), min_size=0, max_size=4).map(" ".join)
junk = st.text(max_size=60)
action = st.one_of(
    st.builds(lambda t, q: f"<think>{t}</think>\n<search>{q}</search>", junk, query),
    st.builds(lambda q: f"<search>{q}</search>", query),
    st.builds(lambda a: f"<answer>{a}</answer>", st.sampled_from(["Maelis Varrow", "1412", "no idea", ""])),
    st.builds(lambda q, a: f"<search>{q}</search><answer>{a}</answer>", query, junk),
    st.builds(lambda t: f"<think>{t}", junk),
    junk,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    task_id=st.sampled_from(TASKS),
    seed=st.integers(min_value=0, max_value=2**63 - 1),
    actions=st.lists(action, max_size=7),
)
def test_random_action_sequences_replay_identically(task_id, seed, actions):
    played, taken = play(ENV, task_id, seed, actions)
    for step in played.steps:  # never an exception, and an invalid step always says why
        assert step.status.valid or (step.status.reason and (step.observation or step.done))
    for cut in (0, len(taken) // 2, len(taken)):
        resumed = ENV.start(ENV.task(task_id), seed, actions=taken[:cut])
        for a in taken[cut:]:
            resumed.step(a)
        assert resumed.state() == played.state()
        assert observations(resumed) == observations(played)
        assert resumed.summary() == played.summary()


def test_sessions_in_threads_share_one_index_and_agree():
    env = SearchEnvironment()  # a fresh instance: the index is built by the racing threads
    barrier = threading.Barrier(8)
    results: list[tuple[object, dict]] = [None] * 8  # type: ignore[list-item]

    def worker(i: int) -> None:
        barrier.wait()
        index = env.index()
        session, _ = play(env, "q-030", 0, SCRIPT)
        results[i] = (index, session.state())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(index is results[0][0] for index, _ in results)
    assert all(state == results[0][1] for _, state in results)


def test_astep_runs_many_sessions_concurrently():
    tasks = TASKS[:20]

    async def run_one(task_id: str) -> dict:
        session = ENV.start(ENV.task(task_id), 0)
        await session.astep("<search>Orrendale harbour town</search>")
        await session.astep("<answer>1412</answer>")
        return session.state()

    async def run_all() -> list[dict]:
        return await asyncio.gather(*(run_one(t) for t in tasks))

    states = asyncio.run(run_all())
    expected = [
        play(ENV, t, 0, ["<search>Orrendale harbour town</search>", "<answer>1412</answer>"])[0].state() for t in tasks
    ]
    assert states == expected
