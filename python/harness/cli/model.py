"""`harness model …`: models as files other tools load (see docs/training.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.embedded_model import DEFAULT_MODEL


@click.group()
def model() -> None:
    """Models: export the embedded GGUF model (or a tuned one) as a plain transformers directory."""


@model.command()
@click.option("--model", "name", default=DEFAULT_MODEL, show_default=True,
              help="The embedded model, a .gguf file, a model directory or a hub id.")
@click.option("--adapter", type=click.Path(file_okay=False, exists=True), default=None,
              help="A LoRA adapter directory to merge into the weights.")
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]), default="float32",
              show_default=True, help="Weights' type (GGUF weights are dequantized to it).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=True, path_type=Path),
              help="New directory: config.json, model.safetensors, the tokenizer files.")
def export(name: str, adapter: str | None, dtype: str, output: Path) -> None:
    """Write MODEL (with ADAPTER merged in) as a transformers model directory: vLLM, TRL,
    transformers and llama.cpp's converters load it as it is."""
    from harness.train.export import export_model

    try:
        report = export_model(name, output, adapter=adapter, dtype=dtype)
    except (ValueError, OSError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    click.echo(report.summary(), err=True)
