"""`to_trace`: episode records → seed 002 traces `{question, trace}`, pinned by a golden file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.episode import EpisodeError
from harness_search import SearchEnvironment, to_trace
from search_episodes import episode_from_session

FIXTURES = Path(__file__).parent / "fixtures"

GOLDEN_ACTIONS = [
    "<think>\nWho built the Grey Candle?\n</think>\n<search>Grey Candle lighthouse</search>",
    "I will answer soon",  # invalid: left out of the trace
    "<think>\nAmbrose Quillfeather built it. Where did he study?\n</think>\n"
    "<search>Ambrose Quillfeather studied</search>",
    "<think>\nHe studied at the Brindlemoor Academy.\n</think>\n<answer>the Brindlemoor Academy</answer>",
]


def played(actions: list[str], task_id: str = "q-031", **args):
    env = SearchEnvironment(top_k=2, **args)
    session = env.start(env.task(task_id), seed=0)
    for action in actions:
        session.step(action)
    return session


def render_seed_step(step: dict) -> str:
    """Seed 002's step rendering, written out from the spec (independently of the plugin)."""
    kind = step["type"]
    if kind == "reasoning":
        return f"<think>\n{step['content']}\n</think>"
    if kind == "search":
        return f"<search>\n{step['query']}\n</search>"
    if kind == "search_result":
        docs = [
            f"Document {i}:\nTitle: {d['title']}\nContent: {d['content']}" for i, d in enumerate(step["documents"], 1)
        ]
        return "<information>\n" + "\n\n".join(docs) + "\n</information>"
    if kind == "CorrectAnswer":
        return f"<answer>\n{step['content']}\n</answer>"
    return f"<{kind}>\n{step['content']}\n</{kind}>"


def test_golden_trace():
    session = played(GOLDEN_ACTIONS)
    episode = episode_from_session(session)
    golden = json.loads((FIXTURES / "search" / "trace_golden.json").read_text(encoding="utf-8"))
    assert to_trace(episode) == golden
    # the JSON record converts the same as the model object
    assert to_trace(json.loads(episode.to_json_line())) == golden


def test_search_results_render_as_the_observations_the_model_saw():
    session = played(GOLDEN_ACTIONS)
    trace = to_trace(episode_from_session(session))["trace"]
    results = [render_seed_step(s) for s in trace if s["type"] == "search_result"]
    seen = [s.observation[0].content for s in session.steps if s.status.label == "search"]
    assert results == seen and len(results) == 2


def test_wrong_answer_is_a_plain_answer_step():
    session = played(["<search>Grey Candle</search>", "<think>\nGuessing.\n</think><answer>Pellwick</answer>"])
    trace = to_trace(episode_from_session(session))["trace"]
    assert [s["type"] for s in trace] == ["search", "search_result", "reasoning", "answer"]
    assert trace[-1] == {"type": "answer", "content": "Pellwick"}
    assert render_seed_step(trace[-1]) == "<answer>\nPellwick\n</answer>"  # renders like CorrectAnswer


def test_unanswered_episode_ends_with_the_unrun_search():
    session = played(["<search>Grey Candle</search>", "<search>Quillfeather</search>"], max_turns=2)
    trace = to_trace(episode_from_session(session))["trace"]
    assert [s["type"] for s in trace] == ["search", "search_result", "search"]
    assert trace[-1] == {"type": "search", "query": "Quillfeather"}


def test_episode_from_another_search_environment():
    """The fixture episode (a vLLM run over another retriever) follows the same step.info mapping."""
    record = json.loads((FIXTURES / "episodes" / "search.json").read_text(encoding="utf-8"))
    trace = to_trace(record)
    assert trace["question"] == "In which year did the architect of the Sydney Opera House receive the Pritzker Prize?"
    assert [s["type"] for s in trace["trace"]] == [
        "reasoning", "search", "search_result", "reasoning", "search", "search_result", "reasoning", "CorrectAnswer",
    ]
    assert trace["trace"][1] == {"type": "search", "query": "Sydney Opera House architect"}
    assert trace["trace"][2]["documents"][1] == {
        "title": "Jørn Utzon",
        "content": "Jørn Oberg Utzon (1918–2008) was a Danish architect, "
        "best known for designing the Sydney Opera House.",
    }
    assert trace["trace"][-1] == {"type": "CorrectAnswer", "content": "2003"}
    for step, result in zip(record["steps"][:2], [trace["trace"][2], trace["trace"][5]]):
        assert render_seed_step(result) == step["observation"][0]["content"]


def test_record_without_a_question():
    record = json.loads(episode_from_session(played(GOLDEN_ACTIONS)).to_json_line())
    del record["task"]["data"]["question"]
    with pytest.raises(EpisodeError, match="/task/data/question"):
        to_trace(record)
    with pytest.raises(EpisodeError, match="/steps: required field is missing"):
        to_trace({k: v for k, v in record.items() if k != "steps"})
