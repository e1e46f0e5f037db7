"""Configs for `accelerate launch` (DDP, FSDP, DeepSpeed), generated and read back by accelerate
itself on the CPU; the precision chosen for the machine."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.train.launch import LaunchConfig, launch_command, write_accelerate_config
from harness.train.loading import choose_precision


@pytest.mark.parametrize("strategy, distributed", [("ddp", "MULTI_GPU"), ("fsdp", "FSDP"), ("deepspeed", "DEEPSPEED")])
def test_accelerate_reads_the_config(strategy, distributed, tmp_path):
    from accelerate.commands.config.config_args import ClusterConfig

    path = tmp_path / f"{strategy}.yaml"
    write_accelerate_config(path, LaunchConfig(strategy=strategy, num_processes=16, num_machines=2,
                                               machine_rank=1, main_process_ip="10.0.0.1", zero_stage=3))
    config = ClusterConfig.from_yaml_file(str(path))
    assert config.distributed_type.value == distributed
    assert (config.num_processes, config.num_machines, config.machine_rank) == (16, 2, 1)
    assert config.main_process_ip == "10.0.0.1" and config.mixed_precision == "bf16"
    if strategy == "fsdp":
        assert config.fsdp_config["fsdp_version"] == 2
    if strategy == "deepspeed":
        assert config.deepspeed_config["zero_stage"] == 3


def test_cli_writes_a_config_and_says_how_to_launch(tmp_path):
    result = subprocess.run([sys.executable, "-m", "harness", "train", "accelerate-config", "-o",
                             str(tmp_path / "ddp.yaml"), "--num-processes", "4"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "accelerate launch --config_file" in result.stderr and "-m harness train" in result.stderr
    assert "num_processes: 4" in (tmp_path / "ddp.yaml").read_text()
    bad = subprocess.run([sys.executable, "-m", "harness", "train", "accelerate-config", "-o", str(tmp_path / "x.yaml"),
                          "--num-machines", "2"], capture_output=True, text=True)
    assert bad.returncode == 1 and "main_process_ip" in bad.stderr
    assert launch_command("ddp.yaml", ["t.jsonl", "-o", "run"])[:6] == \
        ["accelerate", "launch", "--config_file", "ddp.yaml", "-m", "harness"]


def test_precision_is_fp32_on_cpu():
    import torch

    assert choose_precision("auto") == ("bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported()
                                        else "fp32")
    assert choose_precision("fp16") == "fp16"
