"""Seed 002: traces (imported as episodes) → per-search-result splits, multi-turn
conversations, LLM summaries (bounded concurrency, retries, resume, failures kept out) and the
summary-prefix / summary-only datasets with one seeded train/val partition.

The fixture traces cover the spec's edge cases: a trace without results, a trace ending on a
result (empty response: skipped), results back to back, an unknown step type, empty documents
and non-ASCII text. Goldens were reviewed by hand.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness.backends.base import Backend, BackendError, Completion, Request
from harness.formats import FormatConfig, FormatError, format_file, format_files, get_formatter
from harness.formats.search import render_step, to_multiturn, to_split_samples
from harness.formats.summaries import (
    SUMMARY_PROMPT,
    NoSummaries,
    partition,
    summarize_splits,
    summary_datasets,
)
from harness.importers.run import ImportConfig, import_files

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
TRACES = FIXTURES / "traces_seed002.jsonl"


def lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def imported(traces: Path, directory: Path) -> Path:
    import_files([traces], directory, ImportConfig(importer="seed002"))
    return directory / traces.name


def split_traces(traces: Path, splits: Path) -> tuple[int, int]:
    """Traces → split samples the way a user gets them: import, then search-splits."""
    report = format_files([imported(traces, splits.parent / f"{splits.stem}.episodes")], splits,
                          FormatConfig(formatter="search-splits"))
    return report.records, report.rows


def test_step_rendering():
    assert render_step({"type": "reasoning", "content": "r"}) == "<think>\nr\n</think>"
    assert render_step({"type": "search", "query": "q"}) == "<search>\nq\n</search>"
    assert render_step({"type": "search_result", "documents": [
        {"title": "A", "content": "a"}, {"title": "B", "content": "b"}]}) == (
        "<information>\nDocument 1:\nTitle: A\nContent: a\n\nDocument 2:\nTitle: B\nContent: b\n</information>")
    assert render_step({"type": "CorrectAnswer", "content": "x"}) == "<answer>\nx\n</answer>"
    assert render_step({"type": "note", "content": "n"}) == "<note>\nn\n</note>"


def test_splits_golden_and_edge_cases():
    traces = lines(TRACES)
    rows = [r for t in traces for r in to_split_samples(t)]
    assert rows == lines(FIXTURES / "golden" / "seed002_splits.jsonl")
    assert to_split_samples(traces[1]) == []  # no search results: no samples
    ending = to_split_samples(traces[2])  # the last result has nothing after it: skipped
    assert [r["extra_info"]["split_index"] for r in ending] == [0]
    assert ending[0]["extra_info"]["total_splits"] == 2
    first = rows[0]
    assert first["prompt"] == [{"role": "user", "content": first["extra_info"]["question"]}]
    assert first["extra_info"]["question"].startswith("Question: Who founded the city of Varnholt?\n\n<think>")
    assert first["extra_info"]["answer"] == (
        "<think>\nIlse Marrow founded it. Check the date.\n</think>\n\n<search>\nIlse Marrow 1412\n</search>")


def test_imported_traces_give_the_splits_of_the_traces(tmp_path):
    out = tmp_path / "splits.jsonl"
    assert split_traces(TRACES, out) == (4, 4)
    assert lines(out) == [r for t in lines(TRACES) for r in to_split_samples(t)]
    assert out.read_bytes() == (FIXTURES / "golden" / "seed002_splits.jsonl").read_bytes()


def test_multiturn_golden():
    traces = lines(TRACES)
    rows = [r for t in traces for r in to_multiturn(t)]
    assert rows == lines(FIXTURES / "golden" / "seed002_multiturn.jsonl")
    assert all(r["prompt"][-1]["role"] == "assistant" for r in rows)
    assert all(r["answer"] == r["prompt"][-1]["content"] for r in rows)
    # the first trace: one conversation per turn with results, up to the turn after it
    first = to_multiturn(traces[0])
    assert [len(r["prompt"]) for r in first] == [4, 6]
    assert first[1]["prompt"][-1]["content"] == "<think>\nConfirmed.\n</think>\n\n<answer>\nIlse Marrow\n</answer>"
    assert [r["extra_info"]["turn_index"] for r in first] == [1, 2]


def test_bad_trace_names_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    traces = lines(TRACES)
    traces[2]["trace"][1]["documents"] = [{"title": "T", "content": 7}]
    bad.write_text("".join(json.dumps(t) + "\n" for t in traces), encoding="utf-8")
    with pytest.raises(FormatError) as err:  # named at import, where the line is the trace's
        import_files([bad], tmp_path / "episodes", ImportConfig(importer="seed002"))
    assert str(err.value) == f"{bad}:3: /trace/1/documents/0/content: expected a string, got int"
    assert not (tmp_path / "episodes" / "bad.jsonl").exists()
    # a trace given to a formatter without import is no episode: the error says to import it
    with pytest.raises(FormatError, match=r"bad.jsonl:1: /schema_version: required field is missing: "
                                          r"this is a seed 002 trace; import it first: harness import seed002"):
        format_file(get_formatter("search-splits"), bad, tmp_path / "out.jsonl")


# -- summaries --------------------------------------------------------------------------------


class CannedBackend(Backend):
    """A real Backend: summarises by quoting the first words of the context; fails on request.

    `fail` maps a word found in the prompt to how many times requests containing it fail
    (`-1`: always); `empty` words get an empty text. It records the largest number of requests
    it had in flight at once.
    """

    name = "canned"

    def __init__(self, fail: dict[str, int] | None = None, empty: Sequence[str] = ()):
        self.fail = dict(fail or {})
        self.empty = tuple(empty)
        self.requests: list[str] = []
        self.in_flight = self.max_in_flight = 0

    @property
    def model_name(self) -> str:
        return "canned"

    async def generate(self, requests: Sequence[Request]) -> list[list[Completion]]:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            for _ in range(3):  # let the other in-flight requests start
                await asyncio.sleep(0)
            out = []
            for request in requests:
                prompt = request.messages[0].content
                self.requests.append(prompt)
                for word, times in self.fail.items():
                    if word in prompt and times != 0:
                        self.fail[word] = times - 1 if times > 0 else -1
                        raise BackendError(f"injected failure for {word}")
                if any(word in prompt for word in self.empty):
                    out.append([Completion(text="  ")])
                    continue
                context = prompt.rsplit("Question: ", 1)[1]
                quoted = context[:40].replace("\n", " ")
                out.append([Completion(text=f"<question>{quoted}</question><reasoning_summary>Searched."
                                            f"</reasoning_summary><key_facts>{quoted}</key_facts>")])
            return out
        finally:
            self.in_flight -= 1


def make_traces(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"question": f"question-{i:03d}?", "trace": [
                {"type": "search", "query": f"q{i}"},
                {"type": "search_result", "documents": [{"title": f"t{i}", "content": f"fact {i}"}]},
                {"type": "CorrectAnswer", "content": f"answer {i}"}]}) + "\n")


def test_summaries_concurrency_retries_failures_and_resume(tmp_path):
    traces, splits, out = tmp_path / "traces.jsonl", tmp_path / "splits.jsonl", tmp_path / "summarized.jsonl"
    make_traces(traces, 12)
    assert split_traces(traces, splits) == (12, 12)

    backend = CannedBackend(fail={"question-003": 1, "question-005": -1}, empty=["question-007"])
    report = asyncio.run(summarize_splits(splits, out, backend, concurrency=3, retries=2, backoff_s=0))
    assert backend.max_in_flight == 3
    assert (report.samples, report.summarized, report.failed, report.resumed) == (12, 10, 2, 0)
    # 12 first attempts, 1 retry for question-003, 2 retries each for 005 and 007
    assert report.requests == len(backend.requests) == 12 + 1 + 2 + 2
    assert sorted(report.failures.values()) == ["BackendError: injected failure for question-005", "empty summary"]
    rows = lines(out)
    assert len(rows) == 10 and all(r["summary"].startswith("<question>question-") for r in rows)
    assert not any("question-005" in r["summary"] or "question-007" in r["summary"] for r in rows)
    assert [r["extra_info"]["question"] for r in rows] == [
        r["extra_info"]["question"] for r in lines(splits)
        if "question-005" not in r["extra_info"]["question"] and "question-007" not in r["extra_info"]["question"]]
    assert backend.requests[0] == SUMMARY_PROMPT.format(context=lines(splits)[0]["extra_info"]["question"])

    # resume: only the two failed samples are asked again
    healthy = CannedBackend()
    again = asyncio.run(summarize_splits(splits, out, healthy, concurrency=3, retries=0, backoff_s=0))
    assert (again.summarized, again.failed, again.resumed, again.requests) == (12, 0, 10, 2)
    assert sorted(p.rsplit("Question: ", 1)[1][:12] for p in healthy.requests) == ["question-005", "question-007"]


def test_summary_datasets_share_one_seeded_partition(tmp_path):
    traces, splits, summarized = tmp_path / "t.jsonl", tmp_path / "s.jsonl", tmp_path / "sum.jsonl"
    make_traces(traces, 30)
    split_traces(traces, splits)
    asyncio.run(summarize_splits(splits, summarized, CannedBackend(fail={"question-011": -1}),
                                 retries=0, backoff_s=0))
    report = summary_datasets(summarized, tmp_path / "jsonl", ext="jsonl", val_ratio=0.1, seed=42)
    assert (report.rows, report.train, report.val, report.failed) == (29, 27, 2, 0)
    val = [lines(tmp_path / "jsonl" / f"summary_{kind}_val.jsonl") for kind in ("prefix", "only")]
    train = [lines(tmp_path / "jsonl" / f"summary_{kind}_train.jsonl") for kind in ("prefix", "only")]
    assert len(val[0]) == len(val[1]) == 2 and len(train[0]) == len(train[1]) == 27
    # the same samples on both sides of the partition, in both datasets
    for prefix_rows, only_rows in ((val[0], val[1]), (train[0], train[1])):
        assert [r["extra_info"]["answer"].rsplit("\n\n", 1)[1] for r in prefix_rows] == [
            r["extra_info"]["answer"] for r in only_rows]
    sources = lines(summarized)
    wanted_train, wanted_val = partition(29, 0.1, 42)
    assert [r["extra_info"]["answer"] for r in val[1]] == [sources[i]["extra_info"]["answer"] for i in wanted_val]
    assert [r["extra_info"]["answer"] for r in train[1]] == [sources[i]["extra_info"]["answer"] for i in wanted_train]
    prefix_row, only_row, source = val[0][0], val[1][0], sources[wanted_val[0]]
    assert prefix_row["prompt"] == source["prompt"]
    assert prefix_row["extra_info"]["answer"] == source["summary"] + "\n\n" + source["extra_info"]["answer"]
    assert only_row["prompt"] == [{"role": "user", "content": source["summary"]}]
    assert only_row["extra_info"]["answer"] == source["extra_info"]["answer"]
    assert prefix_row["summary"] == only_row["summary"] == source["summary"]
    assert prefix_row["extra_info"]["has_summary_prefix"] is True
    assert only_row["extra_info"]["original_question_discarded"] is True
    # a different seed moves the partition; the ratio must be inside (0, 1)
    assert partition(29, 0.1, 7) != partition(29, 0.1, 42)
    with pytest.raises(ValueError):
        partition(29, 1.0)


def test_summary_datasets_parquet_load_with_pyarrow_and_datasets(tmp_path):
    import datasets

    traces, splits, summarized = tmp_path / "t.jsonl", tmp_path / "s.jsonl", tmp_path / "sum.jsonl"
    make_traces(traces, 20)
    split_traces(traces, splits)
    asyncio.run(summarize_splits(splits, summarized, CannedBackend(), backoff_s=0))
    report = summary_datasets(summarized, tmp_path / "pq", ext="parquet", val_ratio=0.25)
    assert (report.train, report.val) == (15, 5)
    for path in report.files:
        table = pq.read_table(path)
        assert table.column_names == ["data_source", "prompt", "ability", "extra_info", "summary"]
        loaded = datasets.load_dataset("parquet", data_files=path, split="train", cache_dir=str(tmp_path / "c"))
        assert loaded.num_rows == table.num_rows
        assert loaded[0]["prompt"][0]["role"] == "user"


def test_splits_and_multiturn_files_load_with_datasets(tmp_path):
    import datasets

    for name in ("search-splits", "search-multiturn"):
        for ext in ("jsonl", "parquet"):
            out = tmp_path / f"{name}.{ext}"
            report = format_file(get_formatter(name), imported(TRACES, tmp_path / "episodes"), out)
            loaded = datasets.load_dataset("json" if ext == "jsonl" else "parquet", data_files=str(out),
                                           split="train", cache_dir=str(tmp_path / "c"))
            assert loaded.num_rows == report.rows > 0


def test_summary_datasets_fail_when_every_summary_failed(tmp_path):
    traces, splits, summarized = tmp_path / "t.jsonl", tmp_path / "s.jsonl", tmp_path / "sum.jsonl"
    make_traces(traces, 4)
    split_traces(traces, splits)
    report = asyncio.run(summarize_splits(splits, summarized, CannedBackend(fail={"question": -1}),
                                          retries=0, backoff_s=0))
    assert report.failed == 4
    with pytest.raises(NoSummaries, match="no split sample has a summary"):
        summary_datasets(summarized, tmp_path / "out", ext="jsonl")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    empty = summary_datasets(summarized, tmp_path / "empty", ext="jsonl", allow_empty=True)
    assert (empty.rows, empty.train, empty.val) == (0, 0, 0) and len(empty.files) == 4
