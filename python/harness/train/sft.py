"""`harness train`: supervised fine-tuning with TRL's SFTTrainer and a peft LoRA adapter.

    report = train(["train.parquet"], "runs/sft", TrainConfig(max_steps=200))
    # runs/sft/adapter/       the LoRA adapter (TransformersBackend(adapter=...), vLLM LoRARequest)
    # runs/sft/model/         instead, with method="full": the whole fine-tuned model
    # runs/sft/merged/        with merge=True: base model + adapter merged, a plain model directory
    # runs/sft/checkpoints/   checkpoint-N: weights, optimizer, scheduler, RNG, data position
    # runs/sft/log.jsonl      the training log; runs/sft/loss.png its loss curve
    # runs/sft/manifest.json  written last: the report, the settings and the inputs

No training loop of ours: the rows are put in TRL's shapes (`harness.train.data`), the loss
masks are TRL's own (assistant-only / completion-only, with a chat template that marks the
assistant tokens: `harness.train.templates`), and the Trainer does the rest. What the harness
adds is what a pipeline needs around it: one writer per output directory (a lock), settings
checked on a rerun, resumption from the latest complete checkpoint after any crash or kill -9,
the log and the plot, atomic final outputs and a manifest.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write
from harness.options import content_settings
from harness.train.checkpoints import discard_incomplete, latest_checkpoint
from harness.train.config import TrainConfig
from harness.train.data import TrainDataError, TrainingRows, read_training_rows
from harness.train.loading import choose_precision, load_model, load_tokenizer
from harness.train.log import log_callback, read_log, trim_log
from harness.train.templates import training_chat_template

__all__ = ["TrainError", "TrainReport", "build_trainer", "run_identity", "sft_config", "train"]


class TrainError(ValueError):
    """A run that cannot start or resume as asked (mismatched settings, nothing to train)."""


@dataclass(frozen=True)
class TrainReport:
    output: str
    kind: str
    rows: int
    """Training rows read (after the validation split)."""
    val_rows: int
    sequences: int
    """What TRL trains on: the rows left after truncation (packed sequences when packing)."""
    dropped: int
    """Rows left with no trained token after truncation to max_length (not packing)."""
    steps: int
    epochs: float
    first_loss: float | None
    last_loss: float | None
    eval_loss: float | None
    tokens: int
    seconds: float
    resumed_from: int | None
    precision: str
    method: str
    weights: str
    """The adapter directory, or the model directory for a full fine-tune."""
    merged: str | None

    def summary(self) -> str:
        loss = (f"loss {self.first_loss:.3f} -> {self.last_loss:.3f}"
                if self.first_loss is not None and self.last_loss is not None else "no loss logged")
        evaluation = f", validation loss {self.eval_loss:.3f}" if self.eval_loss is not None else ""
        resumed = f", resumed from step {self.resumed_from}" if self.resumed_from else ""
        return (f"trained {self.steps} steps ({self.epochs:.2f} epochs, {self.method}, {self.precision}) on "
                f"{self.rows} {self.kind} rows ({self.dropped} dropped, {self.val_rows} validation): "
                f"{loss}{evaluation}{resumed}; {self.tokens} tokens in {self.seconds:.0f} s -> {self.weights}")


def run_identity(inputs: Sequence[str | os.PathLike[str]], config: TrainConfig) -> dict[str, Any]:
    """What a rerun into the same directory must match: the content settings and the inputs
    (absolute path and size of each training and validation file)."""
    def files(paths: Sequence[str | os.PathLike[str]]) -> list[dict[str, Any]]:
        out = []
        for p in paths:
            path = os.path.abspath(os.fspath(p))
            out.append({"path": path, "bytes": os.path.getsize(path) if os.path.isfile(path) else None})
        return out

    return {"settings": content_settings(config), "inputs": files(inputs), "validation": files(config.validation)}


def _check_identity(out: Path, identity: dict[str, Any], *, resuming: bool) -> None:
    """A run with something to resume (a checkpoint, or a finished run) must have the same
    identity; a fresh start records its own."""
    path = out / "settings.json"
    if resuming and path.exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
        if previous != identity:
            diffs = [f"{k}: {previous['settings'].get(k)!r} -> {v!r}"
                     for k, v in identity["settings"].items() if previous.get("settings", {}).get(k) != v]
            if previous.get("inputs") != identity["inputs"] or previous.get("validation") != identity["validation"]:
                diffs.append("the input files changed")
            raise TrainError(f"{out} holds a run with other settings ({'; '.join(diffs) or 'different'}); "
                             "train into another directory, or remove this one to start over")
        return
    with atomic_write(path) as f:
        json.dump(identity, f, indent=2)


def sft_config(config: TrainConfig, checkpoints: Path, *, kind: str, has_eval: bool, precision: str,
               progress: bool) -> Any:
    """TRL's SFTConfig for the harness's settings (every default TRL would pick differently from
    ours is set here explicitly)."""
    import torch
    from trl import SFTConfig

    eval_strategy = "steps" if has_eval and config.eval_steps else "no"
    # transformers 5 renamed gradient_checkpointing to activation_checkpointing (the old name
    # warns on every run); pass ours under the name this version takes.
    name = "activation_checkpointing" if "activation_checkpointing" in {
        f.name for f in dataclasses.fields(SFTConfig)} else "gradient_checkpointing"
    checkpointing: dict[str, Any] = {name: config.gradient_checkpointing}
    return SFTConfig(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        max_length=config.max_length,
        packing=config.packing,
        pad_to_multiple_of=config.pad_to_multiple_of,
        assistant_only_loss=kind in ("messages", "prompt-completion"),
        completion_only_loss=kind in ("prompt-completion", "tokens"),
        seed=config.seed,
        data_seed=config.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        **checkpointing,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        save_only_model=False,
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        logging_first_step=True,
        eval_strategy=eval_strategy,
        eval_steps=config.eval_steps if eval_strategy == "steps" else None,
        report_to=[],
        disable_tqdm=not progress,
        dataloader_num_workers=config.dataloader_workers,
        dataset_num_proc=None,
    )


def _datasets(rows: TrainingRows, val: TrainingRows | None, config: TrainConfig) -> tuple[Any, Any]:
    import datasets

    train_ds = datasets.Dataset.from_list(rows.rows)
    if val is not None:
        return train_ds, datasets.Dataset.from_list(val.rows)
    if config.val_ratio:
        if len(train_ds) < 2:
            raise TrainError(f"a validation split of {len(train_ds)} row needs at least 2 rows; "
                             "set --val-ratio 0")
        parts = train_ds.train_test_split(test_size=config.val_ratio, seed=config.seed)  # the seed's split
        return parts["train"], parts["test"]
    return train_ds, None


def _model(config: TrainConfig, base_model: Any) -> tuple[Any, Any]:
    """The model to hand to SFTTrainer and the peft config (None when the model has its adapter)."""
    model = base_model if base_model is not None else load_model(config.model)
    if config.method == "full":
        return model, None
    from peft import LoraConfig, PeftModel

    if config.init_adapter:
        return PeftModel.from_pretrained(model, config.init_adapter, is_trainable=True), None
    targets = list(config.lora_target_modules)
    return model, LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
        target_modules="all-linear" if targets in ([], ["all-linear"]) else targets,
        bias="none", task_type="CAUSAL_LM")


def build_trainer(inputs: Sequence[str | os.PathLike[str]], checkpoints: Path, config: TrainConfig, *,
                  tokenizer: Any = None, base_model: Any = None, progress: bool = True,
                  callbacks: Sequence[Any] = ()) -> tuple[Any, str, int, int]:
    """The SFTTrainer of a run (its datasets prepared by TRL), the rows' kind, and the numbers
    of training and validation rows. `base_model` (loaded, float32) gets the adapter attached in place."""
    from trl import SFTTrainer

    tokenizer = copy.copy(tokenizer if tokenizer is not None else load_tokenizer(config.model))
    rows = read_training_rows(inputs, tokenizer=tokenizer, variant=config.variant, text_eos=config.text_eos,
                              limit=config.limit)
    val = None
    if config.validation:
        val = read_training_rows(config.validation, tokenizer=tokenizer, variant=config.variant,
                                 text_eos=config.text_eos)
        if val.kind != rows.kind:
            raise TrainDataError(val.sources[0][0], val.sources[0][1], "",
                                 f"validation rows are {val.kind} rows, the training rows {rows.kind} rows")
    if rows.kind in ("messages", "prompt-completion"):
        # Renders the same text as the model's own template, with the assistant tokens marked.
        tokenizer.chat_template = training_chat_template(tokenizer, config.chat_template)
    train_ds, eval_ds = _datasets(rows, val, config)
    model, peft_config = _model(config, base_model)
    args = sft_config(config, checkpoints, kind=rows.kind, has_eval=eval_ds is not None,
                      precision=choose_precision(config.precision), progress=progress)
    trainer = SFTTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                         processing_class=tokenizer, peft_config=peft_config, callbacks=list(callbacks))
    _log_dicts_off_stdout(trainer)
    return trainer, rows.kind, len(train_ds), 0 if eval_ds is None else len(eval_ds)


def _log_dicts_off_stdout(trainer: Any) -> None:
    """The Trainer prints each log event as a dict on stdout (PrinterCallback when quiet, the
    progress bar's tqdm.write otherwise); stdout is a command's result (harness raft's stats
    table), so quiet prints nothing (log.jsonl has every event) and the bar writes them on stderr."""
    import contextlib
    import sys

    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class StderrProgress(ProgressCallback):
        def on_log(self, *args: Any, **kwargs: Any) -> None:
            with contextlib.redirect_stdout(sys.stderr):
                super().on_log(*args, **kwargs)

    trainer.remove_callback(PrinterCallback)
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(StderrProgress)


def _replace_dir(tmp: Path, final: Path) -> None:
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def _main_process() -> bool:
    """Whether this is process 0 of a distributed launch (accelerate and torchrun set RANK), or
    the only process."""
    return int(os.environ.get("RANK", "0")) == 0


def _save_outputs(trainer: Any, out: Path, config: TrainConfig, tokenizer: Any) -> tuple[Path, Path | None]:
    """The final weights (and merged model), each directory renamed into place when complete.
    Every process takes part in saving (sharded weights are gathered); process 0 writes."""
    main = _main_process()
    name = "adapter" if config.method == "lora" else "model"
    tmp = out / f".{name}.tmp"
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(tmp))
    trainer.accelerator.wait_for_everyone()
    merged = out / "merged" if config.merge else None
    if not main:
        return out / name, merged
    tokenizer.save_pretrained(tmp)  # the model's own chat template, not the training copy
    _replace_dir(tmp, out / name)
    if merged is not None:
        tmp = out / ".merged.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        # A copy: merging rewrites the base weights, and the trainer's model must stay as trained.
        copy.deepcopy(trainer.model).merge_and_unload().save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        _replace_dir(tmp, merged)
    return out / name, merged


def _losses(entries: list[dict[str, Any]]) -> tuple[float | None, float | None, float | None, int]:
    losses = [e["loss"] for e in entries if isinstance(e.get("loss"), (int, float))]
    evals = [e["eval_loss"] for e in entries if isinstance(e.get("eval_loss"), (int, float))]
    tokens = [e["num_tokens"] for e in entries if isinstance(e.get("num_tokens"), (int, float))]
    return (losses[0] if losses else None, losses[-1] if losses else None,
            evals[-1] if evals else None, int(tokens[-1]) if tokens else 0)


def _progress_callback(on_progress: Callable[[int, int | None, str], None]) -> Any:
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
                   **kwargs: Any) -> None:
            loss = (logs or {}).get("loss")
            text = f"step {state.global_step}/{state.max_steps}" + (f", loss {loss:.4f}" if loss is not None else "")
            on_progress(state.global_step, state.max_steps or None, text)

    return Progress()


def train(inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], config: TrainConfig, *,
          tokenizer: Any = None, base_model: Any = None, progress: bool = True,
          on_progress: Callable[[int, int | None, str], None] | None = None) -> TrainReport:
    """Train on `inputs` into the directory `output`; see the module docstring. A rerun with the
    same settings resumes from the latest complete checkpoint, or returns the finished run's
    report; other settings are an error. `tokenizer` and `base_model` are ready objects (the
    model is modified in place); by default both are loaded from `config.model`. `on_progress(step,
    total, message)` is called at every log step (Luigi shows it)."""
    from harness.engine.lock import Lock
    from harness.train.plots import loss_curve

    if not inputs:
        raise TrainError("no training files given")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    # Under `accelerate launch` every process runs this; process 0 holds the lock and writes.
    main = _main_process()
    lock = Lock(out / "train.lock", what="this training run")
    if main:
        lock.acquire()
    try:
        manifest = out / "manifest.json"
        checkpoints = out / "checkpoints"
        if main:
            discard_incomplete(checkpoints)
        resume = latest_checkpoint(checkpoints)
        if main:
            _check_identity(out, run_identity(inputs, config), resuming=manifest.exists() or resume is not None)
        if manifest.exists():
            return TrainReport(**json.loads(manifest.read_text(encoding="utf-8"))["report"])
        start = time.monotonic()
        resumed_from = int(resume.name.split("-")[1]) if resume else None
        log_path = out / "log.jsonl"
        if main:
            trim_log(log_path, resumed_from or 0)
        tokenizer = tokenizer if tokenizer is not None else load_tokenizer(config.model)
        trainer, kind, train_rows, val_rows = build_trainer(inputs, checkpoints, config, tokenizer=tokenizer,
                                                base_model=base_model, progress=progress,
                                                callbacks=[log_callback(log_path)] + (
                                                    [_progress_callback(on_progress)] if on_progress else []))
        sequences = len(trainer.train_dataset)
        if sequences == 0:
            raise TrainError(f"0 of {train_rows} rows are left to train on after truncation to "
                             f"max_length {config.max_length}")
        result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        if trainer.eval_dataset is not None:
            trainer.evaluate()
        weights, merged = _save_outputs(trainer, out, config, tokenizer)
        entries = read_log(log_path)
        first, last, eval_loss, tokens = _losses(entries)
        report = TrainReport(
            output=str(out), kind=kind, rows=train_rows, val_rows=val_rows, sequences=sequences,
            dropped=0 if config.packing else train_rows - sequences,
            steps=int(result.global_step), epochs=float(trainer.state.epoch or 0.0), first_loss=first,
            last_loss=last, eval_loss=eval_loss, tokens=tokens, seconds=round(time.monotonic() - start, 3),
            resumed_from=resumed_from, precision=choose_precision(config.precision), method=config.method,
            weights=str(weights), merged=str(merged) if merged else None)
        if main:
            loss_curve(entries, out / "loss.png", title=f"{out.name}: {kind} rows, {config.method}")
            with atomic_write(manifest) as f:
                json.dump({"report": asdict(report), **run_identity(inputs, config)}, f, indent=2)
        return report
    finally:
        if main:
            lock.release()
