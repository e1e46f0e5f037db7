"""The `transformers` backend: a local Hugging Face model on CPU or GPU, batched with left padding.

    backend = TransformersBackend()                                  # the embedded SmolLM2-135M
    backend = TransformersBackend(model="/models/qwen", adapter="/runs/lora-3", max_batch=32)

`model` is the embedded default (`harness.embedded_model.DEFAULT_MODEL`), a `.gguf` file, a local model
directory, or a hub id (only fetched if the hub is reachable and the model is not cached).
`adapter` is a LoRA adapter directory (peft).

Sampling runs in the harness's own decoding loop rather than `model.generate`, so that every
row of a batch keeps its own temperature, top-p, top-k, stop strings, max_tokens and, above all,
its own random generator seeded from the request's seed: an episode samples the same tokens
whatever else shares its batch. `completion_logprobs` are the model's log-probabilities of the
chosen tokens (log-softmax of the raw logits, before temperature and truncation), as vLLM reports
them. `completion_ids` are the generated tokens up to the end-of-sequence token (excluded) or the
token that completed a stop string (included; the text stops before the stop string).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from harness.backends.base import Backend, BackendError, Completion, Request
from harness.backends.batching import BatchCollector
from harness.backends.errors import PromptTooLong
from harness.embedded_model import DEFAULT_MODEL, load_gguf, resolve_model
from harness.episode import Sampling


class TransformersBackend(Backend):
    name = "transformers"
    content_args = ("model", "adapter", "dtype")

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        adapter: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        max_batch: int = 16,
        linger: float = 0.05,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._model_name = model
        source, gguf_file = resolve_model(model)
        if gguf_file:
            loaded, self.tokenizer = load_gguf(Path(source) / gguf_file, dtype)
        else:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
            loaded = AutoModelForCausalLM.from_pretrained(source, dtype=getattr(torch, dtype))
        self.model = loaded.to(device)
        # transformers 5.24 renamed the KV cache's argument and output field from
        # `past_key_values` to `cache` (the old name warns on every call); read which one this
        # version's model takes, from the model itself rather than a peft wrapper's **kwargs.
        self.cache_name = "cache" if "cache" in inspect.signature(loaded.forward).parameters else "past_key_values"
        if adapter is not None:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, adapter)
            self._model_name = f"{model}+{adapter}"
        self.model.eval()
        self.device = device
        eos = self.model.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos]
        self.eos_ids = {i for i in [*eos_ids, self.tokenizer.eos_token_id] if i is not None}
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = next(iter(self.eos_ids))
        self.context_length = int(getattr(self.model.config, "max_position_embeddings", 0) or 0)
        self._collector = BatchCollector(self._run_batch, max_batch=max_batch, linger=linger)

    @property
    def model_name(self) -> str:
        return self._model_name

    async def generate(self, requests: Sequence[Request]) -> list[list[Completion]]:
        return await self._collector.submit(requests)

    async def aclose(self) -> None:
        self.model = None

    # -- the batch, in a worker thread -----------------------------------------------------

    def prompt_ids(self, request: Request) -> list[int]:
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _run_batch(self, requests: list[Request]) -> list[list[Completion] | BackendError]:
        results: list[list[Completion] | BackendError] = []
        rows: list[tuple[int, list[int], Sampling]] = []
        for index, request in enumerate(requests):
            ids = self.prompt_ids(request)
            max_tokens = _max_tokens(request.sampling)
            if self.context_length and len(ids) + max_tokens > self.context_length:
                results.append(PromptTooLong(
                    f"{len(ids)} prompt tokens + max_tokens {max_tokens} exceed the context "
                    f"length {self.context_length} of {self._model_name}"
                ))
                continue
            results.append([])
            rows += [(index, ids, request.sampling)] * (request.sampling.n or 1)
        if rows:
            for (index, _, _), completion in zip(rows, self._decode(rows)):
                out = results[index]
                assert isinstance(out, list)
                out.append(completion)
        return results

    def _decode(self, rows: list[tuple[int, list[int], Sampling]]) -> list[Completion]:
        import torch

        with torch.inference_mode():
            return _Decoder(self, rows).run()


def _max_tokens(sampling: Sampling) -> int:
    if sampling.max_tokens is None:
        raise BackendError("sampling.max_tokens must be given explicitly")
    return sampling.max_tokens


class _Decoder:
    """One batched decoding run: left-padded prompts, a KV cache, per-row sampling."""

    def __init__(self, backend: TransformersBackend, rows: list[tuple[int, list[int], Sampling]]):
        import torch

        self.backend = backend
        self.prompts = [ids for _, ids, _ in rows]
        self.samplings = [s for _, _, s in rows]
        self.generators = []
        for sample_index, sampling in enumerate(self.samplings):
            generator = torch.Generator(device=backend.device)
            if sampling.seed is not None:
                # rows of one request with n > 1 share its seed; offset them so they differ
                generator.manual_seed((sampling.seed + _nth_of_request(rows, sample_index)) % 2**63)
            else:
                generator.seed()
            self.generators.append(generator)

    def run(self) -> list[Completion]:
        import torch

        backend, device = self.backend, self.backend.device
        width = max(len(p) for p in self.prompts)
        ids = torch.full((len(self.prompts), width), backend.pad_id, dtype=torch.long)
        mask = torch.zeros((len(self.prompts), width), dtype=torch.long)
        for row, prompt in enumerate(self.prompts):
            ids[row, width - len(prompt):] = torch.tensor(prompt)
            mask[row, width - len(prompt):] = 1
        ids, mask = ids.to(device), mask.to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = backend.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
        cache, logits = out[backend.cache_name], out.logits[:, -1, :].float()

        n = len(self.prompts)
        generated: list[list[int]] = [[] for _ in range(n)]
        logprobs: list[list[float]] = [[] for _ in range(n)]
        finish: list[str | None] = [None] * n
        texts: list[str | None] = [None] * n
        limit = max(_max_tokens(s) for s in self.samplings)
        for _ in range(limit):
            log_softmax = torch.log_softmax(logits, dim=-1)
            chosen = [self._sample(row, logits[row]) if finish[row] is None else backend.pad_id
                      for row in range(n)]
            for row, token in enumerate(chosen):
                if finish[row] is not None:
                    continue
                if token in backend.eos_ids:
                    finish[row] = "stop"
                    continue
                generated[row].append(token)
                logprobs[row].append(float(log_softmax[row, token]))
                text = self._stop_text(row, generated[row])
                if text is not None:
                    finish[row], texts[row] = "stop", text
                elif len(generated[row]) >= _max_tokens(self.samplings[row]):
                    finish[row] = "length"
            if all(f is not None for f in finish):
                break
            step = torch.tensor(chosen, device=device).unsqueeze(-1)
            mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype, device=device)], dim=-1)
            positions = positions[:, -1:] + 1
            out = backend.model(input_ids=step, attention_mask=mask, position_ids=positions,
                                use_cache=True, **{backend.cache_name: cache})
            cache, logits = out[backend.cache_name], out.logits[:, -1, :].float()

        completions = []
        for row in range(n):
            text = texts[row]
            if text is None:
                # One sequence decodes to a str (transformers types decode() as str | list[str]).
                text = cast(str, backend.tokenizer.decode(generated[row], skip_special_tokens=True))
            completions.append(Completion(
                text=text,
                finish_reason=finish[row] or "length",
                prompt_tokens=len(self.prompts[row]),
                completion_tokens=len(generated[row]),
                prompt_ids=list(self.prompts[row]),
                completion_ids=generated[row],
                completion_logprobs=logprobs[row],
            ))
        return completions

    def _sample(self, row: int, logits: Any) -> int:
        import torch

        sampling = self.samplings[row]
        if sampling.temperature is None:
            raise BackendError("sampling.temperature must be given explicitly")
        if sampling.temperature == 0:
            return int(torch.argmax(logits))
        scaled = logits / sampling.temperature
        if sampling.top_k is not None and 0 < sampling.top_k < scaled.numel():
            kth = torch.topk(scaled, sampling.top_k).values[-1]
            scaled = scaled.masked_fill(scaled < kth, float("-inf"))
        if sampling.top_p is not None and sampling.top_p < 1:
            ordered, order = torch.sort(scaled, descending=True)
            cumulative = torch.softmax(ordered, dim=-1).cumsum(-1)
            # drop a token once the mass before it already reaches top_p (the first one stays)
            drop = (cumulative - torch.softmax(ordered, dim=-1)) >= sampling.top_p
            scaled = scaled.scatter(0, order[drop], float("-inf"))
        probs = torch.softmax(scaled, dim=-1)
        return int(torch.multinomial(probs, 1, generator=self.generators[row]))

    def _stop_text(self, row: int, generated: list[int]) -> str | None:
        """The text before the first stop string, once one has been generated."""
        stops = self.samplings[row].stop
        if not stops:
            return None
        text = cast(str, self.backend.tokenizer.decode(generated, skip_special_tokens=True))  # one sequence: a str
        cuts = [text.find(s) for s in stops if s and s in text]
        return text[: min(cuts)] if cuts else None


def _nth_of_request(rows: list[tuple[int, list[int], Sampling]], position: int) -> int:
    """Which sample of its request the row at `position` is (0 for the first)."""
    request = rows[position][0]
    return sum(1 for index, _, _ in rows[:position] if index == request)
