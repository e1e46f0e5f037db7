"""Seed 002 from one command: `luigi --module luigi_tasks.search SearchSummarySFT`, run as a user runs
it (a subprocess, a temporary working directory). The seed's own traces are imported; their
splits and multi-turn rows are the seed's (the goldens); the summaries come from the scripted
backend (the summarizer is not what is tested, and the embedded 135M model cannot write the three
tagged parts); the three progressive phases train the embedded model one LoRA step each, each
from the previous one's latest checkpoint; the last phase's adapter is evaluated on the
summary-prefix validation rows through the transformers backend. Every file is read back."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from harness.train.checkpoints import latest_checkpoint
from pipeline_runs import luigi, ok, read_jsonl, summary

MODULE, TASK = "luigi_tasks.search", "SearchSummarySFT"
FIXTURES = Path(__file__).parent / "fixtures" / "formats"
SUMMARY = ("<question>Who founded it?</question><reasoning_summary>Searched the city.</reasoning_summary>"
           "<key_facts>\"Varnholt was founded by Ilse Marrow\"</key_facts>")
PHASES = ["phase1_multiturn", "phase2_summary_only", "phase3_summary_prefix"]
STAGES = ["traces", "splits", "multi-turn", "summaries", "datasets", *PHASES, "evaluation"]
OVERRIDES = {"max_steps": 1, "batch_size": 1, "gradient_accumulation_steps": 1, "lora_r": 4, "lora_alpha": 8,
             "max_length": 128, "val_ratio": 0.0}


def test_search_summary_sft_from_one_command(tmp_path):
    traces = tmp_path / "traces.jsonl"
    traces.write_bytes((FIXTURES / "traces_seed002.jsonl").read_bytes())
    out = ok(luigi(tmp_path, MODULE, TASK, "--importer", "seed002", "--import-files", json.dumps([str(traces)]),
                   "--summary-backend", "scripted", "--summary-backend-args", json.dumps({"responses": [SUMMARY]}),
                   "--dataset-val-ratio", "0.5", "--overrides", json.dumps(OVERRIDES),
                   "--eval-limit", "1", "--eval-max-tokens", "8", timeout=1800))  # 4 model loads
    stages = summary(out)
    assert list(stages) == STAGES

    # The seed's rows, from its traces imported as episodes.
    splits = read_jsonl(stages["splits"]["files"][0])
    assert splits == read_jsonl(FIXTURES / "golden" / "seed002_splits.jsonl")
    assert read_jsonl(stages["multi-turn"]["files"][0]) == read_jsonl(FIXTURES / "golden" / "seed002_multiturn.jsonl")
    summarized = read_jsonl(stages["summaries"]["files"][0])
    assert [r["summary"] for r in summarized] == [SUMMARY] * 4
    assert "4 of 4 split samples summarized, 0 failed" in stages["summaries"]["summary"]

    # The two datasets, one partition (2 + 2), Parquet by default.
    files = dict(zip(["prefix_train", "prefix_val", "only_train", "only_val"], stages["datasets"]["files"]))
    tables = {name: pq.read_table(path).to_pylist() for name, path in files.items()}
    assert {name: len(rows) for name, rows in tables.items()} == dict.fromkeys(files, 2)
    for row in tables["prefix_train"] + tables["prefix_val"]:
        assert row["extra_info"]["answer"].startswith(SUMMARY + "\n\n") and row["extra_info"]["has_summary_prefix"]
    assert [r["prompt"] for r in tables["only_val"]] == [[{"role": "user", "content": SUMMARY}]] * 2
    answers = {r["extra_info"]["answer"] for r in splits}
    assert {r["extra_info"]["answer"] for r in tables["only_train"] + tables["only_val"]} == answers

    # Progressive training: each phase one step, from the previous phase's latest checkpoint.
    runs = [Path(stages[name]["directory"]) for name in PHASES]
    starts = [json.loads((run / "settings.json").read_text())["settings"]["init_adapter"] for run in runs]
    assert starts[0] is None  # the base model; then the latest checkpoint of the phase before
    assert [tmp_path / s for s in starts[1:]] == [latest_checkpoint(run / "checkpoints") for run in runs[:2]]
    for name, run in zip(PHASES, runs):
        assert (run / "adapter" / "adapter_config.json").is_file() and "trained 1 steps" in stages[name]["summary"]
    assert "2 validation" in stages["phase3_summary_prefix"]["summary"]  # the datasets' validation file

    # Evaluation of the last phase's adapter on the summary-prefix validation rows, both tasks.
    analysis_md, results, png = stages["evaluation"]["files"]
    evaluated = read_jsonl(results)
    assert sorted(r["task"] for r in evaluated) == ["reasoning-from-summary", "summary-reasoning"]
    assert {r["reference"] for r in evaluated if r["task"] == "reasoning-from-summary"} <= answers
    assert all(r["completion_tokens"] > 0 and set(r["metrics"]) >= {"action_ok", "token_f1"} for r in evaluated)
    assert "| summary-reasoning | 1 |" in Path(analysis_md).read_text() and Path(png).stat().st_size > 0
    manifest = json.loads((Path(stages["evaluation"]["directory"]) / "manifest.json").read_text())
    assert manifest["settings"]["backend_args"] == {"adapter": str(runs[2] / "adapter")}
    assert "evaluated 1 rows" in stages["evaluation"]["summary"]
