"""Seed 002 formats: search episodes → multi-turn conversations and per-search-result splits.

The formatters read episodes (the `search` environment's, and seed 002 traces imported with
`harness import seed002`); each is seen as the seed 002 trace it stands for
(`harness.formats.search_trace`) and the seed's functions below make the rows from it. A trace
is `{question, trace: [step, ...]}` with steps `{type: reasoning, content}`,
`{type: search, query}`, `{type: search_result, documents: [{title, content}]}`,
`{type: CorrectAnswer, content}` and any other `{type, content}`.

- `search-multiturn`: one conversation per turn with results, in the seed's row shape
  `{data_source, prompt, ability, answer, extra_info}` (see `to_multiturn`);
- `search-splits`: one sample per `search_result` step — the context up to and including it,
  and the steps after it up to the next result as the answer (see `to_split_samples`).

The summaries and the two summary datasets built on the splits are in
`harness.formats.summaries`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from harness.episode import Episode
from harness.formats.base import Formatter, RecordError, optional_text, require
from harness.formats.search_trace import is_search_episode, search_trace

__all__ = [
    "ABILITY",
    "DATA_SOURCE",
    "MULTITURN_ABILITY",
    "MULTITURN_DATA_SOURCE",
    "SearchMultiturn",
    "SearchSplits",
    "render_context",
    "render_step",
    "split_row",
    "to_multiturn",
    "to_split_samples",
]

DATA_SOURCE = "search_agent"
ABILITY = "search"
MULTITURN_DATA_SOURCE = "search_agent_multiturn"
MULTITURN_ABILITY = "search_reasoning"


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
        parts.append(
            f"Document {i}:\nTitle: {optional_text(doc, 'title', at)}\nContent: {optional_text(doc, 'content', at)}"
        )
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
    answer closes the turn; other step types take no part. A last open turn is kept when it has
    reasoning or a non-empty query."""
    turns: list[dict[str, Any]] = []

    def fresh() -> dict[str, Any]:
        return {"reasoning": [], "query": "", "results": None, "answer": ""}

    current = fresh()
    for i, step in enumerate(steps):
        kind, at = step["type"], f"/trace/{i}"
        if kind == "reasoning":
            current["reasoning"].append(optional_text(step, "content", at))
        elif kind == "search":
            current["query"] = optional_text(step, "query", at)
        elif kind in ("search_result", "CorrectAnswer"):
            if kind == "search_result":
                documents = step.get("documents", [])
                # An explicit null closes the turn without results, as in the seed: no sample
                # is cut there and no <information> message is shown.
                current["results"] = None if documents is None else render_documents(documents, at)
            else:
                current["answer"] = optional_text(step, "content", at)
            turns.append(current)
            current = fresh()
    if current["reasoning"] or current["query"]:
        turns.append(current)
    return turns


def _assistant_text(turn: dict[str, Any]) -> str:
    """`<think>` of the turn's reasonings, a blank line, its `<search>` (or else `<answer>`); an
    empty query or answer leaves its tag out, so a turn may give an empty text."""
    parts = []
    if turn["reasoning"]:
        parts.append("<think>\n" + "\n".join(turn["reasoning"]) + "\n</think>")
    if turn["query"]:
        parts.append(f"<search>\n{turn['query']}\n</search>")
    elif turn["answer"]:
        parts.append(f"<answer>\n{turn['answer']}\n</answer>")
    return "\n\n".join(parts)


def to_multiturn(record: dict[str, Any], *, data_source: str = MULTITURN_DATA_SOURCE,
                 ability: str = MULTITURN_ABILITY, messages: bool = False) -> list[dict[str, Any]]:
    """For the k-th turn `s` with results, the conversation: the question, then for turns
    0..s+1 the assistant message (its `<think>` and `<search>`/`<answer>`; left out when empty,
    never trained on) and, for turns before s+1 with results, the user's `<information>`. Kept
    only when it ends with an assistant message. The seed's row:

        {data_source, prompt: conversation, ability, answer: last assistant text,
         extra_info: {question, split_index: k, total_splits, turn_index: s + 1,
                      num_assistant_turns}}

    `messages=True` adds a `messages` copy of the conversation (the key TRL reads)."""
    question, steps = _trace(record)
    turns = _turns(steps)
    with_results = [s for s, turn in enumerate(turns) if turn["results"] is not None]
    rows = []
    for k, s in enumerate(with_results):
        conversation = [{"role": "user", "content": question}]
        for t in range(min(s + 2, len(turns))):
            content = _assistant_text(turns[t])
            if content:
                conversation.append({"role": "assistant", "content": content})
            if t < s + 1 and turns[t]["results"] is not None:
                conversation.append({"role": "user", "content": turns[t]["results"]})
        if conversation[-1]["role"] != "assistant":
            continue
        row: dict[str, Any] = {
            "data_source": data_source,
            "prompt": conversation,
            "ability": ability,
            "answer": conversation[-1]["content"],
            "extra_info": {
                "question": question,
                "split_index": k,
                "total_splits": len(with_results),
                "turn_index": s + 1,
                "num_assistant_turns": sum(m["role"] == "assistant" for m in conversation),
            },
        }
        if messages:
            row["messages"] = [dict(m) for m in conversation]
        rows.append(row)
    return rows


class _SearchFormatter(Formatter):
    """Reads search episodes (imported seed 002 traces among them)."""

    env: ClassVar[str] = "search"

    def reads_env(self, episode: Episode) -> bool:
        return is_search_episode(episode)

    def applies(self, episode: Episode) -> str | None:
        return "failed with an error" if episode.error is not None else None


class SearchSplits(_SearchFormatter):
    name: ClassVar[str] = "search-splits"
    description: ClassVar[str] = "search episode → one sample per search result: context so far → next steps"

    def __init__(self, *, data_source: str = DATA_SOURCE, ability: str = ABILITY):
        self.data_source = data_source
        self.ability = ability

    def format(self, episode: Episode) -> list[dict[str, Any]]:
        return to_split_samples(search_trace(episode), data_source=self.data_source, ability=self.ability)


class SearchMultiturn(_SearchFormatter):
    name: ClassVar[str] = "search-multiturn"
    description: ClassVar[str] = ("search episode → multi-turn {data_source, prompt, ability, answer, "
                                  "extra_info}, loss on every assistant turn")

    def __init__(self, *, data_source: str = MULTITURN_DATA_SOURCE, ability: str = MULTITURN_ABILITY,
                 messages: bool = False):
        self.data_source = data_source
        self.ability = ability
        self.messages = messages

    def format(self, episode: Episode) -> list[dict[str, Any]]:
        return to_multiturn(search_trace(episode), data_source=self.data_source, ability=self.ability,
                            messages=self.messages)
