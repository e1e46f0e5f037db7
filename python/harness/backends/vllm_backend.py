"""The `vllm` backend: the offline `vllm.LLM` engine, for GPU nodes.

    backend = VLLMBackend(model="Qwen/Qwen2.5-7B-Instruct", tensor_parallel_size=2,
                          adapter="/runs/lora-3")

vLLM is an optional extra (`pip install 'rollout-harness[vllm]'`); it is imported only when this
backend is built, so importing the harness never needs it. Every live episode's next turn is
gathered into one `LLM.chat` call (see `batching.BatchCollector`), with prefix caching on so the
shared conversation prefixes of multi-turn episodes are computed once. `adapter` serves a LoRA
adapter through `LoRARequest`. Each request carries its own `SamplingParams` (its seed among
them); token ids and the chosen tokens' logprobs are returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.backends.base import Backend, BackendError, Completion, Request
from harness.backends.batching import BatchCollector
from harness.episode import Sampling


def sampling_params_kwargs(sampling: Sampling) -> dict[str, Any]:
    """The keyword arguments of `vllm.SamplingParams` for one request's sampling."""
    if sampling.temperature is None or sampling.max_tokens is None:
        raise BackendError("sampling.temperature and sampling.max_tokens must be given explicitly")
    kwargs: dict[str, Any] = {
        "n": sampling.n or 1,
        "temperature": sampling.temperature,
        "max_tokens": sampling.max_tokens,
        "logprobs": 0,  # the chosen token's logprob only
        **sampling.extra,
    }
    if sampling.top_p is not None:
        kwargs["top_p"] = sampling.top_p
    if sampling.top_k is not None:
        kwargs["top_k"] = sampling.top_k if sampling.top_k > 0 else -1
    if sampling.stop:
        kwargs["stop"] = list(sampling.stop)
    if sampling.seed is not None:
        kwargs["seed"] = sampling.seed % 2**31  # vLLM seeds are 32-bit
    return kwargs


def lora_request_kwargs(adapter: str, adapter_name: str | None = None) -> dict[str, Any]:
    """The arguments of `vllm.lora.request.LoRARequest` for one adapter directory."""
    return {"lora_name": adapter_name or adapter, "lora_int_id": 1, "lora_path": adapter}


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise BackendError(
            "the vllm backend needs vLLM on a GPU node: pip install 'rollout-harness[vllm]' "
            f"({exc})"
        ) from exc
    return vllm


class VLLMBackend(Backend):
    name = "vllm"
    content_args = ("model", "adapter", "max_model_len", "engine_args")

    def __init__(
        self,
        model: str,
        *,
        adapter: str | None = None,
        adapter_name: str | None = None,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        max_lora_rank: int = 64,
        max_batch: int = 4096,
        engine_args: dict[str, Any] | None = None,
    ) -> None:
        vllm = _import_vllm()
        self._model = model if adapter is None else f"{model}+{adapter}"
        self._vllm = vllm
        args: dict[str, Any] = {
            "model": model,
            "tensor_parallel_size": tensor_parallel_size,
            "enable_prefix_caching": True,
            "gpu_memory_utilization": gpu_memory_utilization,
            **({"max_model_len": max_model_len} if max_model_len else {}),
            **({"enable_lora": True, "max_lora_rank": max_lora_rank} if adapter else {}),
            **(engine_args or {}),
        }
        self.llm = vllm.LLM(**args)
        self.lora = None
        if adapter is not None:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest(**lora_request_kwargs(adapter, adapter_name))
        self._collector = BatchCollector(self._run_batch, max_batch=max_batch)

    @property
    def model_name(self) -> str:
        return self._model

    async def generate(self, requests: Sequence[Request]) -> list[list[Completion]]:
        return await self._collector.submit(requests)

    async def aclose(self) -> None:
        self.llm = None

    def _run_batch(self, requests: list[Request]) -> list[list[Completion] | BackendError]:
        conversations = [[{"role": m.role, "content": m.content} for m in r.messages] for r in requests]
        params = [self._vllm.SamplingParams(**sampling_params_kwargs(r.sampling)) for r in requests]
        outputs = self.llm.chat(conversations, sampling_params=params, lora_request=self.lora,
                                use_tqdm=False)
        return [[_completion(result, choice) for choice in result.outputs] for result in outputs]


def _completion(result: Any, choice: Any) -> Completion:
    logprobs = None
    if choice.logprobs:
        logprobs = [float(step[token].logprob) for token, step in zip(choice.token_ids, choice.logprobs)]
    return Completion(
        text=choice.text,
        finish_reason=choice.finish_reason,
        prompt_tokens=len(result.prompt_token_ids or []),
        completion_tokens=len(choice.token_ids),
        prompt_ids=list(result.prompt_token_ids or []),
        completion_ids=list(choice.token_ids),
        completion_logprobs=logprobs,
    )
