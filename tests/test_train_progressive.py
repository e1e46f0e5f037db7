"""Seed 002's progressive training: the plan (and --dry-run), and a real Luigi run of the three
phase tasks on a tiny dataset, each phase starting from the previous phase's latest checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import luigi
import pytest

from harness.train.checkpoints import latest_checkpoint
from harness.train.progressive import PhaseFiles, plan_text, progressive_plan

GOLDEN = Path(__file__).parent / "fixtures" / "formats" / "golden"
FILES = PhaseFiles(multiturn=str(GOLDEN / "parity_seed002_multiturn.jsonl"),
                   summary_only=str(GOLDEN / "parity_seed002_summary_only_train.jsonl"),
                   summary_prefix=str(GOLDEN / "parity_seed002_summary_prefix_train.jsonl"),
                   summary_prefix_val=str(GOLDEN / "parity_seed002_summary_prefix_val.jsonl"))


def test_the_plan_has_the_seeds_phases_and_overrides_win(tmp_path):
    plan = progressive_plan(FILES, tmp_path, {"max_steps": 3, "lora_r": 4})
    assert [p.name for p in plan] == ["phase1_multiturn", "phase2_summary_only", "phase3_summary_prefix"]
    assert [(p.config.epochs, p.config.learning_rate) for p in plan] == [(10, 1e-5), (10, 1e-5), (5, 5e-6)]
    assert all(p.config.max_steps == 3 and p.config.lora_r == 4 for p in plan)
    assert [p.starts_from for p in plan] == [None, plan[0].output, plan[1].output]
    assert plan[2].config.validation == [FILES.summary_prefix_val] and plan[2].config.val_ratio == 0
    assert progressive_plan(FILES, tmp_path, {"epochs": 1})[0].config.epochs == 1  # an override beats the phase
    with pytest.raises(ValueError, match="init_adapter is set by the progressive plan"):
        progressive_plan(FILES, tmp_path, {"init_adapter": "x"})


def test_dry_run_prints_the_plan_and_trains_nothing(tmp_path):
    out = tmp_path / "prog"
    result = subprocess.run(
        [sys.executable, "-m", "harness", "train", "progressive", "--multiturn", FILES.multiturn,
         "--summary-only", FILES.summary_only, "--summary-prefix", FILES.summary_prefix, "-o", str(out),
         "--max-steps", "7", "--dry-run"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    files = PhaseFiles(FILES.multiturn, FILES.summary_only, FILES.summary_prefix)
    assert result.stdout.strip() == plan_text(progressive_plan(files, out, {"max_steps": 7}))
    assert "phase 2: phase2_summary_only" in result.stdout
    assert f"starts from: the latest checkpoint of {out}/phase1_multiturn/checkpoints" in result.stdout
    assert "epochs=10" in result.stdout and "learning_rate=5e-06" in result.stdout and "max_steps=7" in result.stdout
    assert not out.exists()


def test_luigi_runs_the_three_phases_and_chains_the_checkpoints(tmp_path, monkeypatch):
    from luigi_tasks.train import TrainMultiturnPhase, TrainSummaryOnlyPhase, TrainSummaryPrefixPhase

    monkeypatch.chdir(tmp_path)
    params = dict(multiturn=FILES.multiturn, summary_only=FILES.summary_only, summary_prefix=FILES.summary_prefix,
                  summary_prefix_val=FILES.summary_prefix_val, data_dir=str(tmp_path / "data"),
                  overrides={"max_steps": 2, "batch_size": 1, "gradient_accumulation_steps": 1, "lora_r": 4,
                             "lora_alpha": 8, "max_length": 256, "save_steps": 1, "val_ratio": 0.0})
    last = TrainSummaryPrefixPhase(**params)
    assert luigi.build([last], local_scheduler=True, workers=1, detailed_summary=True).status.name == "SUCCESS"
    phases = [TrainMultiturnPhase(**params), TrainSummaryOnlyPhase(**params), last]
    manifests = [json.loads((p.output_dir() / "manifest.json").read_text(encoding="utf-8")) for p in phases]
    assert [m["report"]["steps"] for m in manifests] == [2, 2, 2]
    assert [m["report"]["kind"] for m in manifests] == ["messages", "prompt-completion", "prompt-completion"]
    assert manifests[0]["settings"]["init_adapter"] is None
    for before, after, manifest in zip(phases, phases[1:], manifests[1:]):
        # each phase starts from the latest checkpoint of the one before, and its output moves with it
        assert manifest["settings"]["init_adapter"] == str(latest_checkpoint(before.output_dir() / "checkpoints"))
        assert after.output_dir().name.endswith(after.digest())
    assert manifests[2]["report"]["val_rows"] == 5 and manifests[2]["report"]["eval_loss"] is not None
    assert (phases[2].output_dir() / "adapter" / "adapter_config.json").is_file()
    # the graph is complete: a second build runs nothing
    assert all(p.complete() for p in phases)
