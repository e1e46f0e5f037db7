"""Seed 002's rendering of search results, shared by the observations and the trace formatters.

A `search_result` step renders as `<information>\\n` + its documents joined by blank lines, each
`Document {i}:\\nTitle: {title}\\nContent: {content}` (i from 1), + `\\n</information>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def render_documents(documents: Iterable[Mapping[str, str]]) -> str:
    return "\n\n".join(
        f"Document {i}:\nTitle: {d['title']}\nContent: {d['content']}"
        for i, d in enumerate(documents, start=1)
    )


def render_information(documents: Iterable[Mapping[str, str]]) -> str:
    return "<information>\n" + render_documents(documents) + "\n</information>"
