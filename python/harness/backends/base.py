"""The backend interface: many conversations plus explicit sampling in, completions out.

Every backend (transformers, vllm, openai, scripted, or a plugin's) implements `generate`:

    completions = await backend.generate([Request(messages, sampling), ...])
    completions[i]          # list of `sampling.n` Completion objects for request i

Sampling is `harness.episode.Sampling`, the same object the episode record stores: n,
temperature, top_p, top_k, max_tokens and a per-request seed are always given explicitly, so a
record says exactly how it was sampled. Token ids and logprobs are filled in when the backend
has them, so RL exports never re-tokenise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness.episode import Message, Sampling


@dataclass(frozen=True)
class Request:
    messages: Sequence[Message]
    sampling: Sampling


@dataclass
class Completion:
    text: str
    finish_reason: str | None = None  # "stop", "length", ...
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_ids: list[int] | None = None
    completion_ids: list[int] | None = None
    completion_logprobs: list[float] | None = None
    info: dict[str, Any] = field(default_factory=dict)


class BackendError(RuntimeError):
    """A request failed after the backend's retries; the engine records it on the episode."""


class Backend(ABC):
    """Subclasses set `name` and take their configuration as keyword arguments."""

    name: ClassVar[str]
    content_args: ClassVar[tuple[str, ...] | None] = None
    """The constructor arguments that decide what the episodes contain (the model, its weights,
    its outputs): a rerun into a directory must give them the same values to resume it. The
    others (a server's address, concurrency, timeouts, batch sizes) may change between runs.
    None, the default, counts every argument given (but `api_key`): the safe choice for a
    backend that does not say."""

    @property
    @abstractmethod
    def model_name(self) -> str:
        """What the episode record's `model.name` holds."""

    @abstractmethod
    async def generate(self, requests: Sequence[Request]) -> list[list[Completion]]:
        """One list of `request.sampling.n` completions per request, in request order."""

    async def aclose(self) -> None:  # noqa: B027 - optional: a backend may hold nothing to release
        """Release the model, the HTTP client or the server. Idempotent."""
