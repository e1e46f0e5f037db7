"""Real Luigi runs (local scheduler) of the import, format and search stage tasks: seed files →
imported episodes → training files, with content-addressed outputs, and the `scripted` backend
writing the summaries."""

from __future__ import annotations

import json
from pathlib import Path

import luigi
import pyarrow.parquet as pq
from luigi.execution_summary import LuigiStatusCode

from harness.plugins import registry
from luigi_tasks.formats import FormatEpisodes, FormatRollouts, FormatVerified, ImportSeedFiles
from luigi_tasks.rollouts import GenerateRollouts, VerifyRollouts
from luigi_tasks.search import SummaryDatasets

FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def build(task: luigi.Task) -> bool:
    """True when every task of the run succeeded."""
    result = luigi.build([task], local_scheduler=True, workers=1, log_level="WARNING", detailed_summary=True)
    return result.status == LuigiStatusCode.SUCCESS


def test_seed_files_are_imported_then_formatted_as_one_graph(tmp_path):
    task = FormatEpisodes(formatter="prm", formatter_args={"label_mode": "first-error"}, ext="jsonl",
                          importer="seed000", import_files=[str(FIXTURES / "episodes_seed000.jsonl")],
                          data_dir=str(tmp_path / "data"))
    assert task.task_id.startswith("FormatEpisodes(prm,jsonl)-")
    assert isinstance(task.requires(), ImportSeedFiles)
    assert build(task)
    expected = [
        json.loads(line) for line in (FIXTURES / "golden" / "seed000_prm_first_error.jsonl").read_text().splitlines()
    ]
    rows = [json.loads(line) for line in task.rows_path().read_text().splitlines()]
    assert rows == [r for r in expected if r["episode_id"] != "ep-003"]  # verified only, as the seed
    manifest = json.loads(Path(task.output().path).read_text())
    assert manifest["report"]["rows"] == len(rows) and manifest["settings"]["formatter"] == "prm"
    imported = task.requires().output_dir()
    assert imported.parent == tmp_path / "data" / "imported" and (imported / "manifest.json").exists()
    # another setting: another directory, never the stale one
    wider = FormatEpisodes(formatter="prm", formatter_args={"label_mode": "first-error"}, ext="jsonl",
                           include_failed=True, importer="seed000",
                           import_files=[str(FIXTURES / "episodes_seed000.jsonl")], data_dir=str(tmp_path / "data"))
    assert wider.output_dir() != task.output_dir() and not wider.complete()
    assert build(wider)
    assert len(wider.rows_path().read_text().splitlines()) == len(expected)


def test_format_episodes_fails_without_rows_and_with_a_missing_input(tmp_path):
    data = str(tmp_path / "data")
    other = FormatEpisodes(formatter="search-splits", importer="seed000",
                           import_files=[str(FIXTURES / "episodes_seed000.jsonl")], data_dir=data)
    assert not build(other)  # 0 of 5 episodes are search episodes
    assert not other.rows_path().exists() and not other.complete()
    missing = FormatEpisodes(formatter="trl-messages", importer="seed002",
                             import_files=[str(tmp_path / "missing.jsonl")], data_dir=data)
    assert not build(missing)


def test_student_code_rows_with_formatter_args(tmp_path):
    rows = (FIXTURES / "student_code_seed004.jsonl").read_text().splitlines()
    exp1 = tmp_path / "exp1.jsonl"
    exp1.write_text("\n".join(rows[:2]) + "\n")
    task = FormatEpisodes(formatter="student-code", episodes=[str(exp1)],
                          formatter_args={"variant": "exp1_with_context"}, data_dir=str(tmp_path / "data"))
    assert build(task)
    table = pq.read_table(task.rows_path())
    assert table.column_names == ["prompt", "completion"] and table.num_rows == 2
    # the exp2 row has no stage: the task fails and leaves no output
    bad = FormatEpisodes(formatter="student-code", episodes=[str(FIXTURES / "student_code_seed004.jsonl")],
                         formatter_args={"variant": "exp1_with_context"}, data_dir=str(tmp_path / "data"))
    assert not build(bad)
    assert not bad.rows_path().exists()


def test_summary_datasets_pipeline(tmp_path):
    assert "scripted" in registry().names("backend")
    # a summary must hold the three tagged parts
    summary = "<question>who?</question><reasoning_summary>searched</reasoning_summary><key_facts>quoted</key_facts>"
    task = SummaryDatasets(importer="seed002", import_files=[str(FIXTURES / "traces_seed002.jsonl")],
                           backend="scripted", backend_args={"responses": [summary]},
                           ext="jsonl", val_ratio=0.5, data_dir=str(tmp_path / "data"))
    assert build(task)
    out = task.output_dir()
    summarized = [json.loads(line) for line in task.requires().summarized_path().read_text().splitlines()]
    assert len(summarized) == 4 and {r["summary"] for r in summarized} == {summary}
    train = [json.loads(line) for line in (out / "summary_only_train.jsonl").read_text().splitlines()]
    val = [json.loads(line) for line in (out / "summary_only_val.jsonl").read_text().splitlines()]
    assert (len(train), len(val)) == (2, 2)
    assert train[0]["prompt"] == [{"role": "user", "content": summary}]
    # every summary failing: the datasets task fails, no dataset is written
    failing = SummaryDatasets(importer="seed002", import_files=[str(FIXTURES / "traces_seed002.jsonl")],
                              backend="scripted", backend_args={"responses": ["untagged"]}, retries=0,
                              ext="jsonl", data_dir=str(tmp_path / "data"))
    assert not build(failing)
    assert not list(failing.output_dir().glob("summary_*"))


def test_format_rollouts_and_format_verified_generate_first(tmp_path):
    from harness_connections.environment import ConnectionsEnv

    [task] = ConnectionsEnv(count=1).tasks()
    won = ["<guess>[" + ", ".join(f"`{w}`" for w in c["members"]) + "]</guess>" for c in task.data["categories"]]
    run = dict(env="connections", env_args={"count": 1}, backend="scripted", backend_args={"responses": won},
               data_dir=str(tmp_path / "data"))
    verified = FormatVerified(verifier="connections-rules", verdict=["connections-rules=pass"],
                              formatter="trl-messages", ext="jsonl", **run)
    assert isinstance(verified.requires(), VerifyRollouts)
    assert build(verified)  # generate, verify, format: one command
    [row] = [json.loads(line) for line in verified.rows_path().read_text().splitlines()]
    summary = json.loads(Path(verified.output().path).read_text())["report"]["output"]
    assert summary == str(verified.rows_path().absolute())  # the summary names where the file is
    played = [m["content"] for m in row["messages"] if m["role"] == "assistant"]
    assert played and played == won[:len(played)]  # the won game (the last group may fill itself in)
    generated = verified.requires().requires().output_dir()
    stamps = {p: p.stat().st_mtime_ns for p in generated.iterdir()}

    # the same run formatted without verifying: the run is the one made above, not made again
    plain = FormatRollouts(formatter="trl-messages", ext="jsonl", **run)
    assert isinstance(plain.requires(), GenerateRollouts) and plain.requires().output_dir() == generated
    assert build(plain)
    assert {p: p.stat().st_mtime_ns for p in generated.iterdir()} == stamps
    assert plain.rows_path().read_text() == verified.rows_path().read_text()

    # a lost game fails the rules' verdict filter: the task fails, no training file is written
    lost = FormatVerified(verifier="connections-rules", verdict=["connections-rules=pass"], include_failed=True,
                          formatter="trl-messages", ext="jsonl",
                          **{**run, "backend_args": {"responses": ["<guess>[`A`, `B`, `C`, `D`]</guess>"]}})
    assert not build(lost)
    assert lost.requires().complete() and not lost.rows_path().exists() and not lost.complete()
