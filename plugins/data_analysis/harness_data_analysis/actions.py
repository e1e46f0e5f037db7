"""Reading the model's message: reasoning, then a ```python block of code.

The code is the content of every ```python block (also ```py, ```python3 or a bare ```), in
order, dedented and joined by a blank line; blocks tagged with another language are left alone.
The closing fence may follow code on the same line (```` df.mean()``` ````). The reasoning is
the text before the first code block. A message is invalid when it is too long, has no code
block (or only an unterminated one), or its code is blank; the `reason` names which.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

_BLOCK = re.compile(r"```([^\n`]*)\n(.*?)```", re.DOTALL)
_OPENING = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n", re.IGNORECASE)
PYTHON_TAGS = {"", "python", "python3", "py"}


@dataclass(frozen=True)
class Action:
    reasoning: str = ""
    code: str = ""
    invalid: str | None = None  # why the message cannot run: a StepStatus reason
    feedback: str = ""  # what the model is told when it is invalid


def parse_action(text: str, max_chars: int) -> Action:
    if len(text) > max_chars:
        return Action(
            invalid="action_too_long",
            feedback=(
                f"Your message is {len(text)} characters long, over the limit of {max_chars}. "
                "Reply with a short explanation and one ```python code block."
            ),
        )
    blocks = [m for m in _BLOCK.finditer(text) if m.group(1).strip().lower() in PYTHON_TAGS]
    if not blocks:
        unterminated = _OPENING.search(text) is not None
        return Action(
            invalid="unterminated_code_block" if unterminated else "no_code_block",
            feedback=(
                "Your code block is not closed with ```."
                if unterminated
                else "Your message has no ```python code block."
            )
            + " Explain briefly, then put the code in a ```python block; call submit(answer) "
            "once you have the answer.",
        )
    code = "\n\n".join(textwrap.dedent(m.group(2)).strip("\n") for m in blocks)
    if not code.strip():
        return Action(
            invalid="empty_code_block",
            feedback="Your ```python block is empty. Put the code to run inside it.",
        )
    return Action(reasoning=text[: blocks[0].start()].strip(), code=code)
