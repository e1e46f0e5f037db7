"""Real Luigi runs (local scheduler) of the formats tasks, from input targets to output targets,
with the harness's `scripted` backend writing the summaries."""

from __future__ import annotations

import json
from pathlib import Path

import luigi
from luigi.execution_summary import LuigiStatusCode
import pyarrow.parquet as pq

from harness.plugins import registry
from luigi_tasks.formats import FormatEpisodes, PrepareFinetuneData
from luigi_tasks.search import SummaryDatasets

FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def build(task: luigi.Task) -> bool:
    """True when every task of the run succeeded."""
    result = luigi.build([task], local_scheduler=True, workers=1, log_level="WARNING", detailed_summary=True)
    return result.status == LuigiStatusCode.SUCCESS


def test_prepare_finetune_data_task(tmp_path):
    out = tmp_path / "prm.jsonl"
    assert build(PrepareFinetuneData(input_path=str(FIXTURES / "episodes_seed000.jsonl"), format="prm",
                                     label_mode="first-error", output_path=str(out)))
    expected = [json.loads(line) for line in (FIXTURES / "golden" / "seed000_prm_first_error.jsonl").read_text().splitlines()]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [r for r in expected if r["episode_id"] != "ep-003"]
    # a missing input target: the task does not run
    assert not build(PrepareFinetuneData(input_path=str(tmp_path / "missing.jsonl"), output_path=str(tmp_path / "x.jsonl")))
    assert not (tmp_path / "x.jsonl").exists()


def test_format_episodes_task_with_options(tmp_path):
    rows = (FIXTURES / "student_code_seed004.jsonl").read_text().splitlines()
    exp1 = tmp_path / "exp1.jsonl"
    exp1.write_text("\n".join(rows[:2]) + "\n")
    out = tmp_path / "student.parquet"
    assert build(FormatEpisodes(formatter="student-code", inputs=[str(exp1)], output_path=str(out),
                                options={"variant": "exp1_with_context"}))
    table = pq.read_table(out)
    assert table.column_names == ["prompt", "completion"] and table.num_rows == 2
    # the exp2 row has no stage: the task fails and leaves no output
    bad_out = tmp_path / "bad.parquet"
    assert not build(FormatEpisodes(formatter="student-code", inputs=[str(FIXTURES / "student_code_seed004.jsonl")],
                                    output_path=str(bad_out), options={"variant": "exp1_with_context"}))
    assert not bad_out.exists()


def test_summary_datasets_pipeline(tmp_path):
    assert "scripted" in registry().names("backend")
    work = tmp_path / "search"
    # a summary must hold the three tagged parts
    summary = "<question>who?</question><reasoning_summary>searched</reasoning_summary><key_facts>quoted</key_facts>"
    task = SummaryDatasets(traces=[str(FIXTURES / "traces_seed002.jsonl")], work_dir=str(work),
                           backend="scripted", backend_args={"responses": [summary]},
                           ext="jsonl", val_ratio=0.5)
    assert build(task)
    assert all(Path(t.path).exists() for t in task.output().values())
    summarized = [json.loads(line) for line in (work / "summarized.jsonl").read_text().splitlines()]
    assert len(summarized) == 4 and {r["summary"] for r in summarized} == {summary}
    train = [json.loads(line) for line in (work / "summary_only_train.jsonl").read_text().splitlines()]
    val = [json.loads(line) for line in (work / "summary_only_val.jsonl").read_text().splitlines()]
    assert (len(train), len(val)) == (2, 2)
    assert train[0]["prompt"] == [{"role": "user", "content": summary}]
