"""`harness format` from the shell: a real subprocess per command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def harness(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "format", *args], capture_output=True, text=True)


def test_list_names_every_formatter():
    result = harness("list")
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == sorted(["openai-finetune", "prm", "rl-tokens", "search-multiturn", "search-splits",
                            "sft-interleaved", "sft-standard", "student-code", "trl-messages",
                            "trl-prompt-completion", "verl"])


def test_run_with_options_and_errors(tmp_path):
    out = tmp_path / "prm.jsonl"
    result = harness("run", "prm", str(FIXTURES / "episodes_seed000.jsonl"), "-o", str(out),
                     "--option", "label_mode=first-error", "--option", "include_unverified=true")
    assert result.returncode == 0, result.stderr
    expected = (FIXTURES / "golden" / "seed000_prm_first_error.jsonl").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == expected
    assert "prm: 5 records -> 16 rows" in result.stderr
    bad = harness("run", "student-code", str(FIXTURES / "student_code_seed004.jsonl"), "-o", str(tmp_path / "x.jsonl"),
                  "--option", "variant=exp1_with_context")
    assert bad.returncode == 1 and "student_code_seed004.jsonl:3: /INPUT/past_problem_submissions/0/submission: required field is missing" in bad.stderr
    unknown = harness("run", "nope", str(FIXTURES / "episodes_seed000.jsonl"), "-o", str(tmp_path / "y.jsonl"))
    assert unknown.returncode == 1 and "no formatter named 'nope'" in unknown.stderr


SUMMARY = "<question>Q?</question><reasoning_summary>R.</reasoning_summary><key_facts>F.</key_facts>"


def test_summaries_pipeline_with_the_scripted_backend(tmp_path):
    tagged = "responses=" + json.dumps([SUMMARY])
    result = harness("summaries", str(FIXTURES / "traces_seed002.jsonl"), "--work-dir", str(tmp_path),
                     "--backend", "scripted", "--backend-arg", tagged, "--ext", "jsonl", "--val-ratio", "0.25")
    assert result.returncode == 0, result.stderr
    assert "4 traces -> 4 split samples" in result.stderr
    assert "summaries: 4 written (0 resumed), 0 failed, 4 requests" in result.stderr
    val = [json.loads(line) for line in (tmp_path / "summary_prefix_val.jsonl").read_text().splitlines()]
    assert len(val) == 1 and val[0]["extra_info"]["answer"].startswith(SUMMARY + "\n\n")
    again = harness("summaries", str(FIXTURES / "traces_seed002.jsonl"), "--work-dir", str(tmp_path),
                    "--backend", "scripted", "--backend-arg", tagged, "--ext", "jsonl")
    assert "summaries: 4 written (4 resumed), 0 failed, 0 requests" in again.stderr
    # a response without the three tags is a failed summary: retried, then counted
    untagged = harness("summaries", str(FIXTURES / "traces_seed002.jsonl"), "--work-dir", str(tmp_path / "u"),
                       "--backend", "scripted", "--backend-arg", 'responses=["A summary."]', "--ext", "jsonl",
                       "--retries", "1")
    assert "summaries: 0 written (0 resumed), 4 failed, 8 requests" in untagged.stderr
