"""Writing the page: one static HTML file holding the episodes, the sections and the script
that shows them.

The episodes travel as gzip-compressed JSON in base64 inside inert `<script>` elements: an
index (one small entry per episode, for the list and its filters) and the full records in
chunks of `CHUNK_SIZE`, decompressed by the browser (`DecompressionStream`) only when an episode
of the chunk is opened. So model text is never HTML in the page (nothing to escape, nothing
that can close a tag), the file is several times smaller than the JSONL it shows, and the DOM
holds one page of the list at a time.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from harness.atomic import atomic_write
from harness.episode import Episode
from harness.viewer.inputs import Errors, Inputs, episodes
from harness.viewer.records import detail_record, index_entry
from harness.viewer.sections import Section, render_sections

CHUNK_SIZE = 64
"""Episodes per compressed chunk: opening an episode decompresses its chunk only."""

MAX_FILES_SHOWN = 10


@dataclass(frozen=True)
class ViewReport:
    output: str
    episodes: int
    files: int
    skipped: int
    bytes: int
    sections: int

    def summary(self) -> str:
        skipped = f", {self.skipped} invalid line(s) skipped" if self.skipped else ""
        sections = f", {self.sections} section(s)" if self.sections else ""
        return (f"view: {self.episodes} episode(s) from {self.files} file(s){skipped}{sections}, "
                f"{self.bytes / 1e6:.2f} MB")


def write_view(
    paths_or_episodes: Any,
    output: str | os.PathLike[str],
    *,
    title: str | None = None,
    sections: Sequence[Section] = (),
    errors: Errors = "raise",
    allow_empty: bool = False,
    progress: bool = False,
) -> ViewReport:
    """Write one self-contained HTML page showing the episodes, with `sections` (plots, tables,
    notes) above them, and return what it holds.

    `paths_or_episodes`: a path, or an iterable of paths (episode files, or directories of
    `*.jsonl` shards), `Episode`s and episode dicts. A malformed line or invalid record is an
    error naming file, line and field, unless `errors="skip"`: then it is left out and counted
    in the page's header. No episode at all is an error unless `allow_empty`. The page is
    written atomically; the same inputs give the same bytes. `progress` shows a progress bar
    of the episodes read on stderr.
    """
    sections_html = render_sections(sections)  # a bad section fails before any reading
    inputs = Inputs()
    found: Iterable[tuple[Episode, dict[str, Any], str]] = episodes(paths_or_episodes, inputs, errors)
    if progress:
        from tqdm import tqdm

        found = tqdm(found, desc="view", unit="ep", leave=False)
    index, chunks = pack(found)
    if not index and not allow_empty:
        read = f"{inputs.records} record(s) read from {len(inputs.files)} file(s)"
        skipped = f", {inputs.skipped} skipped as invalid" if inputs.skipped else ""
        raise ValueError(f"no episodes to show ({read}{skipped}); allow_empty=True writes an empty page")
    values = {
        "title": html.escape(title or "Rollout viewer"),
        "css": _static("viewer.css"),
        "js": _static("viewer.js"),
        "header": _header(inputs),
        "sections": sections_html,
        "data": "\n".join([_data_block("index", index), *chunks]),
        "chunk_size": str(CHUNK_SIZE),
    }
    data = re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], _static("page.html")).encode("utf-8")
    with atomic_write(output, binary=True) as f:
        f.write(data)
    return ViewReport(
        output=os.fspath(output),
        episodes=len(index),
        files=len(inputs.files),
        skipped=inputs.skipped,
        bytes=len(data),
        sections=len(sections),
    )


def pack(found: Iterable[tuple[Episode, dict[str, Any], str]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The index entries, and the full records as compressed chunks of `CHUNK_SIZE`, built as
    the episodes are read (only one chunk's records are held at a time)."""
    index: list[dict[str, Any]] = []
    chunks: list[str] = []
    records: list[dict[str, Any]] = []
    for episode, record, source in found:
        index.append(index_entry(episode, source))
        records.append(detail_record(episode, record, source))
        if len(records) == CHUNK_SIZE:
            chunks.append(_data_block(f"chunk-{len(chunks)}", records))
            records = []
    if records:
        chunks.append(_data_block(f"chunk-{len(chunks)}", records))
    return index, chunks


def _data_block(name: str, value: Any) -> str:
    raw = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    packed = base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")
    return f'<script type="application/octet-stream" id="{name}">{packed}</script>'


def _header(inputs: Inputs) -> str:
    files = inputs.files
    shown = "".join(f"<li>{html.escape(f)}</li>" for f in files[:MAX_FILES_SHOWN])
    more = f"<li>… and {len(files) - MAX_FILES_SHOWN} more</li>" if len(files) > MAX_FILES_SHOWN else ""
    parts = [f'<span id="episode-count">{inputs.episodes} episodes</span>']
    if files:
        parts.append(f"<details><summary>from {len(files)} file(s)</summary><ul>{shown}{more}</ul></details>")
    if inputs.skipped:
        listed = "".join(f"<li>{html.escape(e)}</li>" for e in inputs.skipped_errors)
        left = inputs.skipped - len(inputs.skipped_errors)
        if left > 0:
            listed += f"<li>… and {left} more</li>"
        parts.append(f'<details class="skipped"><summary id="skipped-count">{inputs.skipped} invalid line(s) '
                     f"skipped (--errors skip)</summary><ul>{listed}</ul></details>")
    return " ".join(parts)


def _static(name: str) -> str:
    return resources.files("harness.viewer").joinpath("static", name).read_text(encoding="utf-8")
