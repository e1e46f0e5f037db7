"""`harness model export`: the embedded GGUF model as a plain transformers directory, with the
same weights; an adapter merged in gives the adapter's outputs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from train_rows import fresh_base_model  # noqa: F401  (a pytest fixture)


def test_export_of_the_embedded_model_loads_with_the_same_weights(tmp_path, fresh_base_model):  # noqa: F811
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "smollm2"
    result = subprocess.run([sys.executable, "-m", "harness", "model", "export", "-o", str(out)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "exported smollm2-135m-instruct" in result.stderr
    assert json.loads((out / "harness_export.json").read_text())["dtype"] == "float32"
    exported = AutoModelForCausalLM.from_pretrained(str(out))
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    original = fresh_base_model()
    ids = tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        assert torch.equal(exported(ids).logits, original(ids).logits)
    assert tokenizer.chat_template and not getattr(exported.config, "quantization_config", None)
    again = subprocess.run([sys.executable, "-m", "harness", "model", "export", "-o", str(out)],
                           capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 1 and "exists and is not empty" in again.stderr


def test_an_adapter_is_merged_into_the_export(tmp_path, fresh_base_model):  # noqa: F811
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from harness.train.export import export_model

    tuned = get_peft_model(fresh_base_model(), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                        init_lora_weights=False))
    tuned.save_pretrained(tmp_path / "adapter")
    report = export_model("smollm2-135m-instruct", tmp_path / "merged", adapter=str(tmp_path / "adapter"))
    assert report.adapter == str(tmp_path / "adapter")
    merged = AutoModelForCausalLM.from_pretrained(str(tmp_path / "merged"))
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.inference_mode():
        merged_logits, tuned_logits = merged(ids).logits, tuned(ids).logits
        base_logits = fresh_base_model()(ids).logits
    # Merging computes (W + BA)x where the adapter computes Wx + B(Ax): the same up to float32
    # rounding, which grows with the logits (|logit| ~ 20 here), so the bound is relative to the
    # adapter's own effect on the logits, a thousand times larger than the rounding.
    rounding = (merged_logits - tuned_logits).abs().max().item()
    effect = (tuned_logits - base_logits).abs().max().item()
    assert effect > 0.1 and rounding < effect / 1000, (rounding, effect)


def test_bad_dtype(tmp_path):
    from harness.train.export import export_model

    with pytest.raises(ValueError, match="dtype must be"):
        export_model("smollm2-135m-instruct", tmp_path / "x", dtype="int8")
