"""The `openai` backend: any OpenAI-compatible chat server (vLLM serve, llama.cpp, DeepSeek, OpenAI).

    backend = OpenAIBackend(model="deepseek-chat", base_url="https://api.deepseek.com/v1")
    backend = OpenAIBackend(model="local", base_url="http://127.0.0.1:8000/v1", concurrency=64)

`base_url` and `api_key` come from the arguments, else from `OPENAI_BASE_URL` and
`OPENAI_API_KEY` (a local server needs no key; `"EMPTY"` is sent then). At most `concurrency`
requests are in flight. Each attempt must be answered in full within `timeout` seconds, counted
from when it is sent (the HTTP client's own timeouts are per read: a server trickling its answer
would hold a request for ever). Rate limits (429), server errors (5xx), timeouts, connection
errors and malformed responses (wrong JSON, missing choices, `usage` counts that are not
non-negative integers) are retried with exponential
backoff (`backoff` × 2^attempt, capped at `max_backoff`, or the server's `Retry-After`) up to
`max_retries` times; then, and at once on any other error (400, 401, 404...), the request fails
with a `BackendError` that the engine records on the episode.

`top_k` is not part of the OpenAI API: it is sent in the request body only when set (vLLM and
llama.cpp honour it). With `logprobs=True` the chosen tokens' log-probabilities are requested and
stored; servers do not return token ids, so `completion_ids` stays empty.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
from collections.abc import Sequence
from typing import Any

from harness.backends.base import Backend, BackendError, Completion, Request
from harness.backends.errors import PromptTooLong


@functools.cache
def retryable_errors() -> tuple[type[Exception], ...]:
    """What is worth another attempt. `openai` is imported here and in the backend, not at the
    top: loading the plugin registry imports this module, and `openai` takes 0.3 s to import."""
    import openai

    return (
        openai.RateLimitError,
        openai.InternalServerError,
        openai.APIConnectionError,  # includes APITimeoutError
        openai.APIResponseValidationError,
        json.JSONDecodeError,  # a 200 whose body is cut off or not JSON
        MalformedResponse,
        TimeoutError,  # the whole attempt took longer than `timeout`
    )


class MalformedResponse(BackendError):
    """The server answered 200 with something that is not a usable chat completion."""


class OpenAIBackend(Backend):
    name = "openai"
    content_args = ("model", "logprobs", "extra_body")

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        logprobs: bool = False,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self._model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.logprobs = logprobs
        self.extra_body = dict(extra_body or {})
        import openai

        # the client's own retries are off: ours count every kind of failure the same way
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            timeout=timeout,
            max_retries=0,
        )
        self._slots: asyncio.Semaphore | None = None
        self.retries = 0  # retried attempts so far, for progress reports and tests

    @property
    def model_name(self) -> str:
        return self._model

    async def generate(self, requests: Sequence[Request]) -> list[list[Completion]]:
        return list(await asyncio.gather(*(self._complete(r) for r in requests)))

    async def aclose(self) -> None:
        await self._client.close()

    def request_body(self, request: Request) -> dict[str, Any]:
        """The keyword arguments of `chat.completions.create` for one request."""
        s = request.sampling
        if s.temperature is None or s.max_tokens is None:
            raise BackendError("sampling.temperature and sampling.max_tokens must be given explicitly")
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "n": s.n or 1,
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
        }
        if s.top_p is not None:
            body["top_p"] = s.top_p
        if s.stop:
            body["stop"] = list(s.stop)
        if s.seed is not None:
            body["seed"] = s.seed % 2**63
        if self.logprobs:
            # top_logprobs too: some servers (llama.cpp) return nothing without it
            body["logprobs"], body["top_logprobs"] = True, 1
        extra = {**self.extra_body, **s.extra}
        if s.top_k is not None and s.top_k > 0:
            extra["top_k"] = s.top_k
        if extra:
            body["extra_body"] = extra
        return body

    async def _complete(self, request: Request) -> list[Completion]:
        import openai

        body = self.request_body(request)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        attempt = 0
        while True:
            try:
                async with self._slots:
                    try:
                        async with asyncio.timeout(self.timeout):  # the whole answer, not each read
                            response = await self._client.chat.completions.create(**body)
                    except TimeoutError:
                        raise TimeoutError(f"no complete answer within {self.timeout} s") from None
                return self._completions(response, body["n"])
            except retryable_errors() as exc:
                if attempt >= self.max_retries:
                    raise BackendError(
                        f"{self.base_url}: gave up after {attempt + 1} attempts: {_describe(exc)}"
                    ) from exc
                delay = min(self.max_backoff, self.backoff * 2**attempt)
                retry_after = _retry_after(exc)
                if retry_after is not None:
                    delay = min(self.max_backoff, max(delay, retry_after))
                attempt += 1
                self.retries += 1
                await asyncio.sleep(delay)
            except openai.BadRequestError as exc:
                if "context" in str(exc).lower() and "length" in str(exc).lower():
                    raise PromptTooLong(_describe(exc)) from exc
                raise BackendError(f"{self.base_url}: {_describe(exc)}") from exc
            except openai.OpenAIError as exc:  # 401, 404, 422...: retrying will not help
                raise BackendError(f"{self.base_url}: {_describe(exc)}") from exc

    def _completions(self, response: Any, n: int) -> list[Completion]:
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or len(choices) != n:
            got = len(choices) if isinstance(choices, list) else type(choices).__name__
            raise MalformedResponse(f"expected {n} choice(s), got {got}")
        usage = getattr(response, "usage", None)
        prompt_tokens = _count(usage, "prompt_tokens")
        # usage counts all n choices together: per-choice counts are only known when n == 1
        completion_tokens = _count(usage, "completion_tokens") if n == 1 else None
        indexes = [getattr(c, "index", None) for c in choices]
        if sorted(i for i in indexes if type(i) is int) != list(range(n)):
            raise MalformedResponse(f"choice indexes {indexes} are not 0..{n - 1}")
        out = []
        for choice in sorted(choices, key=lambda c: c.index):
            message = getattr(choice, "message", None)
            text = getattr(message, "content", None)
            if not isinstance(text, str):
                raise MalformedResponse(f"choice {choice.index} has no text content")
            finish_reason = getattr(choice, "finish_reason", None)
            if finish_reason is not None and not isinstance(finish_reason, str):
                raise MalformedResponse(f"choice {choice.index}: finish_reason {finish_reason!r} is not a string")
            logprobs = None
            content = getattr(getattr(choice, "logprobs", None), "content", None)
            if self.logprobs and content:
                logprobs = _logprobs(choice.index, content)
            out.append(Completion(
                text=text,
                finish_reason=finish_reason,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                completion_logprobs=logprobs,
            ))
        return out


def _count(usage: Any, field: str) -> int | None:
    """A token count of `usage`: absent or null is unknown; anything but an integer >= 0 makes
    the response malformed (it would make the record invalid)."""
    value = getattr(usage, field, None)
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise MalformedResponse(f"usage.{field} is {value!r}, not a token count")
    return value


def _logprobs(index: int, content: Any) -> list[float]:
    values: list[Any] = [getattr(t, "logprob", None) for t in content]
    if not all(type(v) in (int, float) and math.isfinite(v) for v in values):
        raise MalformedResponse(f"choice {index}: logprobs are not all finite numbers")
    return [float(v) for v in values]


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = getattr(response, "headers", {}).get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
