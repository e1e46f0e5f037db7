"""The `scripted` backend: replays given responses instead of running a model.

For tests, demos and offline re-scoring (running an environment again on recorded actions):

    ScriptedBackend(responses=["<guess>[`A`, `B`, `C`, `D`]</guess>", "..."])
    ScriptedBackend(episodes="results.jsonl")

With `responses`, the k-th assistant turn of every conversation gets `responses[k]` (the
conversation's assistant messages so far are counted, so concurrent episodes never disturb each
other). With `episodes`, each recorded episode's actions are replayed to the conversation that
starts with that episode's prompt. A conversation with no response left fails with a
`BackendError`, which the engine records on its episode. Token counts are left empty.

`adapter` names a LoRA adapter the answers stand for (RAFT's later cycles sample "with" the
last cycle's adapter): recorded in the model name as the transformers backend records it; the
answers stay the scripted ones.

`delay_seconds` makes every answer come that many seconds after it is asked for (concurrent
conversations wait side by side, as with a server): a stand-in for a model's latency in tests
and benchmarks of scale-out. It never changes what is answered, so it is not a content argument.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence

from harness.backends.base import Backend, BackendError, Completion, Request
from harness.episode import Message, load_episodes


def _prompt_key(messages: Sequence[Message]) -> str:
    return hashlib.sha256(
        json.dumps([[m.role, m.content] for m in messages], ensure_ascii=False).encode()
    ).hexdigest()


class ScriptedBackend(Backend):
    name = "scripted"
    content_args = ("model", "adapter", "responses", "episodes")

    def __init__(
        self,
        model: str = "scripted",
        *,
        responses: Sequence[str] | None = None,
        episodes: str | None = None,
        adapter: str | None = None,
        delay_seconds: float = 0.0,
    ) -> None:
        if (responses is None) == (episodes is None):
            raise ValueError("give exactly one of responses= or episodes=")
        if not delay_seconds >= 0:  # also refuses NaN
            raise ValueError(f"delay_seconds must be >= 0, not {delay_seconds!r}")
        self.delay_seconds = float(delay_seconds)
        self._model = model if adapter is None else f"{model}+{adapter}"
        self.responses = list(responses) if responses is not None else None
        self.by_prompt: dict[str, list[str]] = {}
        if episodes is not None:
            for episode in load_episodes(episodes):
                self.by_prompt[_prompt_key(episode.prompt)] = [s.action for s in episode.steps]

    @property
    def model_name(self) -> str:
        return self._model

    async def generate(self, requests: Sequence[Request]) -> list[list[Completion]]:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        return [[self._respond(r.messages)] * (r.sampling.n or 1) for r in requests]

    def _respond(self, messages: Sequence[Message]) -> Completion:
        turn = sum(1 for m in messages if m.role == "assistant")
        if self.responses is not None:
            script = self.responses
        else:
            first_action = next(
                (i for i, m in enumerate(messages) if m.role == "assistant"), len(messages)
            )
            found = self.by_prompt.get(_prompt_key(messages[:first_action]))
            if found is None:
                raise BackendError("scripted: no recorded episode has this prompt")
            script = found
        if turn >= len(script):
            raise BackendError(f"scripted: no response for assistant turn {turn + 1} (have {len(script)})")
        return Completion(text=script[turn], finish_reason="stop")
