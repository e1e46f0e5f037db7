"""Seed 000 parity: every point of issue 12 pinned on inputs written for it.

tests/fixtures/formats/parity/seed000_episodes.jsonl was written for these tests (by
`json.dumps`, as the seed's files are, so it holds bare NaN and Infinity, plus one hand-written
line with duplicated keys). It covers: stdout `"1\\n"`, whitespace-only stdout, stderr alone and
with stdout, record `turn_index` values out of step with the position (and null, and a
string), turns without code, without reasoning and without either, hooks without
`variable_name` or `code_line` and with them null, null / NaN / infinite / unicode / nested
values, a submit whose code never calls `submit(`, falsy submitted answers (0, false, ""),
an empty and a null `gold_trace` beside a `teacher_gold_trace`, both present, no `question`, a
null one, no hint, a whitespace hint, ids as int and as string, `verified` truthy, false and
missing, no turns, two outputs in a row, blank and whitespace-only lines.

The golden files (tests/fixtures/formats/golden/parity_seed000_*.jsonl) are our output; they
were checked row by row against the seed's public code run side by side on this fixture (the
system prompt, whose wording is ours, masked) and agree exactly.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness.formats.base import FormatError
from harness.prepare_finetune_data import (
    iter_episodes,
    load_episodes,
    prepare,
    to_prm_samples,
    to_sft_interleaved,
    to_sft_standard,
)

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
EPISODES = FIXTURES / "parity" / "seed000_episodes.jsonl"
GOLDEN = FIXTURES / "golden"
IDS = ["p000-out", 2, "p000-hooks", 4, "p000-null", "p000-both", "p000-unverified",
       "p000-noverified", "p000-empty", "p000-tail", "p000-dup"]


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)  # compares NaN too, which == cannot


def golden_lines(name: str) -> list[str]:
    return (GOLDEN / name).read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def episodes() -> list[dict]:
    return load_episodes(EPISODES, verified_only=False)


def by_id(episodes: list[dict], episode_id) -> dict:
    return next(e for e in episodes if e["episode_id"] == episode_id)


def messages(row: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in row["messages"]]


# -- loading ---------------------------------------------------------------------------------


def test_bare_nan_and_infinity_are_read_as_python_json_does_and_counted():
    episodes = iter_episodes(EPISODES, verified_only=False)
    records = list(episodes)
    assert [r["episode_id"] for r in records] == IDS
    hooks = by_id(records, "p000-hooks")["gold_trace"]["turns"][0]["execution"]["hooks"]
    assert math.isnan(hooks[3]["value"]) and hooks[4]["value"] == math.inf
    dup_turn = by_id(records, "p000-dup")["gold_trace"]["turns"][0]
    assert dup_turn["execution"]["submitted_answer"] == -math.inf
    report = episodes.report
    assert (report.records, report.non_finite, report.duplicate_keys, report.malformed) == (11, 2, 1, 0)
    assert "2 line(s) with bare NaN/Infinity" in str(report)


def test_a_duplicated_key_keeps_its_last_value(episodes):
    dup = by_id(episodes, "p000-dup")
    assert dup["verified"] is True and dup["question"]["question_text"] == "Duplicated keys: the last wins."
    # so the default verified-only loading keeps it
    assert "p000-dup" in [e["episode_id"] for e in load_episodes(EPISODES)]


def test_verified_only_keeps_truthy_verified_and_skips_blank_lines():
    verified = iter_episodes(EPISODES)
    assert [e["episode_id"] for e in verified] == [
        "p000-out", 2, "p000-hooks", 4, "p000-null", "p000-both", "p000-empty", "p000-tail", "p000-dup"]
    assert verified.report.unverified == 2  # verified false, and verified missing


def test_an_empty_or_null_gold_trace_falls_back_to_the_teacher_trace(episodes):
    empty = to_sft_standard(by_id(episodes, 4))
    assert messages(empty)[2] == ("assistant", "Teacher turn.\n\n```python\nsubmit(False)\n```")
    null = to_prm_samples(by_id(episodes, "p000-null"))
    assert [(s["step_type"], s["value"]) for s in null] == [("submit", "")]
    # with both present, gold_trace wins
    both = to_sft_standard(by_id(episodes, "p000-both"))
    assert messages(both)[2] == ("assistant", "Gold.\n\n```python\nsubmit(1)\n```")


def test_a_record_without_question_has_an_empty_question_text(episodes):
    for episode_id in (4, "p000-null"):  # no question; a null question
        for row in (to_sft_standard(by_id(episodes, episode_id)), to_sft_interleaved(by_id(episodes, episode_id))):
            assert row["messages"][1] == {"role": "user", "content": ""}
        prefix = json.loads(to_prm_samples(by_id(episodes, episode_id))[0]["prefix"])
        assert prefix[1] == {"role": "user", "content": ""}
    # no hint key: no hint line; a whitespace hint is a hint, as the seed's truthiness test says
    assert messages(to_sft_standard(by_id(episodes, "p000-both")))[1] == ("user", "Ties: which is first?")
    assert messages(to_sft_standard(by_id(episodes, 2)))[1] == ("user", "Quel est le pourboire moyen ?\n\nHint:   ")


def test_a_malformed_line_is_an_error_naming_file_and_line_and_lenient_counts_it(tmp_path):
    lines = EPISODES.read_text(encoding="utf-8").splitlines()
    lines[4] = '{"episode_id": "broken", "gold_trace": '  # line 5
    lines.insert(7, "[1, 2, 3]")  # line 8: JSON, but not an object
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FormatError) as err:
        load_episodes(bad, verified_only=False)
    assert (err.value.path, err.value.line) == (str(bad), 5)
    assert str(err.value).startswith(f"{bad}:5: (record): not valid JSON: ")
    lenient = iter_episodes(bad, verified_only=False, lenient=True)
    with pytest.warns(UserWarning, match="left out 2 malformed line"):
        records = list(lenient)
    assert len(records) == 11 and lenient.report.malformed == 2  # line 5 was blank
    # and on the command line
    result = subprocess.run([sys.executable, "-m", "harness.prepare_finetune_data", "--input", str(bad),
                             "--output", str(tmp_path / "out.jsonl")], capture_output=True, text=True)
    assert result.returncode == 1 and f"{bad}:5: (record): not valid JSON" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_a_record_the_formatter_cannot_read_names_file_line_and_field(tmp_path):
    lines = EPISODES.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    record["gold_trace"]["turns"][1]["code"] = 7
    lines[0] = json.dumps(record)
    del record["gold_trace"]  # neither trace key: not a seed 000 episode
    lines.append(json.dumps(record))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"bad.jsonl:1: /gold_trace/turns/1/code: expected a string, got int"):
        prepare(bad, "sft-standard", tmp_path / "out.jsonl")
    lines[0] = EPISODES.read_text(encoding="utf-8").splitlines()[0]
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"bad.jsonl:14: /gold_trace: required field is missing"):
        prepare(bad, "prm", tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


# -- sft-standard ----------------------------------------------------------------------------


def test_sft_standard_golden(episodes):
    assert [dumps(to_sft_standard(e)) for e in episodes] == golden_lines("parity_seed000_sft_standard.jsonl")


def test_sft_standard_strips_the_output_message(episodes):
    got = messages(to_sft_standard(by_id(episodes, "p000-out")))
    assert [content for role, content in got if role == "user"][1:] == [
        "[stdout]:\n1",                       # "1\n"
        "[stdout]:",                          # whitespace only
        "[stderr]:\nZeroDivisionError: division by zero",
        "[stdout]:\n\n2\n\n[stderr]:\n  UserWarning: careful",  # stripped as a whole, not each part
    ]


def test_sft_standard_turns_without_code_or_reasoning(episodes):
    got = messages(to_sft_standard(by_id(episodes, 2)))[2:]
    assert got == [
        ("assistant", "Je réfléchis d'abord — 🤔"),
        ("assistant", ""),
        ("assistant", "```python\nx = df['pourboire'].mean()\nprint(x)\n```"),
        ("user", "[stdout]:\n3.14"),
        ("assistant", "Ensuite…\n\n```python\nprint(x * 2)\n```"),
        ("user", "[stdout]:\n6.28"),
        ("assistant", "padded reasoning  \n\n```python\n  submit(round(x))  \n```"),
    ]
    # a single trailing user message (the last turn's output) is removed
    assert messages(to_sft_standard(by_id(episodes, "p000-tail")))[-1] == (
        "assistant", "```python\nprint(df.shape)\n```")


# -- sft-interleaved -------------------------------------------------------------------------


def test_sft_interleaved_golden(episodes):
    assert [dumps(to_sft_interleaved(e)) for e in episodes] == golden_lines("parity_seed000_sft_interleaved.jsonl")


def test_sft_interleaved_uses_the_sft_standard_assistant_message_for_every_turn(episodes):
    for episode in episodes:
        standard = to_sft_standard(episode)
        if standard is None:
            continue
        interleaved = to_sft_interleaved(episode)["messages"]
        turn_messages = [m["content"] for m in standard["messages"] if m["role"] == "assistant"]
        # each turn's message comes first among the assistant messages that follow the turn's
        # start, so the standard messages are a subsequence of the interleaved ones
        remaining = iter(m["content"] for m in interleaved if m["role"] == "assistant")
        assert all(any(content == other for other in remaining) for content in turn_messages)
    got = messages(to_sft_interleaved(by_id(episodes, 2)))
    assert got[2:4] == [("assistant", "Je réfléchis d'abord — 🤔"), ("assistant", "")]  # no code: emitted all the same


def test_sft_interleaved_hook_lines(episodes):
    got = messages(to_sft_interleaved(by_id(episodes, "p000-hooks")))
    assert got[3] == ("user", "Predict the intermediate values:")
    assert got[4][1].split("\n") == [
        "result = [1, 2]",                                                  # no variable_name key
        "None = null",                                                      # a present null name
        'c = {"\\u00e9": "\\u00fc", "n": [null, true]}',                    # json.dumps, as the seed
        "d = NaN",
        "e = Infinity",
        'f = "na\\u00efve \\u2713"',
    ]


def test_sft_interleaved_shows_stdout_unstripped_and_never_stderr(episodes):
    got = messages(to_sft_interleaved(by_id(episodes, "p000-out")))
    outputs = [content for role, content in got if content.startswith("[actual output]")]
    assert outputs == ["[actual output]:\n1\n", "[actual output]:\n   \n", "[actual output]:\n\n2\n"]
    assert not any("ZeroDivisionError" in content for _, content in got)


# -- prm -------------------------------------------------------------------------------------


def test_prm_golden(episodes):
    assert [dumps(s) for e in episodes for s in to_prm_samples(e)] == golden_lines("parity_seed000_prm.jsonl")


def test_prm_turn_index_is_the_turns_position(episodes):
    samples = to_prm_samples(by_id(episodes, "p000-out"))  # record turn_index 7, 3, null, "9", 4
    assert [(s["turn_index"], s["step_type"]) for s in samples] == [(0, "hook"), (4, "submit")]


def test_prm_code_line(episodes):
    samples = to_prm_samples(by_id(episodes, "p000-hooks"))
    assert [(s["variable_name"], s["code_line"]) for s in samples] == [
        (None, "hook(a)"),             # the name stays as recorded (absent reads null)
        (None, "hook(b, name=None)"),
        ("c", ""),                     # no code_line key
        ("d", None),                   # a present null stays null
        ("e", "hook(e)"),
        ("f", "hook(f)"),
        ("g", ""),
        ("answer", "submit(...)"),     # the literal, though the code never calls submit(
    ]
    assert {s["code_line"] for s in to_prm_samples(by_id(episodes, "p000-out")) if s["step_type"] == "submit"} == {
        "submit(...)"}


def test_prm_prefix_grows_by_every_turns_fenced_code_and_unstripped_stdout(episodes):
    samples = to_prm_samples(by_id(episodes, "p000-hooks"))
    submit = json.loads(samples[-1]["prefix"])  # turn 2: after turns 0 and 1
    assert [m["content"] for m in submit[2:]] == [
        "```python\nhook(a)\nhook(b, name=None)\nhook(c, name='c')\n```",  # no reasoning
        "```python\n\n```",                                                # empty code still fenced
    ]
    out = json.loads(to_prm_samples(by_id(episodes, "p000-out"))[-1]["prefix"])
    assert [m["content"] for m in out if m["role"] == "user"][1:] == [
        "[stdout]:\n1\n", "[stdout]:\n   \n", "[stdout]:\n\n2\n"]  # not stripped; stderr never shown
    # a turn's own code is not in its samples' prefix
    assert len(json.loads(samples[0]["prefix"])) == 2


def test_prm_falsy_submitted_answers_are_steps_and_labels_are_episode_level(episodes):
    assert [(s["value"], s["value_hash"]) for s in to_prm_samples(by_id(episodes, "p000-hooks"))
            if s["step_type"] == "submit"] == [(0, "fh")]
    assert [s["value"] for s in to_prm_samples(by_id(episodes, 4))] == [False]
    assert {s["label"] for e in episodes for s in to_prm_samples(e) if e.get("verified")} == {1.0}
    assert {s["label"] for s in to_prm_samples(by_id(episodes, "p000-unverified"))} == {0.0}
    assert to_prm_samples(by_id(episodes, "p000-empty")) == []


# -- the files -------------------------------------------------------------------------------


def test_cli_reports_the_load_and_writes_nan_back_bare_loadable_by_datasets(tmp_path):
    import datasets

    out = tmp_path / "prm.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "harness.prepare_finetune_data", "--input", str(EPISODES), "--format", "prm",
         "--include-unverified", "--output", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (f"Loaded {EPISODES}: 11 records (2 line(s) with bare NaN/Infinity read as floats; "
            "1 line(s) with a duplicated key, last value kept)") in result.stderr
    assert "3 row(s) hold a bare NaN or Infinity" in result.stderr
    # the rows as json.dumps writes them, NaN and Infinity bare, as the seed's file has them
    assert out.read_text(encoding="utf-8") == (GOLDEN / "parity_seed000_prm.jsonl").read_text(encoding="utf-8")
    assert "NaN" in out.read_text(encoding="utf-8")
    loaded = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "c"))
    assert loaded.num_rows == 17
    assert pyarrow_json_rows(out) == 17


def pyarrow_json_rows(path: Path) -> int:
    import pyarrow.json as pj

    # the value column mixes types, so read the other columns only
    table = pj.read_json(path, parse_options=pj.ParseOptions(unexpected_field_behavior="ignore",
                                                            explicit_schema=_prm_text_schema()))
    return table.num_rows


def _prm_text_schema():
    import pyarrow as pa

    return pa.schema([("prefix", pa.string()), ("turn_index", pa.int64()), ("label", pa.float64())])


def test_parquet_keeps_nan_in_the_json_text_value_column(tmp_path):
    import datasets

    out = tmp_path / "prm.parquet"
    _path, n_episodes, n_rows = prepare(EPISODES, "prm", out, include_unverified=True)
    table = pq.read_table(out)
    assert (n_episodes, n_rows, table.num_rows) == (11, 17, 17)
    values = [json.loads(v) for v in table.column("value").to_pylist()]
    assert dumps(values) == dumps([json.loads(line)["value"] for line in golden_lines("parity_seed000_prm.jsonl")])
    loaded = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "c"))
    assert loaded.num_rows == 17


@pytest.mark.filterwarnings("ignore:.*hold a bare NaN or Infinity")
def test_every_format_loads_with_pyarrow_and_datasets(tmp_path):
    import datasets

    for fmt in ("sft-standard", "sft-interleaved", "prm"):
        for ext in ("jsonl", "parquet"):
            out = tmp_path / f"{fmt}.{ext}"
            _, _, n_rows = prepare(EPISODES, fmt, out)
            assert n_rows > 0
            if ext == "parquet":
                assert pq.read_table(out).num_rows == n_rows
            loaded = datasets.load_dataset("json" if ext == "jsonl" else "parquet", data_files=str(out),
                                           split="train", cache_dir=str(tmp_path / "c"))
            assert loaded.num_rows == n_rows
