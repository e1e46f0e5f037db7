"""Seed 000: data-analysis episodes → sft-standard, sft-interleaved and prm, API and CLI.

The fixture (tests/fixtures/formats/episodes_seed000.jsonl) holds the edge cases the spec
lists: a legacy `teacher_gold_trace`, no hint and no csv_source, hooks with None values and a
None name, stderr, an unverified episode, an episode without turns, turns without output (two
assistant messages in a row) and a blank line. The golden files were reviewed by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness.formats.base import FormatError
from harness.prepare_finetune_data import (
    load_episodes,
    main,
    prepare,
    to_prm_samples,
    to_sft_interleaved,
    to_sft_standard,
)

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
EPISODES = FIXTURES / "episodes_seed000.jsonl"
GOLDEN = FIXTURES / "golden"


def golden(name: str) -> list:
    return [json.loads(line) for line in (GOLDEN / name).read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def episodes() -> list[dict]:
    return load_episodes(EPISODES, verified_only=False)


def by_id(episodes: list[dict], episode_id: str) -> dict:
    return next(e for e in episodes if e["episode_id"] == episode_id)


# -- loading ----------------------------------------------------------------------------------


def test_load_skips_blank_lines_and_filters_unverified():
    everything = load_episodes(EPISODES, verified_only=False)
    verified = load_episodes(EPISODES)
    assert [e["episode_id"] for e in everything] == ["ep-001", "ep-002", "ep-003", "ep-004", "ep-005"]
    # ep-003 is unverified; ep-005 has `verified: 1`, truthy like the seed's check
    assert [e["episode_id"] for e in verified] == ["ep-001", "ep-002", "ep-004", "ep-005"]


def test_load_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_episodes(tmp_path / "nope.jsonl")


def test_malformed_line_is_an_error_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    lines = EPISODES.read_text(encoding="utf-8").splitlines()
    lines.insert(2, '{"episode_id": "broken", ')
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FormatError) as err:
        load_episodes(bad)
    assert err.value.line == 3 and str(err.value).startswith(f"{bad}:3: ")
    with pytest.warns(UserWarning, match="left out 1 malformed line"):
        lenient = load_episodes(bad, lenient=True)
    assert len(lenient) == 4


# -- sft-standard -------------------------------------------------------------------------------


def test_sft_standard_golden(episodes):
    assert [to_sft_standard(e) for e in episodes] == golden("seed000_sft_standard.jsonl")


def test_sft_standard_structure(episodes):
    ep1 = to_sft_standard(by_id(episodes, "ep-001"))["messages"]
    assert [m["role"] for m in ep1] == ["system", "user", "assistant", "user", "assistant"]
    assert "data/iris.csv" in ep1[0]["content"] and "submit(answer)" in ep1[0]["content"]
    assert 'hook(value, name="...")' in ep1[0]["content"]
    assert ep1[1]["content"] == "What is the mean petal length?\n\nHint: Use df['petal_length'].mean()"
    assert ep1[2]["content"] == (
        "I'll look at the column first.\n\n```python\nprint(df['petal_length'].head(3))\n"
        'n = len(df)\nhook(n, name="n")\n```'
    )
    assert ep1[3]["content"] == "[stdout]:\n0    1.4\n1    1.4\n2    1.3"  # stripped, as the seed

    ep2 = to_sft_standard(by_id(episodes, "ep-002"))["messages"]
    assert "data.csv" in ep2[0]["content"]  # no csv_source: the fallback
    assert ep2[1]["content"] == "Combien de lignes ont un âge manquant ?"  # no hint line
    assert ep2[3]["content"] == "[stdout]:\n3\n\n[stderr]:\nZeroDivisionError: division by zero"
    assert ep2[4]["content"] == "```python\nsubmit(3)\n```"  # no reasoning: the code alone


def test_sft_standard_two_assistant_messages_in_a_row_and_merge(episodes):
    ep5 = by_id(episodes, "ep-005")
    parity = to_sft_standard(ep5)["messages"]
    roles = [m["role"] for m in parity]
    assert roles == ["system", "user", "assistant", "assistant", "assistant", "user", "assistant"]
    assert parity[2]["content"] == "Let me think about which columns matter."
    # the last turn printed "done": that single trailing user message is removed
    assert parity[-1]["content"].startswith("Submit.")
    merged = to_sft_standard(ep5, merge_assistant=True)["messages"]
    assert [m["role"] for m in merged] == ["system", "user", "assistant", "user", "assistant"]
    assert merged[2]["content"] == "\n\n".join(m["content"] for m in parity[2:5])


def test_no_turns_gives_none(episodes):
    ep4 = by_id(episodes, "ep-004")
    assert to_sft_standard(ep4) is None
    assert to_sft_interleaved(ep4) is None
    assert to_prm_samples(ep4) == []


def test_legacy_teacher_gold_trace_is_read(episodes):
    ep2 = dict(by_id(episodes, "ep-002"))
    modern = {**{k: v for k, v in ep2.items() if k != "teacher_gold_trace"}, "gold_trace": ep2["teacher_gold_trace"]}
    assert to_sft_standard(ep2) == to_sft_standard(modern)
    assert to_prm_samples(ep2) == to_prm_samples(modern)


# -- sft-interleaved ----------------------------------------------------------------------------


def test_sft_interleaved_golden(episodes):
    assert [to_sft_interleaved(e) for e in episodes] == golden("seed000_sft_interleaved.jsonl")


def test_sft_interleaved_structure(episodes):
    msgs = to_sft_interleaved(by_id(episodes, "ep-002"))["messages"]
    standard_system = to_sft_standard(by_id(episodes, "ep-002"))["messages"][0]["content"]
    assert msgs[0]["content"].startswith(standard_system) and msgs[0]["content"] != standard_system
    assert msgs[2]["content"].startswith("Count the missing values.\n\n```python\n")  # as in sft-standard
    assert msgs[3]["role"] == "user" and msgs[4] == {"role": "assistant", "content": "nothing = null\nNone = 3"}
    assert msgs[5]["content"] == "[actual output]:\n3\n"  # stdout only, stderr never shown
    assert all("ZeroDivisionError" not in m["content"] for m in msgs)
    assert msgs[-1] == {"role": "assistant", "content": "3"}  # the predicted submitted answer


# -- prm --------------------------------------------------------------------------------------


def test_prm_episode_labels_golden(episodes):
    assert [s for e in episodes for s in to_prm_samples(e)] == golden("seed000_prm_episode.jsonl")


def test_prm_prefix_excludes_the_turns_own_code(episodes):
    samples = to_prm_samples(by_id(episodes, "ep-001"))
    assert [(s["turn_index"], s["step_type"], s["variable_name"]) for s in samples] == [
        (0, "hook", "n"), (1, "hook", "mean"), (1, "submit", "answer")]
    first, second = json.loads(samples[0]["prefix"]), json.loads(samples[1]["prefix"])
    assert [m["role"] for m in first] == ["system", "user"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[2]["content"].startswith("```python\nprint(")  # fenced code, no reasoning
    assert second[3]["content"].startswith("[stdout]:\n")
    assert samples[2]["value_hash"] == "aaaabbbbccccdddd"  # the trace's final answer hash
    assert {s["label"] for s in samples} == {1.0}
    unverified = to_prm_samples(by_id(episodes, "ep-003"))
    assert {s["label"] for s in unverified} == {0.0}


def test_prm_first_error_labels_golden(episodes):
    assert [s for e in episodes for s in to_prm_samples(e, label_mode="first-error")] == golden(
        "seed000_prm_first_error.jsonl")


def test_prm_first_error_labels_consistency_traces(episodes):
    samples = to_prm_samples(by_id(episodes, "ep-001"), label_mode="first-error")
    labels = {(s["trace"], s["variable_name"]): s["label"] for s in samples}
    assert labels[("consistency/0", "n")] == 1.0       # same value as the gold hook
    assert labels[("consistency/0", "mean")] == 0.0    # median instead of mean: the first error
    assert labels[("consistency/0", "answer")] == 0.0  # after the first error
    assert labels[("consistency/1", "mean")] == 1.0 and labels[("consistency/1", "answer")] == 1.0
    hinted = next(s for s in samples if s["trace"] == "consistency/0")
    assert "Hint:" not in hinted["prefix"]  # consistency runs were made without the hint


def test_prm_mc_mode_is_not_a_plain_label_mode(episodes):
    with pytest.raises(ValueError, match="prm_mc"):
        to_prm_samples(by_id(episodes, "ep-001"), label_mode="mc")


# -- the files --------------------------------------------------------------------------------


def test_cli_default_output_and_counts(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--input", str(EPISODES), "--format", "sft-interleaved"]) == 0
    out = tmp_path / "data" / "training" / "episodes_seed000_sft_interleaved.jsonl"
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows == [r for r, e in zip(golden("seed000_sft_interleaved.jsonl"),
                                      ["ep-001", "ep-002", "ep-003", "ep-004", "ep-005"])
                    if e not in ("ep-003", "ep-004")]
    assert "Wrote 3 sft-interleaved examples from 4 episodes" in capsys.readouterr().out


def test_cli_zero_episodes_writes_nothing_and_fails_unless_allowed(tmp_path, capsys):
    only_unverified = tmp_path / "unverified.jsonl"
    only_unverified.write_text(EPISODES.read_text(encoding="utf-8").splitlines()[3] + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    # the seed wrote no file and a warning; no silent zero: the exit status is 1 and says why
    assert main(["--input", str(only_unverified), "--output", str(out)]) == 1
    assert not out.exists()
    assert ("error: no episodes to convert in " in (err := capsys.readouterr().err)
            and "(1 unverified left out; --include-unverified keeps them)" in err)
    assert main(["--input", str(only_unverified), "--output", str(out), "--allow-empty"]) == 0
    assert not out.exists()
    assert "warning: no episodes to convert" in capsys.readouterr().err
    # with --include-unverified the same file gives one example
    assert main(["--input", str(only_unverified), "--output", str(out), "--include-unverified"]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1


def test_cli_as_a_module_prm_first_error_to_parquet(tmp_path):
    out = tmp_path / "nested" / "dir" / "prm.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "harness.prepare_finetune_data", "--input", str(EPISODES),
         "--format", "prm", "--label-mode", "first-error", "--output", str(out)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    expected = [s for s in golden("seed000_prm_first_error.jsonl") if s["episode_id"] != "ep-003"]
    assert table.num_rows == len(expected)
    rows = table.to_pylist()
    # a hook's value has no fixed type: Parquet keeps it as JSON text
    assert [json.loads(r["value"]) for r in rows] == [s["value"] for s in expected]
    assert [r["label"] for r in rows] == [s["label"] for s in expected]


def test_cli_errors_name_the_file(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "harness.prepare_finetune_data", "--input", str(tmp_path / "missing.jsonl")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1 and "missing.jsonl" in result.stderr


def test_bad_field_names_file_line_and_field(tmp_path):
    from harness.importers.run import ImportConfig, import_files

    records = [json.loads(line) for line in EPISODES.read_text(encoding="utf-8").splitlines() if line]
    records[1]["teacher_gold_trace"]["turns"][0]["code"] = 42
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with pytest.raises(FormatError) as err:
        import_files([bad], tmp_path / "episodes", ImportConfig(importer="seed000"))
    assert str(err.value) == f"{bad}:2: /teacher_gold_trace/turns/0/code: expected a string, got int"
    assert not (tmp_path / "episodes" / "bad.jsonl").exists()  # nothing half-written
    with pytest.raises(FormatError) as err:
        prepare(bad, "sft-standard", tmp_path / "out.jsonl")
    assert str(err.value) == f"{bad}:2: /teacher_gold_trace/turns/0/code: expected a string, got int"
    assert not (tmp_path / "out.jsonl").exists()


def test_prepare_streams_into_jsonl_that_datasets_loads(tmp_path):
    import datasets

    for fmt in ("sft-standard", "sft-interleaved", "prm"):
        out = tmp_path / f"{fmt}.jsonl"
        path, n_episodes, n_rows = prepare(EPISODES, fmt, out)
        assert path == os.fspath(out) and n_episodes == 4
        loaded = datasets.load_dataset("json", data_files=str(out), split="train",
                                       cache_dir=str(tmp_path / "cache"))
        assert loaded.num_rows == n_rows
        if fmt != "prm":
            assert loaded[0]["messages"][0]["role"] == "system"
