"""Sections other stages add to a page above the episodes: plots, small tables and notes.

Each section renders itself to escaped, self-contained HTML: a plot is an inline PNG (a base64
`data:` URI), never a link to a file beside the page.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Plot:
    """A picture: PNG bytes, the path of a PNG file, or a matplotlib figure (saved as PNG)."""

    title: str
    png: Any
    caption: str | None = None

    def png_bytes(self) -> bytes:
        image = self.png
        if hasattr(image, "savefig"):  # a matplotlib Figure
            buffer = io.BytesIO()
            image.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
            data = buffer.getvalue()
        elif isinstance(image, (bytes, bytearray, memoryview)):
            data = bytes(image)
        elif isinstance(image, (str, os.PathLike)):
            with open(image, "rb") as f:
                data = f.read()
        else:
            raise TypeError(f"plot {self.title!r}: png must be PNG bytes, a file path or a figure, "
                            f"not {type(image).__name__}")
        if not data.startswith(PNG_SIGNATURE):
            raise ValueError(f"plot {self.title!r}: the image is not a PNG (no PNG signature)")
        return data

    def html(self) -> str:
        uri = "data:image/png;base64," + base64.b64encode(self.png_bytes()).decode("ascii")
        return (f'<figure><img src="{uri}" alt="{_text(self.title)}">'
                f"{_caption('figcaption', self.caption)}</figure>")


@dataclass(frozen=True)
class Table:
    """A small table: column names and rows of values (numbers are shown to 4 significant digits)."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str | None = None

    def html(self) -> str:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.title!r}: row {i} has {len(row)} values "
                                 f"for {len(self.columns)} columns")
        head = "".join(f"<th>{_text(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f'<td{_numeric(v)}>{_text(_cell(v))}</td>' for v in row) + "</tr>"
            for row in self.rows
        )
        return (f"<table>{_caption('caption', self.caption)}<thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>")


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text (line breaks kept)."""

    title: str
    text: str

    def html(self) -> str:
        return f'<p class="note">{_text(self.text)}</p>'


Section = Plot | Table | Text


def render_sections(sections: Sequence[Section]) -> str:
    """The sections as HTML, each a `<section>` with its title as a heading and an anchor."""
    out = []
    for i, section in enumerate(sections, start=1):
        if not isinstance(section, (Plot, Table, Text)):
            raise TypeError(f"section {i}: expected a Plot, Table or Text, not {type(section).__name__}")
        out.append(f'<section class="report" id="section-{i}"><h2>{_text(section.title)}</h2>'
                   f"{section.html()}</section>")
    return "\n".join(out)


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _caption(tag: str, caption: str | None) -> str:
    return f"<{tag}>{_text(caption)}</{tag}>" if caption else ""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _numeric(value: Any) -> str:
    return ' class="num"' if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
