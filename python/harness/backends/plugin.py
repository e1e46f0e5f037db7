"""The harness's own backends, registered through its own `harness` entry point like a plugin's.

The modules are light to import: torch, transformers and vllm load only when a backend is built.
"""

from __future__ import annotations

from harness.backends.openai_backend import OpenAIBackend
from harness.backends.scripted import ScriptedBackend
from harness.backends.transformers_backend import TransformersBackend
from harness.backends.vllm_backend import VLLMBackend
from harness.plugins import hookimpl


@hookimpl
def register_backends(register):
    for backend in (TransformersBackend, VLLMBackend, OpenAIBackend, ScriptedBackend):
        register(backend)
