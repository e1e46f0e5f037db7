"""Parsing one assistant message in seed 002's step language.

A message holds reasoning in `<think>…</think>` (optional, any number of blocks) and exactly
one action: `<search>query</search>` or `<answer>text</answer>`. Tags are matched exactly
(lowercase); tags inside a think block are reasoning, not actions; text outside the tags is
ignored. A message that breaks these rules parses to an `Invalid` with a reason, never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

MAX_QUERY_CHARS = 1000
"""Longer queries are invalid (`query_too_long`): a search box, not a place for a document."""

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_ACTION = re.compile(r"<(search|answer)>(.*?)</\1>", re.DOTALL)


@dataclass(frozen=True)
class Action:
    kind: Literal["search", "answer"]
    text: str  # the query or the answer, stripped
    reasoning: str  # the think blocks' contents, stripped, joined by blank lines


@dataclass(frozen=True)
class Invalid:
    reason: str  # snake_case, stored as the step status's reason
    reasoning: str


def parse_action(message: str) -> Action | Invalid:
    thoughts = [m.strip() for m in _THINK.findall(message)]
    reasoning = "\n\n".join(t for t in thoughts if t)
    outside = _THINK.sub(" ", message)
    found = _ACTION.findall(outside)
    kinds = {kind for kind, _ in found}
    if not found:
        return Invalid("no_action_tag", reasoning)
    if kinds == {"search", "answer"}:
        return Invalid("search_and_answer", reasoning)
    kind = found[0][0]
    if len(found) > 1:
        return Invalid(f"multiple_{kind}_tags", reasoning)
    text = found[0][1].strip()
    if not text:
        return Invalid(f"empty_{'query' if kind == 'search' else 'answer'}", reasoning)
    if kind == "search" and len(text) > MAX_QUERY_CHARS:
        return Invalid("query_too_long", reasoning)
    return Action(kind, text, reasoning)
