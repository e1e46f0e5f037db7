"""The actions the conformance check plays: probes built from the prompt, and garbage.

The check does not know the game, so unless it is given actions it builds a few from the
prompt: every `<tag>` the prompt shows, filled with the numbers and words of the prompt
(`<guess>1</guess>`, `<guess>100</guess>`, ...), so that some steps are valid ones. Then it
plays garbage until the episode ends. Garbage is what a small model really writes: nothing,
whitespace, 100 KB of text, random Unicode, lone surrogates, control characters, a tag
repeated thousands of times. Each one must give an invalid step, never an exception.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

TAG = re.compile(r"<([A-Za-z_][\w-]{0,30})>")
NUMBER = re.compile(r"-?\d{1,9}")
WORD = re.compile(r"[^\W\d_]{3,20}")


@dataclass(frozen=True)
class Action:
    """One assistant message to play, and how a failure names it."""

    text: str
    label: str


def tags_of(prompt_text: str) -> list[str]:
    """The tags the prompt mentions (`<guess>` → `guess`), first seen first."""
    return list(dict.fromkeys(TAG.findall(prompt_text)))


def probes(prompt_text: str, *, limit: int = 8) -> list[Action]:
    """Actions built from the prompt: each tag filled with the prompt's own numbers and words."""
    tags = tags_of(prompt_text)[:3]
    fillers = [*dict.fromkeys(NUMBER.findall(prompt_text))][:4]
    for tag in tags:  # what the prompt shows inside the tag (`<guess>N</guess>` → `N`)
        fillers += re.findall(rf"<{re.escape(tag)}>(.{{1,40}}?)</{re.escape(tag)}>", prompt_text)
    fillers += [*dict.fromkeys(WORD.findall(prompt_text))][:4]
    fillers = list(dict.fromkeys(fillers))
    texts = [f"<{tag}>{filler}</{tag}>" for tag in tags for filler in fillers] if tags else fillers
    return [Action(text, f"probe {text[:40]!r}") for text in texts[:limit]]


def garbage(prompt_text: str = "") -> list[Action]:
    """Messages no environment can use; the prompt's tags make the repeated-tag ones."""
    rng = random.Random(0)  # the same garbage on every run and every machine
    planes = [(0x20, 0x7E), (0xA0, 0x2FFF), (0x4E00, 0x9FFF), (0xE000, 0xFFFD), (0x1F300, 0x1FAFF),
              (0x10000, 0x10FFFF)]
    unicode_text = "".join(chr(rng.randint(*rng.choice(planes))) for _ in range(3000))
    tag = (tags_of(prompt_text) or ["answer"])[0]
    words = "the model keeps talking and never answers the question it was asked "
    return [
        Action("", "garbage: empty message"),
        Action(" \n\t \r\n  ", "garbage: whitespace only"),
        Action((words * (100_000 // len(words) + 1))[:100_000], "garbage: 100 KB of text"),
        Action(unicode_text, "garbage: random Unicode"),
        Action("\ud800 half a pair \udfff and \udc00", "garbage: lone surrogates"),
        Action("".join(map(chr, range(256))) * 4 + "\x00" * 64, "garbage: binary-ish text"),
        Action(f"<{tag}>" * 5000, f"garbage: <{tag}> repeated 5000 times"),
        Action(f"<{tag}></{tag}>" * 2000, f"garbage: empty <{tag}></{tag}> repeated 2000 times"),
        Action("</" + "<>" * 3000 + ">", "garbage: angle brackets"),
    ]


def script(prompt_text: str, given: Sequence[str], max_steps: int, *,
           garbage_only: bool = False) -> list[Action]:
    """What to play at turns 1, 2, ...: the given actions (or probes), then garbage, over and
    over, `max_steps` in all. With `garbage_only`, garbage from the first turn: the episode
    then ends by the environment's own limit, the path where turn counting goes wrong."""
    first = [Action(text, f"action {i + 1}") for i, text in enumerate(given)] or probes(prompt_text)
    if garbage_only:
        first = []
    junk = garbage(prompt_text)
    out = list(first[:max_steps])
    while len(out) < max_steps:
        out.append(junk[(len(out) - len(first)) % len(junk)])
    return out
