"""Seed 002 formats: search-agent traces → multi-turn conversations and per-search-result splits.

A trace is `{question, trace: [step, ...]}` with steps `{type: reasoning, content}`,
`{type: search, query}`, `{type: search_result, documents: [{title, content}]}`,
`{type: CorrectAnswer, content}` and any other `{type, content}`. Search episodes of the
harness become traces with `harness_search.trace.to_trace`.

- `search-multiturn`: one conversation per turn with results (see `to_multiturn`);
- `search-splits`: one sample per `search_result` step — the context up to and including it,
  and the steps after it up to the next result as the answer (see `to_split_samples`).
  `split_traces` does the same for whole files with the Rust splitter (`harness.jsonl.split`).

The summaries and the two summary datasets built on the splits are in
`harness.formats.summaries`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from harness.formats.base import Formatter, RecordError, optional_text, require

__all__ = [
    "DATA_SOURCE",
    "ABILITY",
    "render_step",
    "render_context",
    "split_row",
    "to_split_samples",
    "to_multiturn",
    "split_traces",
    "SearchSplits",
    "SearchMultiturn",
]

DATA_SOURCE = "search_agent"
ABILITY = "search"


def _check_step(step: Any, pointer: str) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise RecordError(pointer, f"expected an object, got {type(step).__name__}")
    require(step, "type", str, pointer)
    return step


def render_documents(documents: Any, pointer: str = "") -> str:
    if documents is None:
        documents = []
    if not isinstance(documents, list):
        raise RecordError(f"{pointer}/documents", f"expected an array, got {type(documents).__name__}")
    parts = []
    for i, doc in enumerate(documents, start=1):
        at = f"{pointer}/documents/{i - 1}"
        if not isinstance(doc, dict):
            raise RecordError(at, f"expected an object, got {type(doc).__name__}")
        parts.append(f"Document {i}:\nTitle: {optional_text(doc, 'title', at)}\nContent: {optional_text(doc, 'content', at)}")
    return "<information>\n" + "\n\n".join(parts) + "\n</information>"


def render_step(step: dict[str, Any], pointer: str = "") -> str:
    """A step as the model sees it: `<think>`, `<search>`, `<information>`, `<answer>` or `<{type}>`."""
    kind = _check_step(step, pointer)["type"]
    if kind == "reasoning":
        return f"<think>\n{optional_text(step, 'content', pointer)}\n</think>"
    if kind == "search":
        return f"<search>\n{optional_text(step, 'query', pointer)}\n</search>"
    if kind == "search_result":
        return render_documents(step.get("documents"), pointer)
    if kind == "CorrectAnswer":
        return f"<answer>\n{optional_text(step, 'content', pointer)}\n</answer>"
    return f"<{kind}>\n{optional_text(step, 'content', pointer)}\n</{kind}>"


def render_context(question: str, steps: Sequence[dict[str, Any]], pointer: str = "/trace", start: int = 0) -> str:
    """`Question: …`, a blank line, then the rendered steps separated by blank lines."""
    rendered = [render_step(s, f"{pointer}/{start + i}") for i, s in enumerate(steps)]
    return "\n\n".join([f"Question: {question}", *rendered])


def split_row(context: str, answer: str, split_index: int, total_splits: int, *,
              data_source: str = DATA_SOURCE, ability: str = ABILITY) -> dict[str, Any]:
    """The seed's split sample row."""
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": context}],
        "ability": ability,
        "extra_info": {"question": context, "answer": answer, "split_index": split_index,
                       "total_splits": total_splits},
    }


def _trace(record: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    question = require(record, "question", str, "")
    steps = require(record, "trace", list, "")
    return question, [_check_step(s, f"/trace/{i}") for i, s in enumerate(steps)]


def to_split_samples(record: dict[str, Any], *, data_source: str = DATA_SOURCE,
                     ability: str = ABILITY) -> list[dict[str, Any]]:
    """One sample per `search_result` step whose response (the steps up to the next result, or
    to the end) is not empty; a trace without results gives none."""
    question, steps = _trace(record)
    points = [i for i, s in enumerate(steps) if s["type"] == "search_result"]
    rows = []
    for k, i in enumerate(points):
        end = points[k + 1] if k + 1 < len(points) else len(steps)
        response = steps[i + 1:end]
        if not response:
            continue
        answer = "\n\n".join(render_step(s, f"/trace/{i + 1 + j}") for j, s in enumerate(response))
        rows.append(split_row(render_context(question, steps[:i + 1]), answer, k, len(points),
                              data_source=data_source, ability=ability))
    return rows


def _turns(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group steps into turns: reasonings accumulate, a search sets the query, a result or an
    answer closes the turn."""
    turns: list[dict[str, Any]] = []
    current: dict[str, Any] = {"reasoning": [], "query": None, "results": None, "answer": None}
    for i, step in enumerate(steps):
        kind = step["type"]
        if kind == "reasoning":
            current["reasoning"].append(optional_text(step, "content", f"/trace/{i}"))
        elif kind == "search":
            current["query"] = optional_text(step, "query", f"/trace/{i}")
        elif kind in ("search_result", "CorrectAnswer"):
            if kind == "search_result":
                current["results"] = render_documents(step.get("documents"), f"/trace/{i}")
            else:
                current["answer"] = optional_text(step, "content", f"/trace/{i}")
            turns.append(current)
            current = {"reasoning": [], "query": None, "results": None, "answer": None}
    if current["reasoning"] or current["query"] is not None:
        turns.append(current)
    return turns


def _assistant_text(turn: dict[str, Any]) -> str:
    parts = []
    if turn["reasoning"]:
        parts.append("<think>\n" + "\n".join(turn["reasoning"]) + "\n</think>")
    if turn["query"] is not None:
        parts.append(f"<search>\n{turn['query']}\n</search>")
    elif turn["answer"] is not None:
        parts.append(f"<answer>\n{turn['answer']}\n</answer>")
    return "\n\n".join(parts)


def to_multiturn(record: dict[str, Any]) -> list[dict[str, Any]]:
    """For each turn `s` with results, the conversation: the question, then for turns 0..s+1 the
    assistant message (its `<think>` and `<search>`/`<answer>`) and, for turns before s+1 with
    results, the user's `<information>`. Kept only when it ends with an assistant message."""
    question, steps = _trace(record)
    turns = _turns(steps)
    rows = []
    for s, turn in enumerate(turns):
        if turn["results"] is None:
            continue
        messages = [{"role": "user", "content": question}]
        for t in range(min(s + 2, len(turns))):
            messages.append({"role": "assistant", "content": _assistant_text(turns[t])})
            if t < s + 1 and turns[t]["results"] is not None:
                messages.append({"role": "user", "content": turns[t]["results"]})
        if messages[-1]["role"] == "assistant":
            rows.append({"messages": messages})
    return rows


def split_traces(inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                 output: str | os.PathLike[str], *, data_source: str = DATA_SOURCE,
                 ability: str = ABILITY) -> tuple[int, int]:
    """`to_split_samples` over whole files: the Rust splitter (`harness.jsonl.split`) cuts every
    trace at its `search_result` steps, then each piece is rendered. Returns `(traces, rows)`."""
    from harness import jsonl
    from harness.formats.writers import open_writer
    from harness.plugins import registry

    hook = registry().hook
    directory = os.path.dirname(os.path.abspath(os.fspath(output)))
    with tempfile.TemporaryDirectory(dir=directory, prefix=".splits.") as tmp:
        pieces = os.path.join(tmp, "pieces.jsonl")
        report = jsonl.split(inputs, pieces, "/trace", on=("/type", "search_result"),
                             carry=["/question"])
        rows = 0
        with open_writer(output) as writer:
            for line, piece in enumerate(jsonl.read(pieces), start=1):
                question = piece.get("question")
                if not isinstance(question, str):
                    raise RecordError("/question", "required field is missing or not a string "
                                      f"(split piece {line})")
                context = render_context(question, piece["context"])
                answer = "\n\n".join(render_step(s) for s in piece["response"])
                row = split_row(context, answer, piece["split_index"], piece["total_splits"],
                                data_source=data_source, ability=ability)
                hook.training_record(record=row, formatter=SearchSplits.name)
                writer.write(row)
                rows += 1
    return report.records, rows


class SearchSplits(Formatter):
    name: ClassVar[str] = "search-splits"
    description: ClassVar[str] = "seed 002 trace → one sample per search result: context so far → next steps"

    def __init__(self, *, data_source: str = DATA_SOURCE, ability: str = ABILITY):
        self.data_source = data_source
        self.ability = ability

    def format(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        return to_split_samples(record, data_source=self.data_source, ability=self.ability)


class SearchMultiturn(Formatter):
    name: ClassVar[str] = "search-multiturn"
    description: ClassVar[str] = "seed 002 trace → multi-turn {messages}, loss on every assistant turn"

    def format(self, record: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return iter(to_multiturn(record))
