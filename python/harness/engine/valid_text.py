"""Text a record can hold: valid Unicode, so that it encodes to UTF-8.

A Python string may hold lone surrogates (`"\\ud83d"`, half of an emoji's UTF-16 pair), which no
UTF-8 file can hold: a server's JSON escapes decode to them, and so do bytes read with
`errors="surrogateescape"` (file names, a subprocess's output). The engine replaces each lone
surrogate with U+FFFD (a correctly paired one becomes its character) wherever text enters an
episode record, and lists the JSON pointers of the strings it changed in the record's
`info.text_repairs`.
"""

from __future__ import annotations

from typing import Any

from harness.pointer import escape


def valid_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (the same string when it has none)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def repair_strings(data: Any, pointer: str = "") -> tuple[Any, list[str]]:
    """`data` (plain JSON-like data) with every string and key made valid, and the JSON pointers
    of the strings changed (a changed key is listed by its new pointer)."""
    if isinstance(data, str):
        fixed = valid_text(data)
        return fixed, ([pointer] if fixed is not data else [])
    repairs: list[str] = []
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            new_key = valid_text(key) if isinstance(key, str) else key
            where = f"{pointer}/{escape(str(new_key))}"
            out[new_key], inner = repair_strings(value, where)
            repairs += ([where] if new_key is not key else []) + inner
        return out, repairs
    if isinstance(data, list):
        items = []
        for index, value in enumerate(data):
            fixed, inner = repair_strings(value, f"{pointer}/{index}")
            items.append(fixed)
            repairs += inner
        return items, repairs
    return data, repairs
