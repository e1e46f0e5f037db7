"""Seed 002's evaluation: both tasks sampled at T 0.7 through a backend, every sample scored, and
the analysis written as JSON, a markdown table and a PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.backends.scripted import ScriptedBackend
from harness.train.evaluate import EvaluateConfig, evaluate, evaluation_samples, score

GOLDEN = Path(__file__).parent / "fixtures" / "formats" / "golden"
PREFIX_VAL = GOLDEN / "parity_seed002_summary_prefix_val.jsonl"
ONLY_VAL = GOLDEN / "parity_seed002_summary_only_val.jsonl"


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_samples_of_each_dataset():
    prefix = rows(PREFIX_VAL)[0]
    samples = evaluation_samples(prefix)
    original = prefix["extra_info"]["answer"][len(prefix["summary"]) + 2:]
    assert samples["summary-reasoning"] == {"prompt": prefix["extra_info"]["question"],
                                            "reference": prefix["extra_info"]["answer"]}
    assert samples["reasoning-from-summary"] == {"prompt": prefix["summary"], "reference": original}
    only = evaluation_samples(rows(ONLY_VAL)[0])
    assert list(only) == ["reasoning-from-summary"]  # its context was discarded


def test_scores():
    reference = "<question>q</question>\n<reasoning_summary>r</reasoning_summary>\n<key_facts>k</key_facts>\n\n" \
                "<think>\nx\n</think>\n\n<answer>\nIlse Marrow\n</answer>"
    assert score("summary-reasoning", reference, reference) == {
        "action_ok": 1.0, "action_type_match": 1.0, "action_match": 1.0, "token_f1": 1.0, "summary_ok": 1.0}
    partial = score("reasoning-from-summary", "<search>\nIlse Marrow birth\n</search>", reference)
    assert partial["action_ok"] == 1.0 and partial["action_type_match"] == 0.0 and partial["action_match"] == 0.0
    assert partial["token_f1"] == pytest.approx(0.8)
    assert score("summary-reasoning", "no tags", reference)["summary_ok"] == 0.0


def test_both_tasks_run_through_a_backend_and_write_the_analysis(tmp_path):
    backend = ScriptedBackend(responses=["<think>\nhm\n</think>\n\n<answer>\nauteur 22\n</answer>"])
    report = evaluate([PREFIX_VAL], tmp_path / "eval", EvaluateConfig(backend="scripted", limit=3),
                      backend=backend, progress=False)
    assert report.samples == {"summary-reasoning": 3, "reasoning-from-summary": 3}
    results = [json.loads(line) for line in (tmp_path / "eval" / "results.jsonl").read_text().splitlines()]
    assert len(results) == 6 and {r["task"] for r in results} == {"summary-reasoning", "reasoning-from-summary"}
    analysis = json.loads((tmp_path / "eval" / "analysis.json").read_text())
    assert analysis["means"]["summary-reasoning"]["summary_ok"] == 0.0  # the scripted answer has no summary
    assert analysis["settings"]["temperature"] == 0.7
    table = (tmp_path / "eval" / "analysis.md").read_text()
    assert table.startswith("| task | samples | action_match | action_ok |") and "| summary-reasoning | 3 |" in table
    assert (tmp_path / "eval" / "analysis.png").read_bytes()[:4] == b"\x89PNG"


def test_the_embedded_model_answers_both_tasks(tmp_path, transformers_backend):
    report = evaluate([PREFIX_VAL], tmp_path / "eval", EvaluateConfig(limit=1, max_tokens=8),
                      backend=transformers_backend, progress=False)
    assert report.samples == {"summary-reasoning": 1, "reasoning-from-summary": 1}
    results = [json.loads(line) for line in (tmp_path / "eval" / "results.jsonl").read_text().splitlines()]
    assert all(r["completion_tokens"] and 0 < r["completion_tokens"] <= 8 for r in results)


def test_rows_without_summaries_are_an_error(tmp_path):
    empty = tmp_path / "rows.jsonl"
    empty.write_text(json.dumps({"prompt": [{"role": "user", "content": "q"}]}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="0 of 1 rows give an evaluation sample"):
        evaluate([empty], tmp_path / "eval", EvaluateConfig(), backend=ScriptedBackend(responses=["x"]))
