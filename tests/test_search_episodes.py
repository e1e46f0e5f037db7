"""The search environment played by scripted policies over the shipped corpus: full episodes, every
way an episode ends, and every kind of bad assistant message."""

from __future__ import annotations

import pytest

from harness.environment import EnvError
from harness_search import SearchEnvironment
from harness_search.actions import MAX_QUERY_CHARS
from harness_search.rendering import render_information

FESTIVAL = "q-030"  # multi-hop: festival -> Orrendale -> Maelis Varrow


@pytest.fixture(scope="module")
def env() -> SearchEnvironment:
    return SearchEnvironment()


def search(query: str, thought: str = "I should look this up.") -> str:
    return f"<think>\n{thought}\n</think>\n<search>{query}</search>"


def answer(text: str, thought: str = "I know it now.") -> str:
    return f"<think>\n{thought}\n</think>\n<answer>{text}</answer>"


def test_prompt_states_the_format_and_the_question(env):
    session = env.start(env.task(FESTIVAL), seed=0)
    [message] = session.prompt
    assert message.role == "user"
    assert message.content.endswith("Question: Who founded the town where the Glass Lantern Festival is held?")
    for tag in ("<think>", "<search>", "<answer>", "<information>"):
        assert tag in message.content
    assert "up to 3 documents" in message.content and "5 times" in message.content


def test_search_then_answer_multi_hop(env):
    session = env.start(env.task(FESTIVAL), seed=0)

    first = session.step(search("Glass Lantern Festival", "Where is the festival held?"))
    assert first.status.valid and first.status.label == "search" and not first.done
    assert first.info["reasoning"] == "Where is the festival held?"
    assert first.info["search"] == {"query": "Glass Lantern Festival"}
    assert first.info["documents"][0]["title"] == "Glass Lantern Festival"
    [observation] = first.observation
    assert observation.role == "user"
    assert observation.content == render_information(first.info["documents"])
    assert observation.content.startswith(
        "<information>\nDocument 1:\nTitle: Glass Lantern Festival\nContent: The Glass Lantern Festival is held"
    )
    assert observation.content.endswith("\n</information>")
    assert "\n\nDocument 2:\nTitle: " in observation.content

    second = session.step(search("Orrendale founded", "It is in Orrendale. Who founded Orrendale?"))
    assert any("Maelis Varrow" in d["content"] for d in second.info["documents"])

    last = session.step(answer("Maelis Varrow"))
    assert last.done and last.status.valid and last.status.label == "answer"
    assert last.observation == []
    assert last.reward == 1.0
    assert last.info == {"reasoning": "I know it now.", "answer": "Maelis Varrow", "complete_reason": "answered"}

    summary = session.summary()
    assert summary.reward == 1.0
    assert summary.reward_components == {"exact_match": 1.0, "f1": 1.0}
    assert summary.outcome.done and summary.outcome.reason == "answered" and summary.outcome.success is True
    assert summary.info == {"answer": "Maelis Varrow", "searches": 2, "invalid_steps": 0}
    assert session.state()["queries"] == ["Glass Lantern Festival", "Orrendale founded"]


def test_answer_is_normalised_before_matching(env):
    session = env.start(env.task(FESTIVAL), seed=0)
    session.step(answer("  maelis VARROW. "))
    assert session.summary().reward_components == {"exact_match": 1.0, "f1": 1.0}


def test_wrong_answer_scores_zero_exact_match_and_partial_f1(env):
    session = env.start(env.task(FESTIVAL), seed=0)
    last = session.step(answer("Queen Maelis of the Herring League"))
    assert last.done and last.status.valid and last.reward == 0.0
    summary = session.summary()
    assert summary.reward == 0.0
    assert summary.reward_components["exact_match"] == 0.0
    # best gold "Maelis Varrow": 1 common token; precision 1/5 ("the" is dropped: queen maelis of
    # herring league), recall 1/2
    assert summary.reward_components["f1"] == pytest.approx(2 * 0.2 * 0.5 / 0.7)
    assert summary.outcome.reason == "answered" and summary.outcome.success is False


def test_reward_can_be_f1():
    env = SearchEnvironment(reward="f1")
    session = env.start(env.task(FESTIVAL), seed=0)
    last = session.step(answer("Maelis"))
    summary = session.summary()
    assert last.reward == summary.reward == summary.reward_components["f1"] == pytest.approx(2 / 3)
    assert summary.outcome.success is False  # success is exact match whatever the reward


def test_max_turns_ends_the_episode_unanswered():
    env = SearchEnvironment(max_turns=3)
    session = env.start(env.task(FESTIVAL), seed=0)
    assert not session.step(search("Glass Lantern Festival")).done
    assert not session.step("no tags at all").done
    last = session.step(search("Orrendale founded"))
    assert last.done and last.status.valid and last.status.label == "search"
    assert last.status.reason == "max_turns_reached"
    # the episode is over, so the last search is recorded but not run and nothing answers it
    assert last.info["search"] == {"query": "Orrendale founded"} and "documents" not in last.info
    assert last.observation == []
    assert last.reward == 0.0 and last.info["complete_reason"] == "max_turns_reached"
    summary = session.summary()
    assert summary.reward == 0.0 and summary.reward_components == {"exact_match": 0.0, "f1": 0.0}
    assert summary.outcome.reason == "max_turns_reached" and summary.outcome.success is False
    assert summary.info == {"answer": None, "searches": 1, "invalid_steps": 1}
    with pytest.raises(EnvError, match="already ended"):
        session.step(answer("Maelis Varrow"))


def test_answer_on_the_last_turn_counts():
    env = SearchEnvironment(max_turns=1)
    session = env.start(env.task(FESTIVAL), seed=0)
    last = session.step(answer("Maelis Varrow"))
    assert last.done and last.reward == 1.0 and session.summary().outcome.reason == "answered"


def test_search_beyond_max_searches_is_invalid_and_the_episode_goes_on():
    env = SearchEnvironment(max_searches=1)
    session = env.start(env.task(FESTIVAL), seed=0)
    assert session.step(search("Glass Lantern Festival")).status.valid
    refused = session.step(search("Orrendale founded"))
    assert not refused.status.valid and refused.status.reason == "max_searches_reached"
    assert not refused.done and "documents" not in refused.info
    assert "answer now" in refused.observation[0].content
    assert session.step(answer("Maelis Varrow")).reward == 1.0
    assert session.summary().info == {"answer": "Maelis Varrow", "searches": 1, "invalid_steps": 1}


def test_query_matching_nothing_returns_empty_information(env):
    session = env.start(env.task(FESTIVAL), seed=0)
    step = session.step(search("zzyzx qwfp"))
    assert step.status.valid and step.status.reason == "no_documents_matched"
    assert step.info["documents"] == []
    assert step.observation[0].content == "<information>\n\n</information>"


def test_fewer_than_top_k_documents_when_few_match():
    env = SearchEnvironment(top_k=10)
    session = env.start(env.task(FESTIVAL), seed=0)
    step = session.step(search("Wendeline"))  # one document names her... and one more mentions her
    titles = [d["title"] for d in step.info["documents"]]
    assert titles == ["Wendeline Aske", "Hethermark Gallery"]


HUNDRED_KB = "lorem ipsum dolor " * 5700


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("The answer is Maelis Varrow.", "no_action_tag"),
        ("", "no_action_tag"),
        ("<search>unclosed query", "no_action_tag"),
        ("<SEARCH>upper case</SEARCH>", "no_action_tag"),
        ("<think>I could <search>Orrendale</search> here</think> hmm", "no_action_tag"),
        ("\x00\x01}{][<<>></search><answer", "no_action_tag"),
        (HUNDRED_KB, "no_action_tag"),
        ("東京の天気はどうですか 🌧️ <ánswer>x</ánswer>", "no_action_tag"),
        ("<search>Orrendale</search><answer>Maelis Varrow</answer>", "search_and_answer"),
        ("<search>Orrendale</search> and <search>Varrow</search>", "multiple_search_tags"),
        ("<answer>Maelis</answer><answer>Varrow</answer>", "multiple_answer_tags"),
        ("<think>hm</think><search>   \n </search>", "empty_query"),
        ("<answer></answer>", "empty_answer"),
        (f"<search>{HUNDRED_KB}</search>", "query_too_long"),
        (f"<search>{'x' * (MAX_QUERY_CHARS + 1)}</search>", "query_too_long"),
    ],
    ids=lambda v: v if len(v) < 40 else v[:37] + "...",
)
def test_bad_messages_are_invalid_steps_with_feedback(env, message, reason):
    session = env.start(env.task(FESTIVAL), seed=0)
    step = session.step(message)
    assert not step.status.valid
    assert step.status.reason == reason and step.status.label == "invalid"
    assert not step.done and step.reward is None
    [feedback] = step.observation
    assert feedback.role == "user" and feedback.content.startswith("Invalid step: ")
    assert "<search>query</search>" in feedback.content  # the format is restated
    assert session.state()["invalid_steps"] == 1
    # the episode goes on normally after an invalid step
    assert session.step(answer("Maelis Varrow")).reward == 1.0


def test_unicode_query_is_a_valid_search(env):
    session = env.start(env.task(FESTIVAL), seed=0)
    step = session.step("<search>Jørn Ützon 東京 — Orrendale‽</search>")
    assert step.status.valid
    # only "orrendale" is an indexed term: the other words match nothing and break nothing
    documents = step.info["documents"]
    assert len(documents) == 3 and all("Orrendale" in d["title"] + d["content"] for d in documents)


def test_reasoning_is_optional_and_text_around_tags_ignored(env):
    session = env.start(env.task(FESTIVAL), seed=0)
    step = session.step("Let me check.\n<search>Glass Lantern Festival</search>\nthanks")
    assert step.status.valid and "reasoning" not in step.info
    assert step.info["search"] == {"query": "Glass Lantern Festival"}


def test_end_from_outside_scores_zero(env):
    session = env.start(env.task(FESTIVAL), seed=0)
    session.step(search("Glass Lantern Festival"))
    assert session.summary().reward is None and not session.summary().outcome.done
    session.end("prompt_too_long")
    summary = session.summary()
    assert summary.reward == 0.0
    assert summary.outcome.done and summary.outcome.reason == "prompt_too_long" and summary.outcome.success is False


@pytest.mark.parametrize("task_id", [f"q-{i:03d}" for i in range(1, 54)])
def test_every_shipped_question_is_answerable_through_search(env, task_id):
    """An oracle policy: search the title of each supporting document in hop order, check that
    search finds it and that the gold answer is in what was read, then answer."""
    task = env.task(task_id)
    session = env.start(task, seed=0)
    titles = {d.id: d.title for d in env.documents}
    read = []
    for doc_id in task.data["supporting"]:
        step = session.step(search(titles[doc_id]))
        assert doc_id in [d["id"] for d in step.info["documents"]]
        read.append(step.observation[0].content)
    assert any(task.data["answers"][0].lower() in text.lower() for text in read)
    last = session.step(answer(task.data["answers"][0]))
    assert last.reward == 1.0 and session.summary().outcome.success
