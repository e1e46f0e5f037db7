"""Training: LoRA (or full) supervised fine-tuning over TRL's SFTTrainer and peft.

    from harness.train import TrainConfig, train
    report = train(["train.parquet"], "runs/sft", TrainConfig(max_steps=100))

See docs/training.md. `progressive` runs seed 002's three phases, `evaluate` its two evaluation
tasks, `export` writes a model as a plain transformers directory.
"""

from harness.train.config import TrainConfig
from harness.train.sft import TrainError, TrainReport, train

__all__ = ["TrainConfig", "TrainError", "TrainReport", "train"]
