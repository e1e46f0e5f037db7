"""The embedded model's converted directory (harness.embedded_model.embedded_model_dir): made once
from the GGUF file, it holds the same weights and tokenizer as reading the GGUF file itself; two
processes converting at once, over a torn conversion of a process that died, both end with the
same complete directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from harness import embedded_model as em

CONVERT = "from harness.embedded_model import embedded_model_dir; print(embedded_model_dir())"


def test_two_processes_convert_once_into_the_same_complete_directory(tmp_path, embedded_gguf):
    models = tmp_path / "cache" / "models"
    models.mkdir(parents=True)
    (models / embedded_gguf.name).symlink_to(embedded_gguf)  # the download is not what is tested
    import transformers

    target = models / f"{embedded_gguf.stem}-{em.GGUF_SHA256[:12]}-transformers-{transformers.__version__}"
    target.mkdir()
    (target / "model.safetensors").write_bytes(b"torn")  # a conversion killed before its mark
    env = {**os.environ, "HARNESS_CACHE": str(tmp_path / "cache")}
    runs = [subprocess.Popen([sys.executable, "-c", CONVERT], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=900) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, err[-3000:]
        assert Path(out.strip()) == target
    assert (target / em.CONVERTED_MARK).exists()
    assert sorted(p.name for p in models.iterdir()) == sorted([embedded_gguf.name, target.name])  # no leftovers
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask

    from transformers import AutoModelForCausalLM, AutoTokenizer

    converted = AutoModelForCausalLM.from_pretrained(str(target))
    tokenizer = AutoTokenizer.from_pretrained(str(target))
    model, gguf_tokenizer = em.load_gguf(embedded_gguf)
    ours, theirs = converted.state_dict(), model.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    messages = [{"role": "user", "content": "Naïve café — 3 groups?"}]
    assert tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == \
        gguf_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    text = "<|im_start|>user\nhello wörld\t  spaces<|im_end|>"
    assert tokenizer(text)["input_ids"] == gguf_tokenizer(text)["input_ids"]
    assert converted.generation_config.eos_token_id == model.generation_config.eos_token_id
    assert not getattr(converted.config, "quantization_config", None)


def test_the_default_model_resolves_to_the_converted_directory(tmp_path):
    source, gguf_file = em.resolve_model(em.DEFAULT_MODEL)
    assert gguf_file is None and (Path(source) / em.CONVERTED_MARK).exists()
    gguf = tmp_path / "other.gguf"
    gguf.write_bytes(b"")
    assert em.resolve_model(str(gguf)) == (str(tmp_path.resolve()), "other.gguf")  # a GGUF file is read as one
    assert em.resolve_model("org/some-model") == ("org/some-model", None)
    try:
        em.resolve_model(str(tmp_path / "missing.gguf"))
    except FileNotFoundError as err:
        assert "missing.gguf: no such GGUF file" in str(err)
    else:
        raise AssertionError("a missing GGUF file must be an error")
