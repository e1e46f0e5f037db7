"""The episodes a page shows: read from episode files (or directories of shards), or given as
objects, each with the record as JSON and where it came from (`file:line`)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.episode import Episode, EpisodeError, validate_episode

Errors = Literal["raise", "skip"]

MAX_SHOWN_ERRORS = 20


@dataclass
class Inputs:
    """What reading found, filled as `episodes()` goes: the files read, the records seen and
    the lines left out (`errors="skip"`), the first `MAX_SHOWN_ERRORS` of them as
    `file:line: field: reason`."""

    files: list[str] = field(default_factory=list)
    records: int = 0
    episodes: int = 0
    skipped: int = 0
    skipped_errors: list[str] = field(default_factory=list)


def episodes(items: Any, inputs: Inputs, errors: Errors = "raise") -> Iterator[tuple[Episode, dict[str, Any], str]]:
    """`(episode, record, source)` for each episode of `items`: a path, or an iterable of paths
    (files, or directories of `*.jsonl` shards), `Episode`s and episode dicts, in that order.
    `record` is the episode as JSON. With `errors="raise"` the first malformed line or invalid
    record stops it (`JsonlError` / `EpisodeError`, naming file, line and field); with
    `"skip"` they are left out and counted in `inputs`."""
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', not {errors!r}")
    if isinstance(items, (str, os.PathLike, Episode, dict)):
        items = [items]
    paths: list[str | os.PathLike[str]] = []
    for n, item in enumerate(items, start=1):
        if isinstance(item, (str, os.PathLike)):
            paths.append(item)
            continue
        yield from _read_files(paths, errors, inputs)
        paths = []
        inputs.records += 1
        source = f"<episode {n}>"
        if isinstance(item, Episode):
            inputs.episodes += 1
            yield item, item.to_dict(), source
        elif isinstance(item, dict):
            try:
                episode = validate_episode(item, path=source)
            except EpisodeError as exc:
                if errors == "raise":
                    raise
                inputs.skipped += 1
                if len(inputs.skipped_errors) < MAX_SHOWN_ERRORS:
                    inputs.skipped_errors.append(str(exc))
                continue
            inputs.episodes += 1
            yield episode, item, source
        else:
            raise TypeError(f"item {n}: expected a path, an Episode or an episode dict, not {type(item).__name__}")
    yield from _read_files(paths, errors, inputs)


def _read_files(
    paths: Iterable[str | os.PathLike[str]], errors: Errors, inputs: Inputs
) -> Iterator[tuple[Episode, dict[str, Any], str]]:
    from harness.episode_files import episode_files
    from harness.jsonl import read  # lazy: the Rust-backed reader

    files = [str(p) for p in episode_files(paths)]
    if not files:
        return
    inputs.files.extend(files)
    reader = read(files, errors="raise" if errors == "raise" else "collect", locations=True)
    invalid: list[EpisodeError] = []  # the first ones, to show
    invalid_count = 0
    with warnings.catch_warnings():  # what is left out is counted on the page, not warned about
        warnings.simplefilter("ignore")
        for path, line, record in reader:
            inputs.records += 1
            try:
                episode = validate_episode(record, path=str(path), line=line)
            except EpisodeError as exc:
                if errors == "raise":
                    raise
                invalid_count += 1
                if len(invalid) < MAX_SHOWN_ERRORS:
                    invalid.append(exc)
                continue
            inputs.episodes += 1
            yield episode, record, f"{path}:{line}"
    inputs.records += reader.malformed
    inputs.skipped += invalid_count + reader.malformed
    rank = {path: i for i, path in enumerate(files)}
    left_out = sorted([*invalid, *reader.errors],
                      key=lambda e: (rank.get(str(getattr(e, "path", "")), len(rank)), getattr(e, "line", 0) or 0))
    room = MAX_SHOWN_ERRORS - len(inputs.skipped_errors)
    inputs.skipped_errors.extend(str(e) for e in left_out[: max(room, 0)])
