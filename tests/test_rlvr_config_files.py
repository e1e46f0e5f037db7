"""Run configurations (configs/*.yaml): the shipped ones build valid settings, bad files are named
by line and key, and the command line wins over the file in `harness` and in Luigi."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.rlvr.checkpoints import PassAtKConfig
from harness.rlvr.config_files import ConfigFileError, read_config_file
from harness.rlvr.prepare import PrepareConfig, prepare
from harness.rlvr.raft import RaftConfig
from luigi_tasks.rlvr import PassAtKAcrossCheckpoints, PrepareRLVR, RaftCycles, RaftSamples

ROOT = Path(__file__).resolve().parents[1]
MBPP = Path(__file__).parent / "fixtures" / "code" / "mbpp_small.jsonl"
ENV = {**os.environ, "NO_COLOR": "1"}


@pytest.mark.parametrize("name, raft, passk", [
    ("validation_run", {"problems": "data/rlvr/humaneval_validation.jsonl", "tests": "data/rlvr/humaneval_full.jsonl",
                        "dataset": "humaneval", "model": "Qwen/Qwen2.5-Coder-3B", "cycles": 3, "samples_per_task": 4},
     {"problems": "data/rlvr/humaneval_full.jsonl", "samples_per_task": 10, "ks": [1, 5, 10]}),
    ("production_run", {"problems": "data/rlvr/mbpp_train_full.jsonl", "dataset": "mbpp",
                        "model": "Qwen/Qwen2.5-Coder-7B", "cycles": 5, "samples_per_task": 8},
     {"problems": "data/rlvr/humaneval_full.jsonl", "samples_per_task": 10, "ks": [1, 5, 10]}),
])
def test_the_seeds_run_configurations(name: str, raft: dict, passk: dict) -> None:
    sections = read_config_file(ROOT / "configs" / f"{name}.yaml")
    config = RaftConfig(**sections["raft"])
    assert {k: getattr(config, k) for k in raft} == raft
    assert (config.temperature, config.max_tokens, config.timeout, config.verifier_name) == (
        0.7, 1024, 30.0, "humaneval" if name == "validation_run" else "mbpp")
    assert (config.lora_r, config.lora_alpha, config.lora_dropout, config.epochs) == (16, 32, 0.05, 1.0)
    benchmark = PassAtKConfig(**sections["passk"])
    assert {k: getattr(benchmark, k) for k in passk} == passk
    prepare_section = dict(sections["prepare"])
    assert prepare_section.pop("output") == "data/rlvr"
    assert PrepareConfig(**prepare_section).validation_size == 20


@pytest.mark.parametrize("text, message", [
    ("raft:\n  cycles: 2\n  samples: 4\n", "bad.yaml:3: raft.samples: not a setting of raft"),
    ("raft:\n  cycles: 2\nmodel:\n  name: x\n", "bad.yaml:3: model: not a section (expected prepare, raft, passk)"),
    ("raft: [1, 2]\n", "bad.yaml:1: raft: expected a mapping of settings"),
    ("raft:\n  cycles: [1\n", "bad.yaml:3: not valid YAML"),
    ("- raft\n", "bad.yaml:1: expected a mapping of sections"),
])
def test_a_bad_file_is_named_by_line_and_key(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigFileError, match=message.replace("[", "\\[").replace("(", "\\(").replace(")", "\\)")):
        read_config_file(bad)
    done = subprocess.run([sys.executable, "-m", "harness", "raft", "--config", str(bad), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, env=ENV)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("configs")
    prepare(root / "data", "mbpp", 2, source="local", mbpp_path=str(MBPP))
    path = root / "run.yaml"
    path.write_text(f"""
prepare:
  output: {root / 'prepared'}
  dataset: mbpp
  source: local
  mbpp_path: {MBPP}
  validation_size: 1
raft:
  problems: {root / 'data' / 'mbpp_train_full.jsonl'}
  backend: scripted
  backend_args: {{responses: ["no code"]}}
  samples_per_task: 1
  cycles: 1
  timeout: 60
  allow_empty: true
passk:
  problems: {root / 'data' / 'mbpp_train_full.jsonl'}
  dataset: mbpp
  samples_per_task: 3
""")
    return path


def test_the_command_line_wins_over_the_file(config_file: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "harness", "raft", "--config", str(config_file), "--samples-per-task",
                           "2", "-o", "run", "--quiet"], capture_output=True, text=True, cwd=tmp_path, env=ENV,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    settings = json.loads((tmp_path / "run" / "settings.json").read_text())["settings"]
    assert settings["samples_per_task"] == 2 and settings["backend"] == "scripted"  # the option, the file
    assert [c["cycle"] for c in json.loads((tmp_path / "run" / "stats.json").read_text())["cycles"]] == [1]

    prepared = subprocess.run([sys.executable, "-m", "harness", "rlvr", "prepare", "--config", str(config_file),
                               "--validation-size", "2"], capture_output=True, text=True, cwd=tmp_path, env=ENV,
                              timeout=600)
    assert prepared.returncode == 0, prepared.stderr
    summary = json.loads((config_file.parent / "prepared" / "dataset_summary.json").read_text())
    assert summary["validation_size"] == 2 and summary["dataset"] == "mbpp"
    assert "summary:" in prepared.stderr and prepared.stdout == ""  # a harness command reports on stderr


def test_luigi_reads_the_file_and_its_parameters_win(config_file: Path, tmp_path: Path) -> None:
    from_file = RaftCycles(config_file=str(config_file), data_dir=str(tmp_path))
    assert from_file.config().samples_per_task == 1 and from_file.config().backend == "scripted"
    assert from_file.wanted() == 1 and from_file.requires().cycle == 1  # the file's cycles, not the default 3
    given = RaftCycles(config_file=str(config_file), data_dir=str(tmp_path), samples_per_task=3)
    assert given.config().samples_per_task == 3
    assert given.raft_run().out != from_file.raft_run().out  # another content, another directory
    assert given.raft_run().out.parent == tmp_path / "raft"
    # the settings that do not decide content leave the run where it is; so does asking for more cycles
    assert RaftCycles(config_file=str(config_file), data_dir=str(tmp_path), cycles=4,
                      concurrency=8).raft_run().out == from_file.raft_run().out
    sample = RaftSamples(config_file=str(config_file), data_dir=str(tmp_path), cycle=2)
    assert sample.task_id.startswith("RaftSamples(mbpp,smollm2-135m-instruct,cycle-2)-")
    assert sample.requires()[0].cycle == 1
    passk = PassAtKAcrossCheckpoints(config_file=str(config_file), data_dir=str(tmp_path), raft_settings={"cycles": 2})
    assert passk.config().samples_per_task == 3 and passk.requires().wanted() == 2
    assert PrepareRLVR(config_file=str(config_file)).directory() == config_file.parent / "prepared"
