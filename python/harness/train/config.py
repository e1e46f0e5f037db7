"""The settings of a training run (`harness train`, Luigi `TrainSFT`, each progressive phase).

The defaults are seed 004's recipe, which is also a sound LoRA default for any small SFT job:
LoRA r 16 / alpha 32 / dropout 0.05 on every linear layer, learning rate 1e-4 with a cosine
schedule, one epoch, batch 4 with 4 gradient-accumulation steps, a 90/10 train/validation split
with seed 42, padding to the longest sequence of the batch rounded up to a multiple of 8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.embedded_model import DEFAULT_MODEL
from harness.options import setting

__all__ = ["SCHEDULERS", "TrainConfig"]

SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial")


@dataclass(frozen=True)
class TrainConfig:
    model: str = setting(DEFAULT_MODEL, help="Base model: the embedded default, a .gguf file, a local "
                         "transformers directory (`harness model export`) or a hub id.")
    method: Literal["lora", "full"] = setting("lora", help="LoRA adapters (peft) or full fine-tuning.")
    init_adapter: str | None = setting(None, help="Start from this LoRA adapter (a directory with "
                                       "adapter_config.json: a previous run's adapter or checkpoint) "
                                       "instead of a fresh one.")
    lora_r: int = setting(16, help="LoRA rank.")
    lora_alpha: int = setting(32, help="LoRA alpha (the update is scaled by alpha / r).")
    lora_dropout: float = setting(0.05, help="Dropout on the LoRA branch.")
    lora_target_modules: list[str] = setting(factory=list, metavar="MODULE",
                                             help="Modules that get adapters (e.g. q_proj); none given: "
                                             "every linear layer but the output head (all-linear).")
    epochs: float = setting(1.0, help="Passes over the training rows.")
    max_steps: int | None = setting(None, help="Stop after this many optimizer steps (overrides epochs); "
                                    "none: run the epochs.")
    learning_rate: float = setting(1e-4, help="Peak learning rate (AdamW).")
    lr_scheduler: Literal[SCHEDULERS] = setting("cosine", help="Learning-rate schedule.")  # type: ignore[valid-type]
    warmup_ratio: float = setting(0.0, help="Share of the steps spent warming the learning rate up.")
    weight_decay: float = setting(0.0, help="AdamW weight decay.")
    batch_size: int = setting(4, help="Rows per device per forward pass.")
    gradient_accumulation_steps: int = setting(4, help="Forward passes per optimizer step.")
    max_length: int | None = setting(2048, help="Tokens per row; longer rows are cut at the end "
                                     "(a row left with nothing to train is dropped and counted); "
                                     "none: no limit.")
    packing: bool = setting(False, help="Padding-free packing: the rows of a batch are concatenated "
                            "into one sequence, no padding tokens (same loss per token).")
    pad_to_multiple_of: int | None = setting(8, help="Pad each batch to the longest row rounded up to a "
                                             "multiple of this; none: to the longest row.")
    seed: int = setting(42, help="Seed of the validation split, the data order, dropout and the "
                        "adapter's initial weights.")
    val_ratio: float = setting(0.1, help="Share of the training rows held out for validation (the "
                               "seed's train_test_split); 0: none.")
    validation: list[str] = setting(factory=list, metavar="FILE",
                                    help="Validation files (instead of a split of the training rows).")
    limit: int | None = setting(None, help="The first N training rows only; none: all.")
    variant: str | None = setting(None, help="Seed 004 template variant for raw {INPUT, OUTPUT} rows "
                                  "(exp1_without_context, exp1_with_context, exp2_without_context, "
                                  "exp2_with_context).")
    text_eos: bool = setting(False, help="Append the end-of-sequence token to text (non-chat) "
                             "completions. Off, as in seed 004: the completion's own stop marker "
                             "(`</code>`) ends it.")
    chat_template: str | None = setting(None, help="A Jinja chat template file with {% generation %} "
                                        "markers, for a model whose own template lacks them and has no "
                                        "known training version.")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = setting(
        "auto", help="auto: bf16 mixed precision on a GPU that has it, fp32 on CPU.")
    merge: bool = setting(False, help="Also write the base model with the adapter merged in (merged/).")
    save_steps: int = setting(500, content=False, help="Write a checkpoint (weights, optimizer, "
                              "scheduler, RNG, data position) every N optimizer steps, and at the end.")
    save_total_limit: int | None = setting(2, content=False, help="Checkpoints kept; none: all.")
    logging_steps: int = setting(1, content=False, help="Log loss and learning rate every N steps.")
    eval_steps: int | None = setting(None, content=False, help="Validation loss every N steps; none: "
                                     "at the end only.")
    gradient_checkpointing: bool = setting(False, content=False,
                                           help="Recompute activations in the backward pass (less memory, "
                                           "more time).")
    dataloader_workers: int = setting(0, content=False, help="Data-loading worker processes.")

    def __post_init__(self) -> None:
        checks = [
            (self.lora_r >= 1, "lora_r must be at least 1"),
            (self.lora_alpha >= 1, "lora_alpha must be at least 1"),
            (0 <= self.lora_dropout < 1, "lora_dropout must be in [0, 1)"),
            (self.epochs > 0, "epochs must be above 0"),
            (self.max_steps is None or self.max_steps >= 1, "max_steps must be at least 1"),
            (self.learning_rate > 0, "learning_rate must be above 0"),
            (0 <= self.warmup_ratio < 1, "warmup_ratio must be in [0, 1)"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.gradient_accumulation_steps >= 1, "gradient_accumulation_steps must be at least 1"),
            (self.max_length is None or self.max_length >= 8, "max_length must be at least 8"),
            (self.pad_to_multiple_of is None or self.pad_to_multiple_of >= 1,
             "pad_to_multiple_of must be at least 1"),
            (0 <= self.val_ratio < 1, "val_ratio must be in [0, 1)"),
            (not (self.val_ratio and self.validation), "val_ratio and validation exclude each other: "
             "give validation files or a split ratio (set --val-ratio 0)"),
            (self.limit is None or self.limit >= 1, "limit must be at least 1"),
            (self.save_steps >= 1, "save_steps must be at least 1"),
            (self.save_total_limit is None or self.save_total_limit >= 1, "save_total_limit must be at least 1"),
            (self.logging_steps >= 1, "logging_steps must be at least 1"),
            (self.eval_steps is None or self.eval_steps >= 1, "eval_steps must be at least 1"),
            (self.dataloader_workers >= 0, "dataloader_workers must be >= 0"),
            (not (self.method == "full" and self.init_adapter), "init_adapter needs method lora "
             "(to continue a full fine-tune, pass its model directory as model)"),
            (not (self.method == "full" and self.merge), "merge needs method lora (a full fine-tune "
             "writes the whole model already)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if self.variant is not None:
            from harness.formats.student_code import VARIANTS

            if self.variant not in VARIANTS:
                raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, not {self.variant!r}")
