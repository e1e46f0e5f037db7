"""Seed 000's training-data preparation: its Python API and its command line.

    from harness.prepare_finetune_data import load_episodes, to_sft_standard, to_sft_interleaved, to_prm_samples

    python -m harness.prepare_finetune_data --input data/episodes/episodes.jsonl \
        --format prm --label-mode first-error --output data/training/train_prm.jsonl

The command is `harness format seed000` (this module's `main` runs it): each seed record is
imported as an episode (`harness.importers.seed000`, what `harness import seed000` writes) and
formatted by the registered formatter (`sft-standard`, `sft-interleaved` or `prm`, what
`harness format run` does), one record at a time, so its output is byte for byte the seed's.
Default output: `data/training/{input stem}_{format, - → _}.jsonl`; a `.parquet` output name
writes Parquet instead. The seed's rule "zero episodes: a warning and no file" stands, but the
exit status is 1 unless `--allow-empty` (no silent zero).

The seed's functions keep their names here: `load_episodes` (the seed's loader, reading records
with Python's `json` semantics), `to_sft_standard`, `to_sft_interleaved`, `to_prm_samples` (on
seed records).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from harness.formats.base import Formatter
from harness.formats.data_analysis import (
    LABEL_MODES,
    Prm,
    SftInterleaved,
    SftStandard,
    to_prm_samples,
    to_sft_interleaved,
    to_sft_standard,
)
from harness.importers.seed000 import LoadReport, SeedEpisodes, iter_episodes, load_episodes

__all__ = [
    "FORMATS",
    "LABEL_MODES",
    "LoadReport",
    "SeedEpisodes",
    "default_output",
    "iter_episodes",
    "load_episodes",
    "main",
    "make_formatter",
    "prepare",
    "to_prm_samples",
    "to_sft_interleaved",
    "to_sft_standard",
]

FORMATS = ("sft-standard", "sft-interleaved", "prm")


def make_formatter(fmt: str, *, label_mode: str = "episode", merge_assistant: bool = False) -> Formatter:
    """The formatter of a seed format name."""
    if fmt == "sft-standard":
        return SftStandard(merge_assistant=merge_assistant)
    if fmt == "sft-interleaved":
        return SftInterleaved()
    if fmt == "prm":
        return Prm(label_mode=label_mode)  # type: ignore[arg-type]
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def default_output(input_path: str | os.PathLike[str], fmt: str) -> str:
    stem = os.path.splitext(os.path.basename(os.fspath(input_path)))[0]
    return os.path.join("data", "training", f"{stem}_{fmt.replace('-', '_')}.jsonl")


class _Import:
    """The episodes of a seed 000 file that the seed's loader keeps (verified only unless
    asked), as `(path, line, episode)`; `report` is the seed's load report."""

    def __init__(self, path: str | os.PathLike[str], *, include_unverified: bool, lenient: bool):
        from harness.importers.run import episodes_of

        self.path = os.fspath(path)
        self.include_unverified = include_unverified
        self.counts: Counter[str] = Counter()
        self._episodes = episodes_of(self.path, "seed000", counts=self.counts, lenient=lenient)
        self.unverified = 0

    def __iter__(self) -> Iterator[tuple[str, int, Any]]:
        for line, episode in self._episodes:
            if not self.include_unverified and episode.outcome.success is not True:
                self.unverified += 1
                continue
            yield self.path, line, episode

    @property
    def report(self) -> LoadReport:
        c = self.counts
        return LoadReport(self.path, records=c["records"], unverified=self.unverified, malformed=c["malformed"],
                          non_finite=c["non_finite"], duplicate_keys=c["duplicate_keys"])


def prepare(
    input_path: str | os.PathLike[str],
    fmt: str = "sft-standard",
    output: str | os.PathLike[str] | None = None,
    *,
    include_unverified: bool = False,
    label_mode: str = "episode",
    merge_assistant: bool = False,
    lenient: bool = False,
    allow_empty: bool = False,
) -> tuple[str | None, int, int]:
    """Write the training file; returns `(output path or None, episodes, rows)`.

    Streams: one record in memory at a time. With zero episodes nothing is written (the seed's
    rule) and the path returned is None. Episodes that give no row raise
    `harness.formats.NothingFormatted` unless `allow_empty` (the file is then empty).
    """
    path, n_episodes, n_rows, _ = _prepare(input_path, fmt, output, include_unverified=include_unverified,
                                           label_mode=label_mode, merge_assistant=merge_assistant,
                                           lenient=lenient, allow_empty=allow_empty)
    return path, n_episodes, n_rows


def _prepare(input_path: str | os.PathLike[str], fmt: str, output: str | os.PathLike[str] | None, *,
             include_unverified: bool, label_mode: str, merge_assistant: bool, lenient: bool,
             allow_empty: bool) -> tuple[str | None, int, int, LoadReport]:
    from harness.formats.run import FormatConfig, format_located

    formatter = make_formatter(fmt, label_mode=label_mode, merge_assistant=merge_assistant)
    output = os.fspath(output) if output is not None else default_output(input_path, fmt)
    imported = _Import(input_path, include_unverified=include_unverified, lenient=lenient)
    located = iter(imported)
    first = next(located, None)
    if first is None:
        return None, 0, 0, imported.report
    # Verified only is the seed's loading rule, applied above: the format stage takes them all.
    config = FormatConfig(formatter=formatter.name, include_failed=True, allow_empty=allow_empty)
    report = format_located(formatter, itertools.chain([first], located), output, config)
    return output, report.formatted, report.rows, imported.report


def run_seed000(values: dict[str, Any]) -> int:
    """`harness format seed000` with the click command's values; the exit status."""
    import click

    from harness.formats import FormatError, NothingFormatted
    from harness.labels.prm_mc import McConfig, NothingLabelled, write_mc_prm
    from harness.options import from_cli

    fmt, label_mode, input_path = values.pop("fmt"), values.pop("label_mode"), values.pop("input_path")
    include_unverified, lenient, allow_empty = (values.pop("include_unverified"), values.pop("lenient"),
                                                values.pop("allow_empty"))
    output, continuations_out = values.pop("output"), values.pop("continuations_out")
    merge_assistant = values.pop("merge_assistant")
    if label_mode == "mc":
        if fmt != "prm":
            raise click.UsageError("--label-mode mc applies to --format prm")
        if not values.get("backend"):
            raise click.UsageError("--label-mode mc needs --backend (and usually --model)")
    nothing = f"no episodes to convert in {input_path}; nothing written"
    try:
        if label_mode == "mc":
            config = from_cli(McConfig, values, include_failed=include_unverified, allow_empty=False)
            output = output or default_output(input_path, fmt)
            imported = _Import(input_path, include_unverified=True, lenient=lenient)
            try:
                report = write_mc_prm(None, output, config, located=imported, continuations_out=continuations_out)
            except NothingLabelled as err:
                if err.report.episodes:
                    raise
                click.echo(f"Loaded {imported.report}", err=True)
                return _nothing(nothing, allow_empty)
            click.echo(f"Loaded {imported.report}", err=True)
            failures = ", ".join(f"{k} {v}" for k, v in sorted(report.failures.items()))
            click.echo(f"Wrote {report.samples} prm examples (mc labels, {config.samples_per_task} continuations "
                       f"per step) from {report.episodes} episodes to {output}; continuations: "
                       f"{report.continuations} run, {report.failed} failed{f' ({failures})' if failures else ''}; "
                       f"{report.left_out} step(s) left out (no continuation finished)")
            return 0
        written, n_episodes, n_rows, load = _prepare(
            input_path, fmt, output, include_unverified=include_unverified, label_mode=label_mode,
            merge_assistant=merge_assistant, lenient=lenient, allow_empty=allow_empty)
    except (FileNotFoundError, FormatError, NothingFormatted, ValueError) as err:
        click.echo(f"error: {err}", err=True)
        return 1
    click.echo(f"Loaded {load}", err=True)
    if written is None:
        if load.unverified:
            nothing += f" ({load.unverified} unverified left out; --include-unverified keeps them)"
        return _nothing(nothing, allow_empty)
    click.echo(f"Wrote {n_rows} {fmt} examples from {n_episodes} episodes to {written}")
    return 0


def _nothing(message: str, allow_empty: bool) -> int:
    import click

    if allow_empty:
        click.echo(f"warning: {message}", err=True)
        return 0
    click.echo(f"error: {message} (--allow-empty exits 0)", err=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.prepare_finetune_data ARGS`: `harness format seed000 ARGS`."""
    import click

    from harness.cli.format import seed000

    try:
        seed000.main(args=argv, prog_name="python -m harness.prepare_finetune_data", standalone_mode=False)
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except SystemExit as done:
        return int(done.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
