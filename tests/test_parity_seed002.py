"""Seed 002 parity: the multi-turn rows, the summary check and the two summary datasets with the
seed's train/val partition, pinned on inputs written for these tests.

- tests/fixtures/formats/parity/seed002_traces.jsonl: two results in a row, an empty query, an
  empty answer, a search and an answer in one turn, an unknown step type, `documents` missing,
  empty and null, a reasoning-only tail, a trace without results, one ending on a result,
  unicode.
- tests/fixtures/formats/parity/seed002_summarized.jsonl: 23 summarized split rows, three of
  them without a usable summary (no key, `""`, null), unicode throughout.

The files go the way a user's do: `harness import seed002` (harness.importers) makes episodes of
the traces, and the search formatters format those episodes; the rows are the seed's.

The golden files (golden/parity_seed002_*) are our output. They were checked against the
seed's public code run side by side: the multi-turn rows agree exactly, and the four dataset
files (val ratio 0.25, seed 42) are byte for byte the seed's `split_summary_datasets.py` +
`split_train_val.py` output.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness.backends.base import Backend, Completion, Request
from harness.formats import FormatConfig, format_file, format_files, get_formatter
from harness.formats.search import to_multiturn
from harness.formats.summaries import (
    SUMMARY_PROMPT,
    SUMMARY_TAGS,
    partition,
    summarize_splits,
    summary_datasets,
    summary_problem,
)
from harness.importers.run import ImportConfig, import_files

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
TRACES = FIXTURES / "parity" / "seed002_traces.jsonl"
SUMMARIZED = FIXTURES / "parity" / "seed002_summarized.jsonl"
GOLDEN = FIXTURES / "golden"


def lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def conversation(row: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in row["prompt"]]


def imported(traces: Path, directory: Path) -> Path:
    """The traces as episodes, as `harness import seed002` writes them."""
    import_files([traces], directory, ImportConfig(importer="seed002"))
    return directory / traces.with_suffix(".jsonl").name


def split_traces(traces: Path, splits: Path) -> None:
    """Traces → split samples: import, then the search-splits formatter."""
    format_files([imported(traces, splits.parent / f"{splits.stem}.episodes")], splits,
                 FormatConfig(formatter="search-splits"))


# -- multi-turn ------------------------------------------------------------------------------


def test_multiturn_golden_and_file_bytes(tmp_path):
    rows = [r for t in lines(TRACES) for r in to_multiturn(t)]
    assert rows == lines(GOLDEN / "parity_seed002_multiturn.jsonl")
    out = tmp_path / "multiturn.jsonl"
    format_file(get_formatter("search-multiturn"), imported(TRACES, tmp_path / "episodes"), out)
    # the seed wrote json.dumps(sample, ensure_ascii=False) per line: the same bytes
    assert out.read_bytes() == (GOLDEN / "parity_seed002_multiturn.jsonl").read_bytes()


def test_multiturn_row_shape(tmp_path):
    [row] = to_multiturn(lines(TRACES)[5])
    assert row == {
        "data_source": "search_agent_multiturn",
        "prompt": [{"role": "user", "content": "Quick answer."},
                   {"role": "assistant", "content": "<search>\nq\n</search>"},
                   {"role": "user", "content": "<information>\nDocument 1:\nTitle: a\nContent: b\n\n"
                                               "Document 2:\nTitle: c\nContent: d\n</information>"},
                   {"role": "assistant", "content": "<answer>\nb\n</answer>"}],
        "ability": "search_reasoning",
        "answer": "<answer>\nb\n</answer>",
        "extra_info": {"question": "Quick answer.", "split_index": 0, "total_splits": 1, "turn_index": 1,
                       "num_assistant_turns": 2},
    }
    assert list(row) == ["data_source", "prompt", "ability", "answer", "extra_info"]
    assert list(row["extra_info"]) == ["question", "split_index", "total_splits", "turn_index", "num_assistant_turns"]
    out = tmp_path / "options.jsonl"
    format_file(get_formatter("search-multiturn", data_source="mine", ability="qa"),
                imported(TRACES, tmp_path / "episodes"), out)
    options = [r for r in lines(out) if r["prompt"][0]["content"] == "Quick answer."]
    assert [(r["data_source"], r["ability"]) for r in options] == [("mine", "qa")]


def test_two_results_in_a_row_never_give_an_empty_assistant_message():
    rows = to_multiturn(lines(TRACES)[0])
    # the first result's conversation would end on the user's results (the turn after it is
    # empty and left out), so only the second result's is kept
    assert len(rows) == 1
    assert conversation(rows[0]) == [
        ("user", "Which river runs through Kelmarsh?"),
        ("assistant", "<think>\nSearch the town.\n</think>\n\n<search>\nKelmarsh river\n</search>"),
        (
            "user",
            "<information>\nDocument 1:\nTitle: Kelmarsh\nContent: Kelmarsh lies on the Avon Brook.\n</information>",
        ),
        (
            "user",
            "<information>\nDocument 1:\nTitle: Avon Brook\nContent: The Avon Brook is 40 km long.\n</information>",
        ),
        ("assistant", "<think>\nIt is the Avon Brook.\n</think>\n\n<answer>\nAvon Brook\n</answer>"),
    ]
    assert rows[0]["extra_info"] == {"question": "Which river runs through Kelmarsh?", "split_index": 1,
                                     "total_splits": 2, "turn_index": 2, "num_assistant_turns": 2}
    every = [m for t in lines(TRACES) for r in to_multiturn(t) for m in r["prompt"]]
    assert all(m["content"] for m in every if m["role"] == "assistant")


def test_an_empty_query_or_answer_leaves_its_tag_out():
    rows = to_multiturn(lines(TRACES)[1])
    # turn 0: reasoning and an empty query; turn 1: a search and an answer (the search wins);
    # the last turn, an empty answer alone, would be an empty message: that conversation ends
    # on the user's results and is not kept
    assert len(rows) == 1
    assert conversation(rows[0])[1:] == [
        ("assistant", "<think>\nPrimero buscar — 🔎\n</think>"),
        (
            "user",
            "<information>\nDocument 1:\nTitle: Orrendale\nContent: Fundada por Maelis Varrow en 1412.\n</information>",
        ),
        ("assistant", "<think>\nConfirmar la fecha.\n</think>\n\n<search>\nMaelis Varrow 1412\n</search>"),
    ]
    assert rows[0]["extra_info"]["total_splits"] == 2  # both result turns count, the unkept one too
    assert not any("<search>\n\n</search>" in m["content"] or "<answer>\n\n</answer>" in m["content"]
                   for t in lines(TRACES) for r in to_multiturn(t) for m in r["prompt"])


def test_missing_empty_and_null_documents():
    rows = to_multiturn(lines(TRACES)[2])
    assert [r["extra_info"]["turn_index"] for r in rows] == [1, 2]
    assert conversation(rows[1])[1:] == [
        ("assistant", "<search>\nfirst\n</search>"),
        ("user", "<information>\n\n</information>"),  # no documents key: an empty result
        ("assistant", "<think>\nnothing came back\n</think>\n\n<search>\nsecond\n</search>"),
        ("user", "<information>\n\n</information>"),  # documents: []
        ("assistant", "<search>\nthird\n</search>"),  # documents: null closes the turn without results
    ]
    assert to_multiturn(lines(TRACES)[3]) == [] and to_multiturn(lines(TRACES)[4]) == []


def test_messages_option_adds_a_copy_for_trl(tmp_path):
    import datasets

    plain = to_multiturn(lines(TRACES)[5])
    with_messages = to_multiturn(lines(TRACES)[5], messages=True)
    assert [{k: v for k, v in r.items() if k != "messages"} for r in with_messages] == plain
    assert all(r["messages"] == r["prompt"] for r in with_messages)
    out = tmp_path / "multiturn.parquet"
    report = format_file(get_formatter("search-multiturn", messages=True), imported(TRACES, tmp_path / "e"), out)
    assert pq.read_table(out).column_names == ["data_source", "prompt", "ability", "answer", "extra_info", "messages"]
    loaded = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "c"))
    assert loaded.num_rows == report.rows and loaded[0]["messages"][0]["role"] == "user"


# -- the summary check -----------------------------------------------------------------------


GOOD = (
    "<question>Who founded Varnholt?</question>\n<reasoning_summary>Searched the city.</reasoning_summary>\n"
    '<key_facts>"Founded by Ilse Marrow."</key_facts>'
)


def test_the_prompt_asks_for_the_three_tagged_parts():
    assert SUMMARY_TAGS == ("question", "reasoning_summary", "key_facts")
    for tag in SUMMARY_TAGS:
        assert f"<{tag}>" in SUMMARY_PROMPT and f"</{tag}>" in SUMMARY_PROMPT
    assert "verbatim" in SUMMARY_PROMPT and "{context}" in SUMMARY_PROMPT


@pytest.mark.parametrize("text, problem", [
    (GOOD, None),
    ("  Preamble.\n" + GOOD + "\nThanks.", None),
    ("", "empty summary"),
    ("   \n", "empty summary"),
    ("A plain summary without tags.", "summary lacks <question>…</question>"),
    (GOOD.replace("<key_facts>", "<facts>"), "summary lacks <key_facts>…</key_facts>"),
    (GOOD.replace("Searched the city.", "  "), "summary has an empty <reasoning_summary>"),
    ("<key_facts>x</key_facts><question>q</question><reasoning_summary>r</reasoning_summary>",
     "summary lacks <key_facts>…</key_facts> after the previous part"),
    (GOOD.replace("</question>", ""), "summary lacks <question>…</question>"),
])
def test_summary_problem(text, problem):
    assert summary_problem(text) == problem


class TaggedBackend(Backend):
    """Answers each request with `replies[word]` for the first word found in its prompt (a list
    is consumed one reply per request, its last reply repeating), else a good summary."""

    name = "tagged"

    def __init__(self, replies: dict[str, list[str]]):
        self.replies = replies
        self.prompts: list[str] = []

    @property
    def model_name(self) -> str:
        return "tagged"

    async def generate(self, requests: Sequence[Request]) -> list[list[Completion]]:
        out = []
        for request in requests:
            prompt = request.messages[0].content
            self.prompts.append(prompt)
            word = next((w for w in self.replies if w in prompt), None)
            if word is None:
                out.append([Completion(text=f"  {GOOD}\n")])
            else:
                queue = self.replies[word]
                out.append([Completion(text=queue.pop(0) if len(queue) > 1 else queue[0])])
        return out


def make_traces(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"question": f"question-{i:03d}?", "trace": [
                {"type": "search", "query": f"q{i}"},
                {"type": "search_result", "documents": [{"title": f"t{i}", "content": f"fact {i}"}]},
                {"type": "CorrectAnswer", "content": f"answer {i}"}]}) + "\n")


def test_an_untagged_response_is_a_failed_summary_retried_then_counted(tmp_path):
    traces, splits, out = tmp_path / "t.jsonl", tmp_path / "s.jsonl", tmp_path / "sum.jsonl"
    make_traces(traces, 6)
    split_traces(traces, splits)
    backend = TaggedBackend({"question-001": ["no tags at all"],
                             "question-002": ["Summary: untagged", GOOD],  # good on the retry
                             "question-003": [GOOD.replace("<question>", "")]})
    report = asyncio.run(summarize_splits(splits, out, backend, retries=2, backoff_s=0))
    assert (report.samples, report.summarized, report.failed) == (6, 4, 2)
    assert report.requests == 6 + 2 + 1 + 2
    assert sorted(report.failures.values()) == ["summary lacks <question>…</question>"] * 2
    rows = lines(out)
    assert [r["summary"] for r in rows] == [GOOD] * 4  # the response, stripped
    # a journal entry from an older prompt without tags is asked again on resume
    journal = out.with_name(out.name + ".journal")
    entries = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    kept = next(e for e in entries if "summary" in e)
    journal.write_text(json.dumps({"key": kept["key"], "summary": "old untagged text"}) + "\n", encoding="utf-8")
    again = asyncio.run(summarize_splits(splits, out, TaggedBackend({}), retries=0, backoff_s=0))
    assert (again.resumed, again.requests, again.summarized, again.failed) == (0, 6, 6, 0)


# -- the two datasets ------------------------------------------------------------------------


def seed_partition(rows: list, val_ratio: float, seed: int) -> tuple[list, list]:
    """The spec's words as code: random.seed(seed); random.shuffle(rows); the last
    int(n * ratio) are validation, the first n - val_size training, both in shuffled order."""
    rows = list(rows)
    state = random.getstate()
    try:
        random.seed(seed)
        random.shuffle(rows)
    finally:
        random.setstate(state)
    val_size = int(len(rows) * val_ratio)
    return rows[:len(rows) - val_size], rows[len(rows) - val_size:]


def test_summary_datasets_golden_bytes(tmp_path):
    report = summary_datasets(SUMMARIZED, tmp_path, ext="jsonl", val_ratio=0.25, seed=42)
    assert (report.rows, report.train, report.val, report.failed) == (20, 15, 5, 3)
    for name in ("summary_prefix_train", "summary_prefix_val", "summary_only_train", "summary_only_val"):
        assert (tmp_path / f"{name}.jsonl").read_bytes() == (GOLDEN / f"parity_seed002_{name}.jsonl").read_bytes(), name


@pytest.mark.parametrize("n, val_ratio, seed", [(733, 0.1, 42), (20, 0.25, 42), (9, 0.5, 7), (3, 0.1, 42), (1, 0.9, 0)])
def test_partition_is_the_seeds_shuffle(n, val_ratio, seed):
    train, val = partition(n, val_ratio, seed)
    want_train, want_val = seed_partition(range(n), val_ratio, seed)
    assert (train, val) == (want_train, want_val)
    assert len(val) == int(n * val_ratio) and sorted(train + val) == list(range(n))


def test_partition_ratio_must_be_inside_zero_one():
    for ratio in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match="between 0 and 1"):
            partition(10, ratio)


def test_summary_datasets_rows_columns_and_partition(tmp_path):
    report = summary_datasets(SUMMARIZED, tmp_path, ext="jsonl", val_ratio=0.1, seed=42)
    assert (report.train, report.val, report.failed) == (18, 2, 3)
    sources = [r for r in lines(SUMMARIZED) if r.get("summary")]  # the seed's test: present and non-empty
    want_train, want_val = seed_partition(sources, 0.1, 42)
    for part, want in (("train", want_train), ("val", want_val)):
        prefix = lines(tmp_path / f"summary_prefix_{part}.jsonl")
        only = lines(tmp_path / f"summary_only_{part}.jsonl")
        assert prefix == [{**s, "extra_info": {**s["extra_info"],
                                               "answer": s["summary"] + "\n\n" + s["extra_info"]["answer"],
                                               "has_summary_prefix": True}} for s in want]
        assert only == [{**s, "prompt": [{"role": "user", "content": s["summary"]}],
                         "extra_info": {**s["extra_info"], "question": s["summary"],
                                        "original_question_discarded": True}} for s in want]
    first = lines(tmp_path / "summary_prefix_train.jsonl")[0]
    assert list(first) == ["data_source", "prompt", "ability", "extra_info", "summary"]
    assert list(first["extra_info"]) == ["question", "answer", "split_index", "total_splits", "has_summary_prefix"]


def test_summary_datasets_parquet_keep_the_columns_and_load(tmp_path):
    import datasets

    report = summary_datasets(SUMMARIZED, tmp_path, ext="parquet", val_ratio=0.25)
    jsonl = summary_datasets(SUMMARIZED, tmp_path / "j", ext="jsonl", val_ratio=0.25)
    for path, twin in zip(report.files, jsonl.files):
        table = pq.read_table(path)
        assert table.column_names == ["data_source", "prompt", "ability", "extra_info", "summary"]
        assert table.to_pylist() == lines(Path(twin))
        loaded = datasets.load_dataset("parquet", data_files=path, split="train", cache_dir=str(tmp_path / "c"))
        assert loaded.num_rows == table.num_rows


def test_a_malformed_summarized_line_names_file_and_line(tmp_path):
    from harness.formats.base import FormatError

    bad = tmp_path / "bad.jsonl"
    text = SUMMARIZED.read_text(encoding="utf-8").splitlines()
    text[6] = text[6][:40]
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"bad.jsonl:7: \(record\): not valid JSON"):
        summary_datasets(bad, tmp_path / "out", ext="jsonl")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
