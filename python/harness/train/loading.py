"""Loading a base model for training: the embedded model, a .gguf path, a local directory or a
hub id (`harness.embedded_model.resolve_model`); and choosing the precision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.embedded_model import load_gguf, resolve_model

__all__ = ["choose_precision", "load_model", "load_tokenizer"]


def load_tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    source, gguf_file = resolve_model(model)
    return AutoTokenizer.from_pretrained(source, **({"gguf_file": gguf_file} if gguf_file else {}))


def load_model(model: str, *, dtype: str = "float32") -> Any:
    """The causal LM, its weights in `dtype` (GGUF weights are dequantized to it)."""
    import torch
    from transformers import AutoModelForCausalLM

    source, gguf_file = resolve_model(model)
    if gguf_file:
        return load_gguf(Path(source) / gguf_file, dtype)[0]
    return AutoModelForCausalLM.from_pretrained(source, dtype=getattr(torch, dtype))


def choose_precision(precision: str) -> str:
    """`bf16`, `fp16` or `fp32`: `auto` is bf16 mixed precision on a GPU that supports it, fp32
    elsewhere (on CPU, bf16 autocast is slower and less exact than float32)."""
    if precision != "auto":
        return precision
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"
