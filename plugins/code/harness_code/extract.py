"""The code in a model's answer: the first ```python block, else the first ``` block, else all."""

from __future__ import annotations

import re

_PYTHON_BLOCK = re.compile(r"```[ \t]*python[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_ANY_BLOCK = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(text: str) -> str:
    for pattern in (_PYTHON_BLOCK, _ANY_BLOCK):
        match = pattern.search(text)
        if match:
            return match.group(1)
    return text
