"""The vllm backend without a GPU: what can be checked on a CPU machine.

Checked here: the harness imports and registers the backend without vLLM installed; sampling
maps onto `SamplingParams` arguments; LoRA adapters map onto `LoRARequest` arguments; building
the backend without vLLM fails with an error naming the extra. Not checked here (no GPU and no
vLLM on this machine): the `LLM.chat` call itself and the shape of its outputs.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness import plugins
from harness.backends.base import BackendError
from harness.backends.vllm_backend import VLLMBackend, lora_request_kwargs, sampling_params_kwargs
from harness.episode import Sampling


def test_registered_and_importable_without_vllm():
    code = "import sys; from harness import plugins; plugins.get('backend', 'vllm'); print('vllm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert plugins.get("backend", "vllm") is VLLMBackend


def test_sampling_maps_to_sampling_params():
    s = Sampling(n=4, temperature=0.7, top_p=0.9, top_k=20, max_tokens=512, stop=["</answer>"],
                 seed=2**40 + 3, extra={"min_p": 0.05})
    assert sampling_params_kwargs(s) == {
        "n": 4, "temperature": 0.7, "max_tokens": 512, "logprobs": 0, "min_p": 0.05,
        "top_p": 0.9, "top_k": 20, "stop": ["</answer>"], "seed": (2**40 + 3) % 2**31,
    }
    assert sampling_params_kwargs(Sampling(n=1, temperature=0, max_tokens=1, top_k=-1))["top_k"] == -1
    with pytest.raises(BackendError, match="explicitly"):
        sampling_params_kwargs(Sampling(n=1))


def test_lora_request_arguments():
    assert lora_request_kwargs("/runs/lora-3") == {"lora_name": "/runs/lora-3", "lora_int_id": 1,
                                                   "lora_path": "/runs/lora-3"}
    assert lora_request_kwargs("/runs/lora-3", "cycle3")["lora_name"] == "cycle3"


def test_building_without_vllm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # vLLM absent, as on a CPU machine
    with pytest.raises(BackendError, match=r"rollout-harness\[vllm\]"):
        VLLMBackend(model="any")
