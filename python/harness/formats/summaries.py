"""Seed 002 summaries: an LLM summary for each split sample, then the summary-prefix and
summary-only datasets with one seeded train/val partition.

    format_files(["data/rollouts/search"], "splits.jsonl", FormatConfig(formatter="search-splits"))
    report = asyncio.run(summarize_splits("splits.jsonl", "summarized.jsonl", backend))
    summary_datasets("summarized.jsonl", "out/", config=DatasetConfig(ext="parquet"))
    # out/summary_prefix_{train,val}.parquet, out/summary_only_{train,val}.parquet

The split samples come from search episodes (`search-splits`, harness.formats.search). The
settings are two stage configs: `SummaryConfig` (the backend and its requests) and
`DatasetConfig` (the datasets and their partition).

`summarize_splits` asks any `harness.backends.base.Backend` for one summary per split sample,
with at most `concurrency` requests in flight, retrying a failed request with exponential
backoff. The prompt asks for the three parts of the seed's summary, each in its own tag
(`SUMMARY_TAGS`: the question, a short summary of the reasoning so far, the key facts of the
search results quoted verbatim); a response without the three tags is a failed summary, like
an empty one or a backend error. Progress goes to a journal beside the output
(`{output}.journal`, one line per finished request, flushed), so an interrupted run resumes
where it stopped: samples with a good summary in the journal are not asked again, failed ones
are retried. A sample that still fails is kept out of the output and counted — the seed stored
the error text as the summary and trained on it. The output is written atomically in input
order; it is the split rows with a `summary` field (the response, stripped).

`summary_datasets` builds the seed's two datasets from it and partitions them exactly as the
seed's `random.seed(seed); random.shuffle(rows)` did (see `partition`). No silent zero: when no
sample has a summary (every one failed), no dataset is written and `NothingFormatted`-like
`NoSummaries` says so, unless `allow_empty`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Literal

from harness.atomic import atomic_write
from harness.backends.base import Backend, Request
from harness.episode import Message, Sampling
from harness.formats.base import FormatError
from harness.formats.writers import open_writer
from harness.options import setting
from harness.plugins import registry

__all__ = [
    "DEFAULT_SAMPLING",
    "SUMMARY_PROMPT",
    "SUMMARY_TAGS",
    "DatasetConfig",
    "DatasetReport",
    "NoSummaries",
    "SummaryConfig",
    "SummaryReport",
    "partition",
    "sample_key",
    "summarize_splits",
    "summary_datasets",
    "summary_only_row",
    "summary_prefix_row",
    "summary_problem",
    "summary_request",
]

SUMMARY_TAGS = ("question", "reasoning_summary", "key_facts")
"""The three parts of a summary, each in its own tag, in this order."""

SUMMARY_PROMPT = """Below is the work of a research agent so far: a question, its reasoning and the \
results of its searches.

Write a summary it can continue from, in exactly three parts, each inside its own tag:
<question>what has to be answered, stated precisely</question>
<reasoning_summary>a few sentences on what the agent has tried and concluded so far</reasoning_summary>
<key_facts>the facts from the search results needed for the next step, each quoted verbatim</key_facts>

Give enough to decide the next action. Do not answer the question yourself, and write nothing \
outside the three tags.

{context}"""

_PART = {tag: re.compile(rf"<{tag}>(.*?)</{tag}>", re.DOTALL) for tag in SUMMARY_TAGS}

DEFAULT_SAMPLING = Sampling(n=1, temperature=0.3, max_tokens=2000)
"""The seed's settings (gpt-4o-mini at temperature 0.3, at most 2000 tokens)."""


@dataclass(frozen=True)
class SummaryConfig:
    """The settings of the summary stage."""

    backend: str = setting(help="Backend writing the summaries: openai, vllm, transformers, scripted, …")
    model: str | None = setting(None, help="Model for the backend (default: its own).")
    backend_args: dict[str, Any] = setting(factory=dict, help="Arguments of the backend, e.g. base_url=http://….")
    temperature: float = setting(0.3, help="Sampling temperature of the summaries (the seed's 0.3).")
    max_tokens: int = setting(2000, help="Cap on a summary's tokens (the seed's 2000).")
    concurrency: int = setting(16, content=False, help="Summary requests in flight at once.")
    retries: int = setting(3, content=False, help="Retries of a failed summary request, with exponential backoff.")
    backoff_s: float = setting(1.0, content=False, help="First retry delay in seconds (doubling).")

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, not {self.retries}")

    def backend_kwargs(self) -> dict[str, Any]:
        return {**self.backend_args, **({"model": self.model} if self.model else {})}

    def sampling(self) -> Sampling:
        return Sampling(n=1, temperature=self.temperature, max_tokens=self.max_tokens)


@dataclass(frozen=True)
class DatasetConfig:
    """The settings of the summary datasets and their train/val partition."""

    ext: Literal["jsonl", "parquet"] = setting("parquet", help="File format of the four dataset files.")
    val_ratio: float = setting(0.1, help="Share of rows in the validation files, inside (0, 1).")
    seed: int = setting(42, help="Seed of the shuffle (Python's random, as the seed's split).")
    allow_empty: bool = setting(False, content=False,
                                help="Write the datasets even when no sample has a summary.")

    def __post_init__(self) -> None:
        if not 0 < self.val_ratio < 1:
            raise ValueError(f"val_ratio must be between 0 and 1 (exclusive), not {self.val_ratio}")


class NoSummaries(ValueError):
    """No split sample has a summary: the datasets would be empty."""


def sample_key(row: dict[str, Any]) -> str:
    """A stable id of a split sample (its context and answer), for the resume journal."""
    info = row.get("extra_info") or {}
    text = json.dumps([info.get("question"), info.get("answer"), info.get("split_index")], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def summary_request(row: dict[str, Any], sampling: Sampling = DEFAULT_SAMPLING) -> Request:
    context = (row.get("extra_info") or {}).get("question") or row["prompt"][0]["content"]
    return Request([Message(role="user", content=SUMMARY_PROMPT.format(context=context))], sampling)


def summary_problem(text: str) -> str | None:
    """Why `text` is no usable summary (empty, or a part's tag missing, empty or out of
    order), or None when it is one."""
    if not text.strip():
        return "empty summary"
    end = 0
    for tag in SUMMARY_TAGS:
        match = _PART[tag].search(text, end)
        if match is None:
            where = "" if _PART[tag].search(text) is None else " after the previous part"
            return f"summary lacks <{tag}>…</{tag}>{where}"
        if not match.group(1).strip():
            return f"summary has an empty <{tag}>"
        end = match.end()
    return None


@dataclass(frozen=True)
class SummaryReport:
    """`samples` read; `summarized` written with a summary (`resumed` of them from the
    journal); `failed` kept out after `retries` retries; `requests` sent in this run."""

    samples: int
    summarized: int
    resumed: int
    failed: int
    requests: int
    failures: dict[str, str]  # sample key -> last error, for the first 100 failures


def _journal(path: str) -> dict[str, dict[str, Any]]:
    """The last journal entry of each key; a torn last line (a crash mid-write) is ignored."""
    done: dict[str, dict[str, Any]] = {}
    if not os.path.exists(path):
        return done
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                done[entry["key"]] = entry
    return done


def _rows(path: str) -> Iterator[dict[str, Any]]:
    from harness.jsonl import read

    return iter(read(path))


async def summarize_splits(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    backend: Backend,
    *,
    config: SummaryConfig | None = None,
    sampling: Sampling = DEFAULT_SAMPLING,
    concurrency: int = 16,
    retries: int = 3,
    backoff_s: float = 1.0,
) -> SummaryReport:
    """Add a `summary` to each split sample of `input_path`; see the module docstring. With a
    `config`, its sampling, concurrency, retries and backoff are used."""
    if config is not None:
        sampling, concurrency = config.sampling(), config.concurrency
        retries, backoff_s = config.retries, config.backoff_s
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}")
    input_path, output_path = os.fspath(input_path), os.fspath(output_path)
    journal_path = output_path + ".journal"
    # A journal entry counts as done only when its summary passes today's check (a journal from
    # an older prompt may hold untagged text): the others are asked again.
    done = {k: e for k, e in _journal(journal_path).items()
            if isinstance(e.get("summary"), str) and summary_problem(e["summary"]) is None}
    resumed = len(done)
    requests = 0

    async def ask(key: str, row: dict[str, Any]) -> dict[str, Any]:
        nonlocal requests
        error = ""
        for attempt in range(retries + 1):
            if attempt:
                await asyncio.sleep(backoff_s * 2 ** (attempt - 1))
            requests += 1
            try:
                completions = await backend.generate([summary_request(row, sampling)])
                text = completions[0][0].text.strip()
            except Exception as exc:  # any backend failure is retried, then counted
                error = f"{type(exc).__name__}: {exc}"
                continue
            problem = summary_problem(text)
            if problem is None:
                return {"key": key, "summary": text}
            error = problem  # a response without the three parts is a failure, retried
        return {"key": key, "error": error}

    with open(journal_path, "a", encoding="utf-8") as journal:
        pending: set[asyncio.Task[dict[str, Any]]] = set()

        def record(entry: dict[str, Any]) -> None:
            done[entry["key"]] = entry
            journal.write(json.dumps(entry, ensure_ascii=False) + "\n")
            journal.flush()

        for row in _rows(input_path):
            key = sample_key(row)
            if "summary" in done.get(key, {}):
                continue
            if len(pending) >= concurrency:
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    record(task.result())
            pending.add(asyncio.ensure_future(ask(key, row)))
        for next_done in asyncio.as_completed(pending):
            record(await next_done)

    samples = summarized = failed = 0
    failures: dict[str, str] = {}
    with atomic_write(output_path) as out:
        for row in _rows(input_path):
            samples += 1
            entry = done.get(sample_key(row), {})
            if "summary" in entry:
                out.write(json.dumps({**row, "summary": entry["summary"]}, ensure_ascii=False) + "\n")
                summarized += 1
            else:
                failed += 1
                if len(failures) < 100:
                    failures[sample_key(row)] = entry.get("error", "not summarized")
    return SummaryReport(samples, summarized, resumed, failed, requests, failures)


# -- the two datasets ---------------------------------------------------------------------


def summary_prefix_row(row: dict[str, Any]) -> dict[str, Any]:
    """Dataset 1, the seed's row: every field kept (`summary` too), the prompt unchanged,
    `extra_info.answer` = summary, blank line, original answer, and
    `extra_info.has_summary_prefix: true`."""
    info = row["extra_info"]
    return {**row, "extra_info": {**info, "answer": f"{row['summary']}\n\n{info['answer']}",
                                  "has_summary_prefix": True}}


def summary_only_row(row: dict[str, Any]) -> dict[str, Any]:
    """Dataset 2, the seed's row: every field kept (`summary` too), the prompt = one user
    message holding the summary, `extra_info.question` = the summary, the answer unchanged, and
    `extra_info.original_question_discarded: true`."""
    return {**row,
            "prompt": [{"role": "user", "content": row["summary"]}],
            "extra_info": {**row["extra_info"], "question": row["summary"],
                           "original_question_discarded": True}}


def partition(n: int, val_ratio: float = 0.1, seed: int = 42) -> tuple[list[int], list[int]]:
    """`(train, val)`: the row indices of each part, in the order they are written.

    Exactly the seed's split: the rows shuffled by Python's `random.seed(seed);
    random.shuffle(rows)` (here `random.Random(seed)`, the same generator and draws), then
    `val_size = int(n * val_ratio)`; train = the first `n - val_size` of the shuffled order and
    val = the last `val_size`, both in shuffled order. The ratio must be inside (0, 1).
    """
    if not 0 < val_ratio < 1:
        raise ValueError(f"val_ratio must be between 0 and 1 (exclusive), not {val_ratio}")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    train_size = n - int(n * val_ratio)
    return order[:train_size], order[train_size:]


@dataclass(frozen=True)
class DatasetReport:
    """`rows` with a summary, split into `train` and `val` (each dataset); `failed`: samples left
    out because their summary is missing or empty."""

    rows: int
    train: int
    val: int
    failed: int
    files: list[str]


def _summarized_offsets(path: str) -> tuple[list[int], int]:
    """The byte offsets of the lines whose `summary` is a non-empty string, and the count of
    the others (left out as failed summaries). A line that is not a JSON object, or whose
    summary is neither text nor null, is an error naming the file and line."""
    offsets: list[int] = []
    failed = 0
    with open(path, "rb") as f:
        for number, offset, row in _lines(f, path):
            if row is None:
                continue
            summary = row.get("summary")
            if summary is not None and not isinstance(summary, str):
                raise FormatError(path, number, "/summary", f"expected a string, got {type(summary).__name__}")
            if summary:
                offsets.append(offset)
            else:
                failed += 1
    return offsets, failed


def _lines(f: Any, path: str) -> Iterator[tuple[int, int, dict[str, Any] | None]]:
    """`(line number, byte offset, record)` per line of a binary file; None for a blank line."""
    number = 0
    while True:
        offset = f.tell()
        raw = f.readline()
        if not raw:
            return
        number += 1
        yield number, offset, _record(raw, path, number)


def _record(raw: bytes, path: str, number: int) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        row = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FormatError(path, number, "", f"not valid JSON: {err}") from None
    if not isinstance(row, dict):
        raise FormatError(path, number, "", f"expected a JSON object, got {type(row).__name__}")
    return row


def summary_datasets(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    config: DatasetConfig | None = None,
    ext: str = "parquet",
    val_ratio: float = 0.1,
    seed: int = 42,
    allow_empty: bool = False,
    prefix_name: str = "summary_prefix",
    only_name: str = "summary_only",
) -> DatasetReport:
    """Write `{prefix_name,only_name}_{train,val}.{ext}` from summarized split rows.

    Samples whose summary is missing or empty are left out and counted (`failed`). The rest are
    partitioned by `partition` — one partition for both datasets, each file in the seed's
    shuffled order. Memory holds one byte offset per row, not the rows: the input is read once
    to find the summarized lines, then line by line in shuffled order. No sample with a summary:
    `NoSummaries`, and nothing is written, unless `allow_empty`. `config` gives `ext`,
    `val_ratio`, `seed` and `allow_empty` at once.
    """
    if config is not None:
        ext, val_ratio, seed, allow_empty = config.ext, config.val_ratio, config.seed, config.allow_empty
    if ext not in ("jsonl", "parquet"):
        raise ValueError(f"ext must be 'jsonl' or 'parquet', not {ext!r}")
    input_path, out_dir = os.fspath(input_path), os.fspath(out_dir)
    offsets, failed = _summarized_offsets(input_path)
    if not offsets and not allow_empty:
        raise NoSummaries(f"{input_path}: no split sample has a summary ({failed} with an empty one; failed "
                          "summaries are kept out of this file, see the summary counts); no dataset written "
                          "(allow_empty writes empty ones)")
    train, val = partition(len(offsets), val_ratio, seed)
    os.makedirs(out_dir, exist_ok=True)
    paths = {(name, part): os.path.join(out_dir, f"{name}_{part}.{ext}")
             for name in (prefix_name, only_name) for part in ("train", "val")}
    hook = registry().hook
    with ExitStack() as stack, open(input_path, "rb") as f:  # all four files appear together, or none
        writers = {k: open_writer(p) for k, p in paths.items()}
        for writer in writers.values():
            stack.enter_context(writer)
        for part, indices in (("train", train), ("val", val)):
            for index in indices:
                f.seek(offsets[index])
                row = json.loads(f.readline())  # read and checked in the first pass
                for name, make in ((prefix_name, summary_prefix_row), (only_name, summary_only_row)):
                    out = make(row)
                    hook.training_record(record=out, formatter=name.replace("_", "-"))
                    writers[(name, part)].write(out)
    return DatasetReport(len(offsets), len(train), len(val), failed, list(paths.values()))
