"""Reading the guess out of an assistant message.

The last complete `<guess>...</guess>` tag counts (a model that corrects itself mid-message
means its final answer): the last closing tag, and the nearest opening tag before it. Tags match
case-insensitively. Items are the backticked texts inside it, stripped; empty ones are dropped.
Nothing here raises, and the work is linear in the text, so 100 KB of tags costs nothing.
"""

from __future__ import annotations

import re

_OPEN = re.compile(r"<guess>", re.IGNORECASE)
_CLOSE = re.compile(r"</guess>", re.IGNORECASE)
_ITEM = re.compile(r"`([^`]*)`")


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    matches = list(pattern.finditer(text))
    return matches[-1] if matches else None


def parse_guess(text: str) -> list[str] | None:
    """The items of the last complete guess tag, or None when the text has no complete tag."""
    close = _last(_CLOSE, text)
    if close is None:
        return None
    opening = _last(_OPEN, text[: close.start()])
    if opening is None:
        return None
    inside = text[opening.end() : close.start()]
    items = (item.strip() for item in _ITEM.findall(inside))
    return [item for item in items if item]


def format_guess(items: list[str]) -> str:
    """The canonical guess text for `items`, in the format the prompt asks for."""
    return "<guess>[" + ", ".join(f"`{item}`" for item in items) + "]</guess>"
