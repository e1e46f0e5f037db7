"""Seed 002 summaries: an LLM summary for each split sample, then the summary-prefix and
summary-only datasets with one seeded train/val partition.

    report = asyncio.run(summarize_splits("splits.jsonl", "summarized.jsonl", backend))
    summary_datasets("summarized.jsonl", "out/", ext="parquet")
    # out/summary_prefix_{train,val}.parquet, out/summary_only_{train,val}.parquet

`summarize_splits` asks any `harness.backends.base.Backend` for one summary per split sample,
with at most `concurrency` requests in flight, retrying a failed request with exponential
backoff. Progress goes to a journal beside the output (`{output}.journal`, one line per
finished request, flushed), so an interrupted run resumes where it stopped: samples with a
summary in the journal are not asked again, failed ones are retried. A sample that still fails
(backend error or empty text) is kept out of the output and counted — the seed stored the error
text as the summary and trained on it. The output is written atomically in input order; it is
the split rows with a `summary` field.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from harness.atomic import atomic_write
from harness.backends.base import Backend, Request
from harness.episode import Message, Sampling
from harness.formats.writers import open_writer
from harness.plugins import registry

__all__ = [
    "SUMMARY_PROMPT",
    "DEFAULT_SAMPLING",
    "SummaryReport",
    "DatasetReport",
    "sample_key",
    "summary_request",
    "summarize_splits",
    "summary_prefix_row",
    "summary_only_row",
    "val_indices",
    "summary_datasets",
]

SUMMARY_PROMPT = """Below is the work of a research agent so far: a question, its reasoning and the \
results of its searches.

Write a summary it can continue from, in three parts:
1. Question: state precisely what has to be answered.
2. Reasoning so far: a few sentences on what the agent has tried and concluded.
3. Key facts: the facts from the search results needed for the next step, quoted verbatim.

Give enough to decide the next action. Do not answer the question yourself.

{context}"""

DEFAULT_SAMPLING = Sampling(n=1, temperature=0.3, max_tokens=2000)
"""The seed's settings (gpt-4o-mini at temperature 0.3, at most 2000 tokens)."""


def sample_key(row: dict[str, Any]) -> str:
    """A stable id of a split sample (its context and answer), for the resume journal."""
    info = row.get("extra_info") or {}
    text = json.dumps([info.get("question"), info.get("answer"), info.get("split_index")], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def summary_request(row: dict[str, Any], sampling: Sampling = DEFAULT_SAMPLING) -> Request:
    context = (row.get("extra_info") or {}).get("question") or row["prompt"][0]["content"]
    return Request([Message(role="user", content=SUMMARY_PROMPT.format(context=context))], sampling)


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
    sampling: Sampling = DEFAULT_SAMPLING,
    concurrency: int = 16,
    retries: int = 3,
    backoff_s: float = 1.0,
) -> SummaryReport:
    """Add a `summary` to each split sample of `input_path`; see the module docstring."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}")
    input_path, output_path = os.fspath(input_path), os.fspath(output_path)
    journal_path = output_path + ".journal"
    done = _journal(journal_path)
    resumed = sum(1 for e in done.values() if "summary" in e)
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
            if text:
                return {"key": key, "summary": text}
            error = "empty summary"
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
        for task in asyncio.as_completed(pending):
            record(await task)

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
    """Dataset 1: the prompt unchanged, the answer = summary, blank line, original answer."""
    info = row["extra_info"]
    return {**_without_summary(row),
            "extra_info": {**info, "answer": f"{row['summary']}\n\n{info['answer']}"}}


def summary_only_row(row: dict[str, Any]) -> dict[str, Any]:
    """Dataset 2: the prompt = one user message holding the summary, the answer unchanged."""
    return {**_without_summary(row),
            "prompt": [{"role": "user", "content": row["summary"]}],
            "extra_info": {**row["extra_info"], "question": row["summary"]}}


def _without_summary(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "summary"}


def val_indices(n: int, val_ratio: float = 0.1, seed: int = 42) -> set[int]:
    """The validation rows of `n`: shuffle `range(n)` with `random.Random(seed)` and take the
    first `int(n * val_ratio)`; the rest are training rows."""
    if not 0 < val_ratio < 1:
        raise ValueError(f"val_ratio must be between 0 and 1 (exclusive), not {val_ratio}")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return set(order[: int(n * val_ratio)])


@dataclass(frozen=True)
class DatasetReport:
    rows: int
    train: int
    val: int
    skipped: int  # rows without a summary
    files: list[str]


def summary_datasets(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    ext: str = "parquet",
    val_ratio: float = 0.1,
    seed: int = 42,
    prefix_name: str = "summary_prefix",
    only_name: str = "summary_only",
) -> DatasetReport:
    """Write `{prefix_name,only_name}_{train,val}.{ext}` from summarized split rows.

    Both datasets use the same partition (`val_indices`); rows keep their input order within
    each file. Rows without a summary are skipped and counted. Two passes over the input keep
    memory independent of its size (one set of validation indices).
    """
    if ext not in ("jsonl", "parquet"):
        raise ValueError(f"ext must be 'jsonl' or 'parquet', not {ext!r}")
    input_path, out_dir = os.fspath(input_path), os.fspath(out_dir)
    n = sum(1 for row in _rows(input_path) if isinstance(row.get("summary"), str))
    val = val_indices(n, val_ratio, seed)
    os.makedirs(out_dir, exist_ok=True)
    paths = {(name, part): os.path.join(out_dir, f"{name}_{part}.{ext}")
             for name in (prefix_name, only_name) for part in ("train", "val")}
    hook = registry().hook
    skipped = 0
    with ExitStack() as stack:  # all four files appear together, or none on an error
        writers = {k: stack.enter_context(open_writer(p)) for k, p in paths.items()}
        index = 0
        for row in _rows(input_path):
            if not isinstance(row.get("summary"), str):
                skipped += 1
                continue
            part = "val" if index in val else "train"
            for name, make in ((prefix_name, summary_prefix_row), (only_name, summary_only_row)):
                out = make(row)
                hook.training_record(record=out, formatter=name.replace("_", "-"))
                writers[(name, part)].write(out)
            index += 1
    return DatasetReport(n, n - len(val), len(val), skipped, list(paths.values()))
