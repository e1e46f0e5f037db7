"""Seed 000 from one command: `luigi --module luigi_tasks.data_analysis DataAnalysisTraining`, run
as a user runs it (a subprocess, a temporary working directory): on the embedded model at a tiny
size, where nothing is verified and the pipeline says so, then again with --allow-empty (nothing
generated twice); then on the scripted backend playing the gold program, where the training files
hold the verified episodes. The triangulation verifier is then judged on the same runs with
consistency runs made to disagree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import plugins
from harness.episode import load_episodes
from harness.verify import NotApplicable, get_verifier
from pipeline_runs import luigi, ok, read_jsonl, summary

MODULE, TASK = "luigi_tasks.data_analysis", "DataAnalysisTraining"
ROWS = "Count the rows.\n\n```python\nn = len(df)\nhook(n, name='rows')\nprint(n)\n```"
STAGES = ["generate (gold)", "generate (consistency)", "triangulate", "sft-standard", "sft-interleaved", "prm"]


def test_data_analysis_training_from_one_command(tmp_path):
    # 1. The embedded model (the default backend), one task, one short turn: it submits nothing,
    #    so triangulation verifies nothing and the format stage fails, saying why.
    tiny = ["--env-args", '{"csvs": ["iris"], "max_turns": 1}', "--limit", "1", "--consistency-runs", "2",
            "--max-tokens", "8"]
    embedded = tmp_path / "embedded"
    embedded.mkdir()
    first = luigi(embedded, MODULE, TASK, *tiny)
    assert first.returncode == 30, first.stderr[-3000:]  # a task failed
    assert "the filter kept 0 of 1 episodes (--verdict triangulation=pass)" in first.stderr
    [verified] = (embedded / "data" / "verified").glob("data-analysis,triangulation-*/*.jsonl")
    [episode] = load_episodes(verified)
    assert episode.model.name == "smollm2-135m-instruct"
    verdict = episode.verdict("triangulation")
    assert verdict.verdict == "fail" and verdict.details["n_consistency_runs"] == 2
    runs = sorted((embedded / "data" / "rollouts").iterdir())
    stamps = {p: p.stat().st_mtime_ns for run in runs for p in run.iterdir()}

    # 2. Empty files allowed: the same directories (allow_empty decides no content), so nothing is
    #    generated or judged again; the summary names every stage and output.
    out = ok(luigi(embedded, MODULE, TASK, *tiny, "--allow-empty", "true"))
    assert {p: p.stat().st_mtime_ns for run in runs for p in run.iterdir()} == stamps
    stages = summary(out)
    assert list(stages) == STAGES
    assert "1 episodes in 1 shard" in stages["generate (gold)"]["summary"]
    assert "2 episodes in 1 shard" in stages["generate (consistency)"]["summary"]
    assert "1 episodes: 0 pass, 1 fail" in stages["triangulate"]["summary"]
    for name in STAGES[3:]:
        [path] = stages[name]["files"]
        assert path.endswith(f"{name}.jsonl") and Path(path).read_text() == "" and path in out

    # 3. The scripted backend plays every conversation alike: it counts the rows, then submits the
    #    first task's gold program. Both tasks are verified (their runs agree); only the first
    #    answered right, and the success filter keeps it alone.
    env = plugins.get("environment", "data-analysis")(csvs=["iris"])
    gold = env.task("iris-column_mean-00").data["gold_program"]
    responses = {"responses": [ROWS, f"Compute and submit.\n\n```python\n{gold}\n```"]}
    scripted = tmp_path / "scripted"
    scripted.mkdir()
    out = ok(luigi(scripted, MODULE, TASK, "--env-args", '{"csvs": ["iris"]}', "--backend", "scripted",
                   "--backend-args", json.dumps(responses)))
    stages = summary(out)
    assert "2 episodes: 2 pass, 0 fail" in stages["triangulate"]["summary"]
    [sft] = read_jsonl(stages["sft-standard"]["files"][0])
    assert [m["role"] for m in sft["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert sft["messages"][2]["content"] == ROWS and sft["messages"][3]["content"] == "[stdout]:\n150"
    assert "Hint:" in sft["messages"][1]["content"]  # the gold run was shown the hint
    [inter] = read_jsonl(stages["sft-interleaved"]["files"][0])
    assert "rows = 150" in [m["content"] for m in inter["messages"]]
    prm = read_jsonl(stages["prm"]["files"][0])
    assert [r["step_type"] for r in prm] == ["hook", "hook", "submit"] and {r["label"] for r in prm} == {1.0}
    assert "1 not succeeded, left out" in stages["sft-standard"]["summary"]
    assert all(stages[name]["files"][0] in stages[name]["summary"] for name in STAGES[3:])  # absolute paths

    # The verifier on the same runs: consistency runs that answer otherwise outvote the gold run.
    [gold_file] = Path(stages["generate (gold)"]["directory"]).glob("*.jsonl")
    [consistency_file] = Path(stages["generate (consistency)"]["directory"]).glob("*.jsonl")
    golden = {e.task.id: e for e in load_episodes(gold_file)}
    records = read_jsonl(consistency_file)
    assert {r["info"]["hint_shown"] for r in records} == {False} and len(records) == 6
    first_task = [r for r in records if r["task"]["id"] == "iris-column_mean-00"]
    for record in first_task[:2]:
        record["info"]["final_answer_hash"] = "0123456789abcdef"
    disagreeing = tmp_path / "disagreeing.jsonl"
    disagreeing.write_text("".join(json.dumps(r) + "\n" for r in first_task))
    verifier = get_verifier("triangulation", consistency=str(disagreeing))
    verdict = verifier.verify(golden["iris-column_mean-00"])
    assert verdict.verdict == "fail" and verdict.score == pytest.approx(1 / 3)
    assert verdict.details["majority_answer_hash"] == "0123456789abcdef" and verdict.details["majority_count"] == 2
    with pytest.raises(NotApplicable, match="no consistency run of task 'iris-column_mean-01'"):
        verifier.verify(golden["iris-column_mean-01"])
    with pytest.raises(ValueError, match="was shown the hint"):
        get_verifier("triangulation", consistency=str(gold_file))


def test_triangulation_of_imported_seed_records_uses_their_own_consistency_traces(tmp_path):
    from harness.formats.data_analysis_record import seed_record
    from harness.importers.run import ImportConfig, import_files

    fixture = Path(__file__).parent / "fixtures" / "formats" / "episodes_seed000.jsonl"
    import_files([fixture], tmp_path, ImportConfig(importer="seed000"))
    episodes = {seed_record(e)["episode_id"]: e for e in load_episodes(tmp_path / "episodes_seed000.jsonl")}
    verifier = get_verifier("triangulation")
    tied = verifier.verify(episodes["ep-001"])  # runs answered eeee… then the gold's aaaa…: a tie
    assert tied.verdict == "fail" and tied.details["majority_answer_hash"] == "eeeeffff00001111"
    assert tied.details["consistency_runs"] == ["consistency_traces/0", "consistency_traces/1"]
    agreed = verifier.verify(episodes["ep-003"])
    assert agreed.verdict == "pass" and agreed.score == 1.0 and agreed.details["n_consistency_runs"] == 1
    with pytest.raises(NotApplicable, match="no consistency run of task"):
        verifier.verify(episodes["ep-002"])  # no consistency traces, and no run given


def test_the_environment_is_data_analysis_not_a_parameter():
    from luigi_tasks.data_analysis import DataAnalysisTraining

    assert "env" not in dict(DataAnalysisTraining.get_params())  # --env would only break triangulation
    pipeline = DataAnalysisTraining()
    assert {stage.task.env for stage in pipeline.stages()} == {"data-analysis"}
    assert pipeline.consistency().env_args["hint"] is False and pipeline.limit == 2
