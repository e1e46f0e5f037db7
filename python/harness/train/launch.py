"""Configs for `accelerate launch`: `harness train` on several GPUs or machines.

    write_accelerate_config("ddp.yaml", LaunchConfig(strategy="ddp", num_processes=8))
    # then: accelerate launch --config_file ddp.yaml -m harness train FILES -o DIR

The Trainer under TRL reads the distributed setup that `accelerate launch` gives each process, so
the command is the same `harness train`; only the launcher changes. `ddp` replicates the model on
every GPU (a LoRA adapter on a model that fits one GPU), `fsdp` shards weights, gradients and
optimizer states (FSDP 2, transformer-block wrapping; a full fine-tune of a large model),
`deepspeed` uses ZeRO (stage 1-3). Every process needs the same files: put the run directory on
a shared file system; only process 0 writes the log, the checkpoints and the outputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from harness.atomic import atomic_write

__all__ = ["LaunchConfig", "accelerate_config", "launch_command", "write_accelerate_config"]


@dataclass(frozen=True)
class LaunchConfig:
    strategy: Literal["ddp", "fsdp", "deepspeed"] = "ddp"
    num_processes: int = 8
    num_machines: int = 1
    machine_rank: int = 0
    main_process_ip: str | None = None
    main_process_port: int = 29500
    mixed_precision: Literal["bf16", "fp16", "no"] = "bf16"
    zero_stage: int = 2

    def __post_init__(self) -> None:
        if self.strategy not in ("ddp", "fsdp", "deepspeed"):
            raise ValueError(f"strategy must be ddp, fsdp or deepspeed, not {self.strategy!r}")
        if self.num_processes < 1 or self.num_machines < 1:
            raise ValueError("num_processes and num_machines must be at least 1")
        if self.num_processes % self.num_machines:
            raise ValueError(f"num_processes ({self.num_processes}) must be a multiple of num_machines "
                             f"({self.num_machines}): the same number of GPUs on every machine")
        if not 0 <= self.machine_rank < self.num_machines:
            raise ValueError(f"machine_rank must be in [0, {self.num_machines})")
        if self.num_machines > 1 and not self.main_process_ip:
            raise ValueError("several machines need main_process_ip (the address of machine 0)")
        if self.zero_stage not in (1, 2, 3):
            raise ValueError("zero_stage must be 1, 2 or 3")


def accelerate_config(config: LaunchConfig) -> dict[str, Any]:
    """The config as accelerate's own `accelerate config` writes it."""
    out: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "distributed_type": {"ddp": "MULTI_GPU", "fsdp": "FSDP", "deepspeed": "DEEPSPEED"}[config.strategy],
        "downcast_bf16": "no",
        "machine_rank": config.machine_rank,
        "main_training_function": "main",
        "mixed_precision": config.mixed_precision,
        "num_machines": config.num_machines,
        "num_processes": config.num_processes,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": False,
    }
    if config.num_machines > 1:
        out.update(main_process_ip=config.main_process_ip, main_process_port=config.main_process_port)
    if config.strategy == "fsdp":
        out["fsdp_config"] = {
            "fsdp_version": 2,
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_reshard_after_forward": True,
            "fsdp_state_dict_type": "FULL_STATE_DICT",  # checkpoints and outputs load anywhere
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_offload_params": False,
            "fsdp_activation_checkpointing": False,
        }
    if config.strategy == "deepspeed":
        out["deepspeed_config"] = {
            "deepspeed_multinode_launcher": "standard",
            "zero_stage": config.zero_stage,
            "offload_optimizer_device": "none",
            "offload_param_device": "none",
            "zero3_init_flag": config.zero_stage == 3,
        }
    return out


def write_accelerate_config(path: str | os.PathLike[str], config: LaunchConfig) -> None:
    import yaml

    with atomic_write(path) as f:
        yaml.safe_dump(accelerate_config(config), f, sort_keys=True)


def launch_command(config_file: str, train_args: list[str]) -> list[str]:
    """`accelerate launch --config_file FILE -m harness train ARGS…`."""
    return ["accelerate", "launch", "--config_file", config_file, "-m", "harness", "train", *train_args]
