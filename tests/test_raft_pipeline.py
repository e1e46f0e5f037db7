"""Luigi's RaftPipeline from one configuration file: the datasets, RAFT cycles, pass@k across the
checkpoints, as one graph (scripted answers that solve nothing, so no cycle trains and no model
is loaded: the graph is what is tested; test_raft.py trains the embedded model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MBPP = Path(__file__).parent / "fixtures" / "code" / "mbpp_small.jsonl"


def test_raft_pipeline_runs_the_datasets_the_cycles_and_pass_at_k(tmp_path: Path) -> None:
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"""
prepare:
  output: prepared
  dataset: mbpp
  source: local
  mbpp_path: {MBPP}
  validation_size: 1
raft:
  problems: prepared/mbpp_train_full.jsonl
  backend: scripted
  backend_args: {{responses: ["```python\\ndef nothing(): pass\\n```"]}}
  samples_per_task: 1
  cycles: 2
  timeout: 60
  allow_empty: true
passk:
  problems: prepared/mbpp_train_full.jsonl
  dataset: mbpp
  backend: scripted
  backend_args: {{responses: ["no code"]}}
  samples_per_task: 1
  ks: [1]
  timeout: 60
""")
    command = [sys.executable, "-m", "luigi", "--module", "luigi_tasks.rlvr", "RaftPipeline", "--config-file",
               str(config), "--data-dir", "data", "--local-scheduler"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"},
                          timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "This progress looks :)" in done.stdout + done.stderr
    [summary_file] = (tmp_path / "data" / "pipelines").glob("raft-*.json")
    summary = json.loads(summary_file.read_text())
    assert summary["datasets"] == "prepared" and (tmp_path / "prepared" / "dataset_summary.json").exists()
    raft = tmp_path / summary["raft"]
    assert raft.parent == tmp_path / "data" / "raft" and (raft / "cycle-2" / "cycle.json").exists()
    stats = json.loads((raft / "stats.json").read_text())
    assert [(c["cycle"], c["samples"], c["trained"]) for c in stats["cycles"]] == [(1, 2, False), (2, 2, False)]
    report = json.loads((tmp_path / summary["passk"] / "passk.json").read_text())
    assert [c["label"] for c in report["checkpoints"]] == ["base", "cycle-1", "cycle-2"]
    assert all(c["pass_at_k"] == {"pass@1": 0.0} for c in report["checkpoints"])
    assert (tmp_path / summary["chart"]).exists()

    again = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"},
                           timeout=600)
    assert again.returncode == 0 and "Did not run any tasks" in again.stdout + again.stderr
