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
import os
import sys
import warnings
from collections.abc import Iterator
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
from harness.formats.base import Formatter
from harness.formats.prm_mc import add_mc_arguments, run_mc
from harness.formats.writers import open_writer

__all__ = [
    "FORMATS",
    "SeedEpisodes",
    "iter_episodes",
    "load_episodes",
    "to_sft_standard",
    "to_sft_interleaved",
    "to_prm_samples",
    "default_output",
    "main",
]

FORMATS = ("sft-standard", "sft-interleaved", "prm")


class SeedEpisodes:
    """The episode records of one JSONL file, read lazily (see `iter_episodes`).

    After iteration: `records` (JSON objects read), `unverified` (left out by `verified_only`)
    and `malformed` (lines that were not JSON objects, left out in lenient mode).
    """

    def __init__(self, path: str | os.PathLike[str], *, verified_only: bool = True, lenient: bool = False):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"episodes file not found: {self.path}")
        self.verified_only = verified_only
        self.lenient = lenient
        self.records = self.unverified = self.malformed = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from harness.jsonl import read

        self.records = self.unverified = 0
        # Blank lines are skipped by the reader; a malformed line raises a JsonlError naming the
        # file, line and column, or in lenient mode is counted (the seed dropped it silently).
        reader = read(self.path, errors="skip" if self.lenient else "raise")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the count is reported below, once, with the file name
            for record in reader:
                self.records += 1
                if self.verified_only and not record.get("verified"):
                    self.unverified += 1
                    continue
                yield record
        self.malformed = reader.malformed
        if self.malformed:
            warnings.warn(f"{self.path}: left out {self.malformed} malformed line(s)", stacklevel=2)


def iter_episodes(path: str | os.PathLike[str], verified_only: bool = True, *, lenient: bool = False) -> SeedEpisodes:
    """The episodes of `path`, streamed; see `SeedEpisodes` for the counts."""
    return SeedEpisodes(path, verified_only=verified_only, lenient=lenient)


def load_episodes(path: str | os.PathLike[str], verified_only: bool = True, *, lenient: bool = False) -> list[dict[str, Any]]:
    """Every episode of `path` as a list (the seed's API; `iter_episodes` streams instead).

    Missing file: `FileNotFoundError`. Blank lines are skipped. A malformed line is an error
    naming the file and line, or with `lenient` is left out and counted in a warning. With
    `verified_only`, records whose `verified` is not truthy are dropped.
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
    rule) and the path returned is None.
    """
    from harness.plugins import registry

    formatter = make_formatter(fmt, label_mode=label_mode, merge_assistant=merge_assistant)
    output = os.fspath(output) if output is not None else default_output(input_path, fmt)
    episodes = iter(iter_episodes(input_path, not include_unverified, lenient=lenient))
    first = next(episodes, None)
    if first is None:
        return None, 0, 0
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    hook = registry().hook
    n_episodes = n_rows = 0
    with open_writer(output, json_columns=formatter.json_columns) as writer:
        for episode in itertools.chain([first], episodes):
            n_episodes += 1
            for row in formatter.format(episode):
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
        output, n_episodes, n_rows = prepare(
            args.input, args.format, args.output, include_unverified=args.include_unverified,
            label_mode=args.label_mode, merge_assistant=args.merge_assistant, lenient=args.lenient,
        )
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if output is None:
        print(f"warning: no episodes to convert in {args.input}; nothing written", file=sys.stderr)
        return 0
    print(f"Wrote {n_rows} {args.format} examples from {n_episodes} episodes to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
