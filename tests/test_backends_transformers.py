"""The transformers backend on the embedded SmolLM2 (real model, real tokenizer, CPU)."""

from __future__ import annotations

import asyncio
import hashlib
import warnings

import pytest

from harness.backends.base import BackendError, Request
from harness.backends.errors import PromptTooLong
from harness.embedded_model import GGUF_SHA256
from harness.episode import Message, Sampling


def ask(text: str, **sampling) -> Request:
    args = {"n": 1, "temperature": 0.8, "top_p": 0.95, "top_k": 50, "max_tokens": 6, "seed": 5, **sampling}
    return Request([Message(role="user", content=text)], Sampling(**args))


def generate(backend, requests):
    return asyncio.run(backend.generate(requests))


def test_embedded_model_is_the_pinned_file(embedded_gguf):
    digest = hashlib.sha256(embedded_gguf.read_bytes()).hexdigest()
    assert digest == GGUF_SHA256
    assert embedded_gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_a_row_samples_the_same_tokens_whatever_shares_its_batch(transformers_backend):
    alone = generate(transformers_backend, [ask("Name a fruit.")])
    batched = generate(transformers_backend, [
        ask("Write a long, detailed story about the sea and its many creatures."),
        ask("Name a fruit."),
        ask("Hi", seed=9),
    ])
    assert batched[1][0].completion_ids == alone[0][0].completion_ids
    assert batched[1][0].text == alone[0][0].text


def test_token_ids_logprobs_and_counts_agree(transformers_backend):
    [[c]] = generate(transformers_backend, [ask("Count from one to ten.", max_tokens=5)])
    assert c.finish_reason == "length"
    assert c.completion_tokens == len(c.completion_ids) == len(c.completion_logprobs) == 5
    assert all(lp <= 0 for lp in c.completion_logprobs)
    assert c.text == transformers_backend.tokenizer.decode(c.completion_ids, skip_special_tokens=True)
    assert c.prompt_tokens == len(c.prompt_ids) == len(transformers_backend.prompt_ids(ask("Count from one to ten.")))


def test_n_samples_per_request_differ_and_are_reproducible(transformers_backend):
    [first] = generate(transformers_backend, [ask("Tell me a word.", n=3, temperature=1.5, top_p=1.0, top_k=-1)])
    [second] = generate(transformers_backend, [ask("Tell me a word.", n=3, temperature=1.5, top_p=1.0, top_k=-1)])
    assert len(first) == 3
    assert [c.completion_ids for c in first] == [c.completion_ids for c in second]
    assert len({tuple(c.completion_ids) for c in first}) > 1


def test_greedy_and_stop_strings(transformers_backend):
    [[c]] = generate(transformers_backend, [ask("List three colours, one per line.", temperature=0.0,
                                                max_tokens=24, stop=["\n"])])
    assert "\n" not in c.text
    assert c.finish_reason in ("stop", "length")
    if c.finish_reason == "stop":
        full = transformers_backend.tokenizer.decode(c.completion_ids, skip_special_tokens=True)
        assert full.startswith(c.text) and "\n" in full[len(c.text):]


def test_prompt_too_long_fails_only_its_own_request(transformers_backend):
    long_text = "word " * transformers_backend.context_length
    async def go():
        return await asyncio.gather(
            transformers_backend.generate([ask(long_text)]),
            transformers_backend.generate([ask("Say yes.")]),
            return_exceptions=True,
        )
    too_long, fine = asyncio.run(go())
    assert isinstance(too_long, PromptTooLong)
    assert fine[0][0].completion_tokens >= 1


def test_sampling_must_be_explicit(transformers_backend):
    with pytest.raises(BackendError, match="temperature"):
        generate(transformers_backend, [Request([Message(role="user", content="x")],
                                                Sampling(n=1, max_tokens=3))])


def test_a_lora_adapter_is_applied(tmp_path, transformers_backend):
    from peft import LoraConfig, get_peft_model

    from harness.backends.transformers_backend import TransformersBackend

    # a fresh copy of the model gets a LoRA adapter with non-zero weights, saved like a trained one
    donor = TransformersBackend()
    lora = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(donor.model, lora).save_pretrained(tmp_path / "adapter")
    adapted = TransformersBackend(adapter=str(tmp_path / "adapter"))
    assert adapted.model_name == f"smollm2-135m-instruct+{tmp_path / 'adapter'}"
    request = ask("Name a fruit.", temperature=0.0, max_tokens=4)
    [[with_adapter]] = generate(adapted, [request])
    [[without]] = generate(transformers_backend, [request])
    assert with_adapter.completion_logprobs != without.completion_logprobs


def test_decoding_uses_this_transformers_versions_cache_argument(transformers_backend):
    # transformers renamed `past_key_values` to `cache`: the old name warns on every decoding step,
    # which a user sees as a wall of FutureWarnings in the middle of a rollout run.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        [[c]] = generate(transformers_backend, [ask("Say hi.", max_tokens=3)])
    assert c.completion_tokens == 3
    assert [str(w.message) for w in caught if "deprecated" in str(w.message)] == []
