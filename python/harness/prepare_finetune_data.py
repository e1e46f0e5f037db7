"""Seed 000's training-data preparation: data-analysis episodes → sft-standard, sft-interleaved
or prm JSONL, with the seed's Python API and command line.

    from harness.prepare_finetune_data import load_episodes, to_sft_standard, to_sft_interleaved, to_prm_samples

    python -m harness.prepare_finetune_data --input data/episodes/episodes.jsonl \
        --format prm --label-mode first-error --output data/training/train_prm.jsonl

The formats themselves live in `harness.formats.data_analysis` (also registered as the
formatters `sft-standard`, `sft-interleaved` and `prm`); this module adds the seed's loading
rules and its CLI. Default output: `data/training/{input stem}_{format, - → _}.jsonl`; a
`.parquet` output name writes Parquet instead.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.formats.data_analysis import (
    LABEL_MODES,
    Prm,
    SftInterleaved,
    SftStandard,
    to_prm_samples,
    to_sft_interleaved,
    to_sft_standard,
)
from harness.formats.base import FormatError, Formatter, RecordError
from harness.formats.prm_mc import add_mc_arguments, run_mc
from harness.formats.writers import open_writer

__all__ = [
    "FORMATS",
    "LoadReport",
    "SeedEpisodes",
    "iter_episodes",
    "load_episodes",
    "prepare",
    "write_formatted",
    "to_sft_standard",
    "to_sft_interleaved",
    "to_prm_samples",
    "default_output",
    "main",
]

FORMATS = ("sft-standard", "sft-interleaved", "prm")


@dataclass
class LoadReport:
    """What reading one episodes file found: `records` (JSON objects read), `unverified` (left
    out by `verified_only`), `malformed` (lines that were not JSON objects, left out in lenient
    mode), `non_finite` (lines holding a bare `NaN`, `Infinity` or `-Infinity`, read as Python
    floats) and `duplicate_keys` (lines where an object repeats a key; the last value is kept)."""

    path: str
    records: int = 0
    unverified: int = 0
    malformed: int = 0
    non_finite: int = 0
    duplicate_keys: int = 0

    def __str__(self) -> str:
        notes = [f"{self.unverified} unverified left out"] if self.unverified else []
        if self.non_finite:
            notes.append(f"{self.non_finite} line(s) with bare NaN/Infinity read as floats")
        if self.duplicate_keys:
            notes.append(f"{self.duplicate_keys} line(s) with a duplicated key, last value kept")
        if self.malformed:
            notes.append(f"{self.malformed} malformed line(s) left out")
        return f"{self.path}: {self.records} records" + (f" ({'; '.join(notes)})" if notes else "")


class SeedEpisodes:
    """The episode records of one JSONL file, read lazily with Python's `json` semantics.

    Seed files are written by `json.dumps`, which writes bare `NaN` and `Infinity` (not JSON
    by RFC 8259, so not what `harness.jsonl` reads): here they are accepted as floats, and a
    duplicated key keeps its last value, as `json.loads` does; both are counted in `report`.
    Blank lines are skipped. A malformed line is a `FormatError` naming the file and line, or
    with `lenient` is left out and counted (the seed dropped it with a printed warning).
    Iterating gives the records; `located()` gives `(line, record)` pairs.
    """

    def __init__(self, path: str | os.PathLike[str], *, verified_only: bool = True, lenient: bool = False):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"episodes file not found: {self.path}")
        self.verified_only = verified_only
        self.lenient = lenient
        self.report = LoadReport(self.path)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (record for _, record in self.located())

    def located(self) -> Iterator[tuple[int, dict[str, Any]]]:
        report = self.report = LoadReport(self.path)  # each pass counts afresh
        with open(self.path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    record, problem = None, f"not UTF-8 text ({err.reason} at byte {err.start})"
                else:
                    text = text.lstrip("\ufeff") if number == 1 else text
                    text = text.strip()
                    if not text:
                        continue
                    record, problem = _parse(text, report)
                if problem is not None:
                    if not self.lenient:
                        raise FormatError(self.path, number, "", problem)
                    report.malformed += 1
                    continue
                report.records += 1
                if self.verified_only and not record.get("verified"):
                    report.unverified += 1
                    continue
                yield number, record
        if report.malformed:
            warnings.warn(f"{self.path}: left out {report.malformed} malformed line(s)", stacklevel=3)


def _parse(text: str, report: LoadReport) -> tuple[Any, str | None]:
    """`(record, None)` for a line holding a JSON object (Python's reading of it), else
    `(None, reason)`; counts the line's bare non-finite numbers and duplicated keys."""
    found = {"non_finite": False, "duplicate_keys": False}

    def constant(name: str) -> float:
        found["non_finite"] = True
        return float(name)  # "NaN", "Infinity", "-Infinity"

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) < len(items):
            found["duplicate_keys"] = True
        return obj

    try:
        record = json.loads(text, parse_constant=constant, object_pairs_hook=pairs)
    except json.JSONDecodeError as err:
        return None, f"not valid JSON: {err.msg} (column {err.colno})"
    except RecursionError:
        return None, "not valid JSON: nested too deeply"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {_json_kind(record)}"
    report.non_finite += found["non_finite"]
    report.duplicate_keys += found["duplicate_keys"]
    return record, None


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "true or false", type(None): "null"}.get(
        type(value), "a number")


def iter_episodes(path: str | os.PathLike[str], verified_only: bool = True, *, lenient: bool = False) -> SeedEpisodes:
    """The episodes of `path`, streamed; see `SeedEpisodes` (and its `report`) for the rules."""
    return SeedEpisodes(path, verified_only=verified_only, lenient=lenient)


def load_episodes(path: str | os.PathLike[str], verified_only: bool = True, *, lenient: bool = False) -> list[dict[str, Any]]:
    """Every episode of `path` as a list (the seed's API; `iter_episodes` streams instead).

    Missing file: `FileNotFoundError`. Blank lines are skipped. Lines are read as Python's
    `json` reads them (bare `NaN`/`Infinity` accepted, a duplicated key keeps its last value).
    A malformed line is a `FormatError` naming the file and line, or with `lenient` is left out
    and counted in a warning. With `verified_only`, records whose `verified` is not truthy are
    dropped.
    """
    return list(iter_episodes(path, verified_only, lenient=lenient))


def make_formatter(fmt: str, *, label_mode: str = "episode", merge_assistant: bool = False) -> Formatter:
    """The formatter for a seed format name; episodes are already filtered by the loader."""
    if fmt == "sft-standard":
        return SftStandard(include_unverified=True, merge_assistant=merge_assistant)
    if fmt == "sft-interleaved":
        return SftInterleaved(include_unverified=True)
    if fmt == "prm":
        return Prm(include_unverified=True, label_mode=label_mode)  # type: ignore[arg-type]
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def default_output(input_path: str | os.PathLike[str], fmt: str) -> str:
    stem = os.path.splitext(os.path.basename(os.fspath(input_path)))[0]
    return os.path.join("data", "training", f"{stem}_{fmt.replace('-', '_')}.jsonl")


def prepare(
    input_path: str | os.PathLike[str],
    fmt: str = "sft-standard",
    output: str | os.PathLike[str] | None = None,
    *,
    include_unverified: bool = False,
    label_mode: str = "episode",
    merge_assistant: bool = False,
    lenient: bool = False,
) -> tuple[str | None, int, int]:
    """Write the training file; returns `(output path or None, episodes, rows)`.

    Streams: one episode in memory at a time. With zero episodes nothing is written (the seed's
    rule) and the path returned is None. `write_formatted` does the work on a `SeedEpisodes`,
    whose `report` then holds the load counts.
    """
    episodes = iter_episodes(input_path, not include_unverified, lenient=lenient)
    return write_formatted(episodes, fmt, output, label_mode=label_mode, merge_assistant=merge_assistant)


def write_formatted(
    episodes: SeedEpisodes,
    fmt: str = "sft-standard",
    output: str | os.PathLike[str] | None = None,
    *,
    label_mode: str = "episode",
    merge_assistant: bool = False,
) -> tuple[str | None, int, int]:
    """`prepare` on episodes already opened. A record the formatter cannot read is a
    `FormatError` naming the file, line and field; nothing is left behind."""
    from harness.plugins import registry

    formatter = make_formatter(fmt, label_mode=label_mode, merge_assistant=merge_assistant)
    output = os.fspath(output) if output is not None else default_output(episodes.path, fmt)
    located = episodes.located()
    first = next(located, None)
    if first is None:
        return None, 0, 0
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    hook = registry().hook
    n_episodes = n_rows = 0
    # Seed files may hold NaN/Infinity (json.dumps writes them): written back the same way.
    with open_writer(output, schema=formatter.parquet_schema(), json_columns=formatter.json_columns,
                     non_finite="allow") as writer:
        for line, episode in itertools.chain([first], located):
            n_episodes += 1
            try:
                rows = list(formatter.format(episode))  # one episode's rows: bounded
            except RecordError as err:
                raise FormatError(episodes.path, line, err.field, err.reason) from None
            for row in rows:
                hook.training_record(record=row, formatter=formatter.name)
                writer.write(row)
                n_rows += 1
    return output, n_episodes, n_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.prepare_finetune_data",
        description="Convert data-analysis episodes into training files (seed 000 formats).",
    )
    parser.add_argument("--input", required=True, help="episodes JSONL file")
    parser.add_argument("--format", default="sft-standard", choices=FORMATS, help="default: sft-standard")
    parser.add_argument("--output", help="output file, .jsonl or .parquet "
                        "(default: data/training/{input stem}_{format}.jsonl)")
    parser.add_argument("--include-unverified", action="store_true",
                        help="keep episodes whose gold answer was not verified (default: verified only)")
    parser.add_argument("--label-mode", default="episode", choices=LABEL_MODES,
                        help="prm labels: episode (1.0 if verified, the seed's), first-error "
                        "(step labels against the gold trace) or mc (share of continuations by "
                        "--backend that reach a correct answer)")
    parser.add_argument("--merge-assistant", action="store_true",
                        help="sft-standard: join consecutive assistant messages (turns without output)")
    parser.add_argument("--lenient", action="store_true",
                        help="leave malformed lines out (counted) instead of stopping at the first")
    add_mc_arguments(parser)
    args = parser.parse_args(argv)
    if args.label_mode == "mc":
        return run_mc(parser, args)
    try:
        episodes = iter_episodes(args.input, not args.include_unverified, lenient=args.lenient)
        output, n_episodes, n_rows = write_formatted(
            episodes, args.format, args.output, label_mode=args.label_mode,
            merge_assistant=args.merge_assistant,
        )
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Loaded {episodes.report}", file=sys.stderr)
    if output is None:
        print(f"warning: no episodes to convert in {args.input}; nothing written", file=sys.stderr)
        return 0
    print(f"Wrote {n_rows} {args.format} examples from {n_episodes} episodes to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
