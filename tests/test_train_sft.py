"""`harness train` end to end on the CPU with the embedded model, for each row shape
(conversations, prompt/completion, seed-004 student code): the loss falls, the adapter reloads in
the transformers backend and changes its output, and a run killed with SIGKILL after a checkpoint
resumes and ends with the same adapter as an uninterrupted run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from formats_model import smol_tokenizer  # noqa: F401  (a pytest fixture)
from harness.backends.base import Request
from harness.episode import Message, Sampling
from harness.train import TrainConfig, TrainError, train
from harness.train.checkpoints import latest_checkpoint
from harness.train.log import read_log
from train_rows import CONVERSATIONS, PROMPT_COMPLETION, fresh_base_model, training_file  # noqa: F401

KINDS = ["conversations", "prompt-completion", "student-code"]
STEPS, SAVE_EVERY = 12, 4
SETTINGS = dict(max_steps=STEPS, batch_size=1, gradient_accumulation_steps=1, learning_rate=1e-3, lora_r=8,
                lora_alpha=16, val_ratio=0.0, max_length=96, seed=0, save_steps=SAVE_EVERY)
RESUME_TOLERANCE = 1e-5
"""Largest absolute difference allowed between an adapter weight of the resumed run and of the
uninterrupted one: float32 on CPU, the same batches, optimizer and RNG states; in practice 0."""


def cli_args(settings: dict) -> list[str]:
    out = []
    for key, value in settings.items():
        out += [f"--{key.replace('_', '-')}", str(value)]
    return out


def adapter_weights(directory: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(directory / "adapter_model.safetensors"))


def kill_after_first_checkpoint(data: Path, out: Path) -> None:
    """Run `harness train` in a subprocess, SIGKILL it once a complete checkpoint is on disk."""
    proc = subprocess.Popen([sys.executable, "-m", "harness", "train", str(data), "-o", str(out), "--quiet",
                             *cli_args(SETTINGS)], cwd=out.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        while latest_checkpoint(out / "checkpoints") is None:
            if proc.poll() is not None:
                pytest.fail(f"harness train ended (exit {proc.returncode}) before its first checkpoint: "
                            f"{proc.stderr.read()[-3000:]}")
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.2)  # polls the process and the directory, no fixed sleep
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (out / "manifest.json").exists()


@pytest.fixture(scope="module", params=KINDS)
def run(request, tmp_path_factory, smol_tokenizer, fresh_base_model):  # noqa: F811
    """For one kind of rows: an uninterrupted run, and a run killed after a checkpoint then rerun."""
    kind = request.param
    root = tmp_path_factory.mktemp(kind.replace("-", "_"))
    data = training_file(kind, root)
    config = TrainConfig(**SETTINGS)
    whole = train([data], root / "whole", config, tokenizer=smol_tokenizer, base_model=fresh_base_model(),
                  progress=False)
    kill_after_first_checkpoint(data, root / "killed")
    resumed = train([data], root / "killed", config, tokenizer=smol_tokenizer, base_model=fresh_base_model(),
                    progress=False)
    return kind, root, whole, resumed


def test_the_loss_falls(run):
    _, root, whole, _ = run
    losses = [e["loss"] for e in read_log(root / "whole" / "log.jsonl") if "loss" in e]
    assert len(losses) == STEPS
    assert whole.steps == STEPS and whole.dropped == 0
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.5 * first, losses
    assert (root / "whole" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = json.loads((root / "whole" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["report"]["last_loss"] == losses[-1]
    assert manifest["settings"]["learning_rate"] == 1e-3


def test_resume_after_kill_gives_the_same_adapter(run):
    _, root, _whole, resumed = run
    assert resumed.resumed_from is not None and resumed.resumed_from % SAVE_EVERY == 0
    assert resumed.steps == STEPS
    a, b = adapter_weights(root / "whole" / "adapter"), adapter_weights(root / "killed" / "adapter")
    assert a.keys() == b.keys() and len(a) > 0
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= RESUME_TOLERANCE, f"largest weight difference {worst}"
    # the log of the resumed run reads as one run: every step once
    steps = [e["step"] for e in read_log(root / "killed" / "log.jsonl") if "loss" in e]
    assert steps == list(range(1, STEPS + 1))


def _greedy(backend, messages):
    request = Request([Message(**m) for m in messages], Sampling(n=1, temperature=0, max_tokens=12, seed=0))
    return asyncio.run(backend.generate([request]))[0][0].text


def test_the_adapter_reloads_in_the_transformers_backend(run, transformers_backend):
    from harness.backends.transformers_backend import TransformersBackend

    kind, root, whole, _ = run
    adapter = root / "whole" / "adapter"
    assert whole.weights == str(adapter)
    if kind == "conversations":
        prompt = CONVERSATIONS[0]["messages"][:2]
    elif kind == "prompt-completion":
        prompt = PROMPT_COMPLETION[0]["prompt"]
    else:
        prompt = [{"role": "user", "content": "Write inc."}]
    tuned = TransformersBackend(adapter=str(adapter))
    try:
        assert tuned.model_name.endswith(str(adapter))
        assert _greedy(tuned, prompt) != _greedy(transformers_backend, prompt)
    finally:
        asyncio.run(tuned.aclose())


def test_vllm_lora_request_points_at_the_adapter(run):
    from harness.backends.vllm_backend import lora_request_kwargs

    _, root, _, _ = run
    adapter = str(root / "whole" / "adapter")
    kwargs = lora_request_kwargs(adapter)
    assert kwargs["lora_path"] == adapter
    config = json.loads(Path(adapter, "adapter_config.json").read_text(encoding="utf-8"))
    # what vLLM's LoRA loader reads: a LoRA of linear layers only, no extra saved modules
    assert config["peft_type"] == "LORA" and config["r"] == 8 and not config.get("modules_to_save")
    assert set(config["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                              "down_proj"}
    assert Path(adapter, "adapter_model.safetensors").is_file()


def test_a_finished_run_is_not_trained_again_and_other_settings_are_refused(run):
    kind, root, whole, _ = run
    data = training_file(kind, root)
    again = train([data], root / "whole", TrainConfig(**SETTINGS), progress=False)
    assert again == whole  # from the manifest: nothing loaded, nothing trained
    with pytest.raises(TrainError, match=r"other settings \(learning_rate: 0.001 -> 0.002"):
        train([data], root / "whole", TrainConfig(**{**SETTINGS, "learning_rate": 2e-3}), progress=False)


def test_cli_errors_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(CONVERSATIONS[0]) + "\n" + json.dumps({"messages": [{"role": "user"}]}) + "\n",
                   encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "harness", "train", str(bad), "-o", str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1
    assert f"error: {bad}:2: /messages/0/content: expected a string, got NoneType" in result.stderr
    assert "Traceback" not in result.stderr


def test_stdout_holds_no_training_log(tmp_path):
    """stdout is a command's result (harness raft prints its stats table there): the Trainer's
    log dicts go to stderr beside the progress bar (test_raft.py checks --quiet's stdout)."""
    data = training_file("conversations", tmp_path)
    result = subprocess.run([sys.executable, "-m", "harness", "train", str(data), "-o", str(tmp_path / "out"),
                             *cli_args({**SETTINGS, "max_steps": 2, "save_steps": 2})],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == ""
    assert "'loss':" in result.stderr and len([e for e in read_log(tmp_path / "out" / "log.jsonl") if "loss" in e]) == 2


@pytest.mark.parametrize("checkpointing", [False, True])
def test_the_trainer_settings_use_this_transformers_versions_names(tmp_path, checkpointing):
    # transformers 5 renamed gradient_checkpointing; passing the old name warns on every run.
    from harness.train.sft import sft_config

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        args = sft_config(TrainConfig(gradient_checkpointing=checkpointing), tmp_path, kind="messages",
                          has_eval=False, precision="fp32", progress=False)
    assert [str(w.message) for w in caught if "deprecated" in str(w.message)] == []
    assert args.gradient_checkpointing is checkpointing
