"""A real Luigi run of the dedup task, through luigi's own scheduler and worker."""

import json

import luigi

from luigi_tasks.jsonl import DedupRollouts


def test_dedup_task_runs_and_is_complete_afterwards(tmp_path):
    a, b = tmp_path / "results_1.jsonl", tmp_path / "results_2.jsonl"
    a.write_text('{"task":{"id":1},"reward":0.2}\n{"task":{"id":2},"reward":0.9}\n')
    b.write_text('{"task":{"id":"1"},"reward":0.7}\n')
    out = tmp_path / "best.jsonl"
    task = DedupRollouts(inputs=[str(a), str(b)], output_path=str(out), key="/task/id", score=["/reward"])

    assert luigi.build([task], local_scheduler=True, detailed_summary=True).status == luigi.LuigiStatusCode.SUCCESS
    assert [json.loads(line)["reward"] for line in out.read_text().splitlines()] == [0.9, 0.7]
    assert task.complete()


def test_missing_input_fails_the_run(tmp_path):
    task = DedupRollouts(
        inputs=[str(tmp_path / "nope.jsonl")], output_path=str(tmp_path / "o.jsonl"), key="/k", keep="first"
    )
    result = luigi.build([task], local_scheduler=True, detailed_summary=True)
    assert result.status != luigi.LuigiStatusCode.SUCCESS
    assert not (tmp_path / "o.jsonl").exists()
