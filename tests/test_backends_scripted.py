"""The scripted backend: responses by assistant turn, or replayed from recorded episodes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.backends.base import BackendError, Request
from harness.backends.scripted import ScriptedBackend
from harness.episode import Message, Sampling, load_episodes

SAMPLING = Sampling(n=1, temperature=0.0, max_tokens=8)


def conversation(*contents: str) -> list[Message]:
    roles = ["user", "assistant"]
    return [Message(role=roles[i % 2], content=c) for i, c in enumerate(contents)]


def test_the_kth_assistant_turn_gets_the_kth_response():
    backend = ScriptedBackend(responses=["first", "second"])
    out = asyncio.run(backend.generate([
        Request(conversation("q"), SAMPLING),
        Request(conversation("q", "first", "feedback"), SAMPLING),
    ]))
    assert [o[0].text for o in out] == ["first", "second"]
    with pytest.raises(BackendError, match="no response for assistant turn 3"):
        asyncio.run(backend.generate([Request(conversation("q", "a", "b", "c", "d"), SAMPLING)]))


def test_replays_recorded_episodes_by_prompt(tmp_path):
    source = "tests/fixtures/episodes/connections.json"
    import json

    record = json.loads(Path(source).read_text(encoding="utf-8"))
    episodes = tmp_path / "episodes.jsonl"
    episodes.write_text(json.dumps(record) + "\n", encoding="utf-8")
    [episode] = list(load_episodes(episodes))
    backend = ScriptedBackend(episodes=str(episodes))
    messages = list(episode.prompt)
    for step in episode.steps:
        [[completion]] = asyncio.run(backend.generate([Request(messages, SAMPLING)]))
        assert completion.text == step.action
        messages += [Message(role="assistant", content=step.action), *step.observation]
    with pytest.raises(BackendError, match="no recorded episode has this prompt"):
        asyncio.run(backend.generate([Request(conversation("unknown"), SAMPLING)]))


def test_needs_exactly_one_source():
    with pytest.raises(ValueError, match="exactly one"):
        ScriptedBackend()
