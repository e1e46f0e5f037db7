"""`harness model export`: a model as a plain transformers directory that every tool loads.

    export_model("smollm2-135m-instruct", "models/smollm2")          # the embedded GGUF, dequantized
    export_model("smollm2-135m-instruct", "models/tuned", adapter="runs/sft/adapter")   # merged

The embedded model is a GGUF file; transformers reads it (`gguf_file=`), vLLM and most trainers
want a directory of safetensors weights, a config and a tokenizer. The export dequantizes the GGUF
weights (to float32, or `dtype`), merges a LoRA adapter into them when one is given, and writes
the directory atomically (it appears complete or not at all), with `harness_export.json` saying
what it was made from.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["ExportReport", "export_model"]


@dataclass(frozen=True)
class ExportReport:
    output: str
    model: str
    adapter: str | None
    dtype: str
    parameters: int

    def summary(self) -> str:
        merged = f" with {self.adapter} merged in" if self.adapter else ""
        return f"exported {self.model}{merged} ({self.parameters:,} parameters, {self.dtype}) to {self.output}"


def export_model(model: str, output: str | os.PathLike[str], *, adapter: str | None = None,
                 dtype: str = "float32") -> ExportReport:
    from harness.train.loading import load_model, load_tokenizer

    if dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be float32, bfloat16 or float16, not {dtype!r}")
    out = Path(output)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; export into a new directory")
    loaded = load_model(model, dtype=dtype)
    if adapter:
        from peft import PeftModel

        loaded = PeftModel.from_pretrained(loaded, adapter).merge_and_unload()
    tokenizer = load_tokenizer(model)
    tmp = out.parent / f".{out.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    loaded.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    report = ExportReport(str(out), model, adapter, dtype, sum(p.numel() for p in loaded.parameters()))
    (tmp / "harness_export.json").write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")
    if out.exists():
        out.rmdir()
    os.replace(tmp, out)
    return report
