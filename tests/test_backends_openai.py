"""The openai backend against a real llama.cpp server, directly and through a fault-injecting proxy."""

from __future__ import annotations

import asyncio

import pytest

from harness.backends.base import BackendError, Request
from harness.backends.openai_backend import OpenAIBackend
from harness.episode import Message, Sampling
from servers import MODEL_ALIAS

SAMPLING = Sampling(n=1, temperature=0.7, top_p=0.9, top_k=40, max_tokens=8, seed=11)


def request(text: str = "Say one word.") -> Request:
    return Request([Message(role="user", content=text)], SAMPLING)


def run(backend: OpenAIBackend, requests: list[Request]):
    async def go():
        try:
            return await backend.generate(requests)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_completions_carry_text_token_counts_and_logprobs(llama_server):
    backend = OpenAIBackend(MODEL_ALIAS, base_url=llama_server.base_url, logprobs=True)
    [[completion]] = run(backend, [request()])
    assert isinstance(completion.text, str)
    assert completion.finish_reason in ("stop", "length")
    assert completion.prompt_tokens and completion.prompt_tokens > 5
    assert 1 <= completion.completion_tokens <= 8
    assert completion.completion_logprobs is not None
    assert all(lp <= 0 for lp in completion.completion_logprobs)


def test_same_seed_same_text(llama_server):
    first = run(OpenAIBackend(MODEL_ALIAS, base_url=llama_server.base_url), [request("Name a colour.")])
    second = run(OpenAIBackend(MODEL_ALIAS, base_url=llama_server.base_url), [request("Name a colour.")])
    assert first[0][0].text == second[0][0].text


@pytest.mark.parametrize("fault", ["429", "500", "timeout", "reset", "malformed", "no_choices", "bad_usage"])
def test_each_fault_is_retried_and_the_request_succeeds(fault_proxy, fault):
    fault_proxy.inject(fault, fault)
    # the held requests wait out the timeout; the others need only room for a slow answer
    backend = OpenAIBackend(MODEL_ALIAS, base_url=fault_proxy.base_url, backoff=0.01,
                            timeout=8.0 if fault == "timeout" else 60.0)
    [[completion]] = run(backend, [request()])
    assert completion.completion_tokens >= 1
    assert fault_proxy.faults_served == [fault, fault]
    assert backend.retries == 2
    assert fault_proxy.requests == 3


def test_the_timeout_bounds_the_whole_request_not_each_read(fault_proxy):
    # a complete answer sent a byte every 50 ms: every read is quick, the whole takes 12 s
    fault_proxy.inject("trickle", "trickle")
    backend = OpenAIBackend(MODEL_ALIAS, base_url=fault_proxy.base_url, timeout=0.5, max_retries=1, backoff=0.01)
    with pytest.raises(BackendError, match=r"gave up after 2 attempts: TimeoutError: no complete answer within 0.5 s"):
        run(backend, [request()])
    assert fault_proxy.faults_served == ["trickle", "trickle"] and fault_proxy.requests == 2


def test_faults_beyond_the_retries_fail_with_a_backend_error(fault_proxy):
    fault_proxy.inject("500", "500", "500")
    backend = OpenAIBackend(MODEL_ALIAS, base_url=fault_proxy.base_url, max_retries=2, backoff=0.01)
    with pytest.raises(BackendError, match="gave up after 3 attempts: InternalServerError"):
        run(backend, [request()])
    assert fault_proxy.requests == 3


def test_a_client_error_is_not_retried(llama_server):
    backend = OpenAIBackend(MODEL_ALIAS, base_url=llama_server.base_url)
    bad = Request([Message(role="user", content="hi")], Sampling(n=1, temperature=0.5, max_tokens=4, top_p=0.5))
    body = backend.request_body(bad)
    assert body["max_tokens"] == 4 and body["top_p"] == 0.5 and "extra_body" not in body
    backend_404 = OpenAIBackend(MODEL_ALIAS, base_url=llama_server.base_url.removesuffix("/v1") + "/nowhere")
    with pytest.raises(BackendError, match="NotFoundError"):
        run(backend_404, [bad])
    assert backend_404.retries == 0


def test_concurrency_is_bounded(fault_proxy):
    backend = OpenAIBackend(MODEL_ALIAS, base_url=fault_proxy.base_url, concurrency=2)
    out = run(backend, [request(f"Count to {i}.") for i in range(5)])
    assert len(out) == 5
    assert fault_proxy.max_in_flight == 2


def test_sampling_maps_to_the_request_body():
    backend = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", extra_body={"min_p": 0.1})
    s = Sampling(n=2, temperature=0.3, top_p=0.8, top_k=20, max_tokens=50, stop=["</guess>"], seed=2**64 - 1)
    body = backend.request_body(Request([Message(role="user", content="q")], s))
    assert body == {
        "model": "m", "messages": [{"role": "user", "content": "q"}], "n": 2, "temperature": 0.3,
        "max_tokens": 50, "top_p": 0.8, "stop": ["</guess>"], "seed": (2**64 - 1) % 2**63,
        "extra_body": {"min_p": 0.1, "top_k": 20},
    }
    with pytest.raises(BackendError, match="explicitly"):
        backend.request_body(Request([Message(role="user", content="q")], Sampling(n=1)))
