"""Loading a base model for training: the embedded GGUF file, a .gguf path, a local directory or
a hub id; and choosing the precision.

A GGUF model is dequantized to float32 as transformers loads it (`gguf_file=`), but transformers
leaves it flagged as quantized (`is_quantized`, `hf_quantizer`), and its Trainer refuses to train
a quantized model without adapters of its own kind. The weights are plain float32 tensors, so
the flags are cleared: the model is then an ordinary float32 model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness.embedded_model import DEFAULT_MODEL, embedded_model

__all__ = ["choose_precision", "load_model", "load_tokenizer", "resolve_model"]


def resolve_model(model: str) -> tuple[str, str | None]:
    """(directory or hub id, GGUF file name or None), as `from_pretrained` takes them."""
    if model == DEFAULT_MODEL:
        path = embedded_model()
        return str(path.parent), path.name
    if model.endswith(".gguf"):
        if not os.path.isfile(model):
            raise FileNotFoundError(f"{model}: no such GGUF file")
        path = Path(model).resolve()
        return str(path.parent), path.name
    return model, None


def load_tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    source, gguf_file = resolve_model(model)
    return AutoTokenizer.from_pretrained(source, **({"gguf_file": gguf_file} if gguf_file else {}))


def load_model(model: str, *, dtype: str = "float32") -> Any:
    """The causal LM, its weights in `dtype` (GGUF weights are dequantized to it)."""
    import torch
    from transformers import AutoModelForCausalLM

    source, gguf_file = resolve_model(model)
    kwargs: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
    loaded = AutoModelForCausalLM.from_pretrained(source, dtype=getattr(torch, dtype), **kwargs)
    if gguf_file:
        # torch types a module's unknown attributes as Tensor | Module; these are plain flags.
        loaded.is_quantized, loaded.hf_quantizer = False, None  # type: ignore[assignment]
        if getattr(loaded.config, "quantization_config", None) is not None:
            del loaded.config.quantization_config
    return loaded


def choose_precision(precision: str) -> str:
    """`bf16`, `fp16` or `fp32`: `auto` is bf16 mixed precision on a GPU that supports it, fp32
    elsewhere (on CPU, bf16 autocast is slower and less exact than float32)."""
    if precision != "auto":
        return precision
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"
