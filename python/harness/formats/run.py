"""The format stage: episodes → one training file, streaming, in constant memory.

    from harness.formats import FormatConfig, format_files
    report = format_files(["data/rollouts/da"], "train.parquet", FormatConfig(formatter="sft-standard"))

    from harness.formats import format_file, get_formatter          # with a formatter in hand
    report = format_file(get_formatter("prm", label_mode="first-error"), "episodes.jsonl", "prm.jsonl")

Input lines are read by `harness.jsonl.read` (Rust) and validated as episodes (row formatters,
`reads = "rows"`, get the parsed records). Each episode then passes, in this order:

1. `--where` conditions on the record (harness.formats.where, the expressions of `harness jsonl
   filter`) and `--verdict NAME=VERDICT` requirements on its verdicts: the explicit filter;
2. the formatter's environment (`Formatter.reads_env`) and `Formatter.applies`;
3. the success filter: formatters of supervised data (`success_only`) leave out, by default,
   episodes whose `outcome.success` is not true (a lost game is not worth imitating; an
   imported seed 000 record succeeded when the seed verified it); `include_failed` keeps them.

Every episode left out is counted by why, and the report's `summary()` says which filters were
in effect. Each row is passed to the `training_record` lifecycle hook (plugins may inspect or
amend it in place) and written; the output format follows the extension (`.jsonl` or
`.parquet`) and the file is written atomically, by one process at a time (a lock beside it).

No silent zero: a run that makes no row raises `NothingFormatted` saying why ("0 of 4 episodes
are data-analysis episodes (4 connections)", "the filter kept 0 of 200 episodes") and writes
nothing, unless `allow_empty` (then an empty file is written).

Errors: a malformed line, or a record the formatter cannot read, stops the run with an error
naming the file, line and field (`errors="raise"`, the default); `errors="skip"` leaves such
lines out and counts them in the report.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.episode import Episode, EpisodeError, validate_episode
from harness.formats.base import FormatError, Formatter, RecordError
from harness.formats.where import Condition, describe, parse_where
from harness.formats.where import matches as where_matches
from harness.formats.writers import open_writer
from harness.options import setting

__all__ = [
    "VERDICTS",
    "FormatConfig",
    "FormatReport",
    "NothingFormatted",
    "format_file",
    "format_files",
    "format_located",
    "format_records",
]

PathLike = str | os.PathLike[str]
VERDICTS = ("pass", "fail", "no_verdict")
SUCCESS_FILTER = "/outcome/success == true"


@dataclass(frozen=True)
class FormatConfig:
    """The settings of a format stage."""

    formatter: str = setting(help="Formatter plugin: sft-standard, prm, search-splits, trl-messages, … "
                             "(harness format list).")
    formatter_args: dict[str, Any] = setting(
        factory=dict, help="Arguments of the formatter, e.g. label_mode=first-error.")
    where: list[str] = setting(
        factory=list, metavar="'POINTER OP VALUE'",
        help="Keep only episodes meeting this condition, as in harness jsonl filter: "
             "'/reward >= 0.5', '/task/split == train', '/outcome/reason in [\"submitted\"]'.")
    verdict: list[str] = setting(
        factory=list, metavar="NAME=VERDICT",
        help="Keep only episodes whose last verdict of verifier NAME is VERDICT (pass, fail or "
             "no_verdict), e.g. humaneval=pass.")
    include_failed: bool = setting(
        False, help="Also format episodes that did not succeed (outcome.success not true). By "
                    "default the supervised formats (SFT, PRM, search) leave them out; the RL "
                    "formats (verl, rl-tokens) always keep them.")
    errors: Literal["raise", "skip"] = setting(
        "raise", help="Malformed lines and records the formatter cannot read: stop at the first "
                      "(naming file, line and field), or leave them out (counted).")
    allow_empty: bool = setting(
        False, content=False, help="Succeed when no row is made (an empty file is written) instead "
                                   "of failing with the reason.")
    row_group_size: int = setting(1000, content=False, help="Parquet rows per row group.")

    def __post_init__(self) -> None:
        if not self.formatter:
            raise ValueError("formatter: a formatter name is required (harness format list)")
        if self.row_group_size < 1:
            raise ValueError(f"row_group_size must be at least 1, not {self.row_group_size}")
        if self.errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip', not {self.errors!r}")
        self.conditions()
        self.verdicts()

    def conditions(self) -> list[Condition]:
        return [parse_where(text) for text in self.where]

    def verdicts(self) -> list[tuple[str, str]]:
        """`(verifier, verdict)` pairs of the `verdict` setting."""
        out = []
        for text in self.verdict:
            name, sep, wanted = text.partition("=")
            if not sep or not name or wanted not in VERDICTS:
                raise ValueError(f"--verdict {text!r}: expected NAME=VERDICT with VERDICT one of "
                                 f"{', '.join(VERDICTS)}, e.g. humaneval=pass")
            out.append((name, wanted))
        return out


@dataclass
class FormatReport:
    """What a format run did: input `records` read, output `rows` written, and every record left
    out, by why: `malformed` (not JSON objects) and `invalid` (not episodes, or unreadable by the
    formatter: with errors="skip"); `filtered` (by --where / --verdict); `other_envs` (episodes of
    environments the formatter does not read, by environment); `not_applicable` (by the
    formatter's reason); `failed` (left out by the success filter, by outcome). `formatted`
    episodes gave the rows; `filters` describes the explicit filters (--where, --verdict),
    `success_filter` the success filter in effect (None: none)."""

    formatter: str
    output: str
    records: int = 0
    rows: int = 0
    malformed: int = 0
    invalid: int = 0
    filtered: int = 0
    other_envs: dict[str, int] = field(default_factory=dict)
    not_applicable: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    formatted: int = 0
    filters: list[str] = field(default_factory=list)
    success_filter: str | None = None
    env: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: what went in, what came out, what was left out and why."""
        rate = self.records / self.seconds if self.seconds else 0.0
        notes = [f"{self.formatted} formatted"]
        filters = self.filters + ([self.success_filter] if self.success_filter else [])
        if filters:
            notes.append(f"filters: {'; '.join(filters)}")
        if self.filtered:
            notes.append(f"{self.filtered} left out by --where/--verdict")
        if self.other_envs:
            notes.append(f"{sum(self.other_envs.values())} not {self.env} episodes ({_counts(self.other_envs)})")
        for reason, n in sorted(self.not_applicable.items()):
            notes.append(f"{n} {reason}")
        if self.failed:
            notes.append(f"{sum(self.failed.values())} not succeeded, left out ({_counts(self.failed)})")
        notes.append(f"{self.malformed} malformed, {self.invalid} unreadable")
        return (f"{self.formatter}: {self.records} records -> {self.rows} rows in {self.output} "
                f"({'; '.join(notes)}; {rate:,.0f} records/s)")

    def why_empty(self) -> str:
        """Why the run made no row, in words."""
        if self.records == 0:
            return "the input holds no records" + (
                f" ({self.malformed} malformed line(s) left out)" if self.malformed else ""
            )
        unreadable = self.malformed + self.invalid
        if unreadable == self.records:
            return (f"none of the {self.records} records could be read "
                    f"({self.malformed} malformed, {self.invalid} unreadable)")
        candidates = self.records - unreadable
        if self.filtered == candidates:
            return f"the filter kept 0 of {candidates} episodes ({'; '.join(self.filters)})"
        candidates -= self.filtered
        others = sum(self.other_envs.values())
        if others == candidates:
            return f"0 of {candidates} episodes are {self.env} episodes ({_counts(self.other_envs)})"
        candidates -= others
        na = sum(self.not_applicable.values())
        if na == candidates:
            episodes = f"{self.env} episodes" if self.env else "episodes"
            return f"none of the {candidates} {episodes} can be formatted ({_counts(self.not_applicable)})"
        candidates -= na
        failed = sum(self.failed.values())
        if failed == candidates:
            return (f"0 of {candidates} {self.env or ''} episodes succeeded ({_counts(self.failed)}); "
                    "--include-failed formats them too, or choose them with --verdict NAME=pass or "
                    "--where").replace("  ", " ")
        return f"the formatter made no row of the {self.formatted} episode(s) it formatted"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


class NothingFormatted(ValueError):
    """A format run made no row (and `allow_empty` was not set): `report` says why."""

    def __init__(self, report: FormatReport) -> None:
        self.report = report
        super().__init__(f"{report.formatter} made no row: {report.why_empty()}; {report.output} was "
                         "not written (--allow-empty writes an empty file)")

    def __reduce__(self):  # picklable across Luigi worker processes
        return (type(self), (self.report,))


def format_records(formatter: Formatter, records: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """The rows of in-memory episodes (or rows, for a row formatter), each passed to the
    `training_record` hook first; no filter is applied."""
    from harness.plugins import registry

    hook = registry().hook
    for record in records:
        if formatter.reads == "episodes" and not isinstance(record, Episode):
            record = validate_episode(record)
        for row in formatter.format(record):
            hook.training_record(record=row, formatter=formatter.name)
            yield row


def _filters(config: FormatConfig) -> list[str]:
    return [f"--where {text}" for text in map(describe, config.conditions())] + [
        f"--verdict {text}" for text in config.verdict]


def _success_filter(formatter: Formatter, config: FormatConfig) -> str | None:
    if not formatter.success_only or formatter.reads != "episodes":
        return None
    if config.include_failed:
        return "--include-failed: every outcome"
    return f"{SUCCESS_FILTER} (the default of {formatter.name}; --include-failed keeps the others)"


def format_located(
    formatter: Formatter,
    located: Iterable[tuple[str, int | None, Any]],
    output: PathLike,
    config: FormatConfig,
    *,
    report: FormatReport | None = None,
    malformed: Any = None,
    progress: bool = False,
) -> FormatReport:
    """Format `(path, line, record)` triples (records: JSON dicts or `Episode`s) into `output`;
    the shared loop of `format_files` and of the seed 000 command, which formats records as it
    imports them. `malformed()` gives the count of malformed lines the reader left out."""
    from tqdm import tqdm

    from harness.engine.lock import Lock
    from harness.plugins import registry

    if formatter.reads == "rows" and (config.verdict or config.include_failed):
        raise ValueError(f"{formatter.name} reads rows, not episodes: --verdict and --include-failed do not apply")
    output = os.fspath(output)
    report = report or FormatReport(formatter.name, output)
    report.filters, report.env = _filters(config), formatter.env
    report.success_filter = _success_filter(formatter, config)
    conditions, verdicts = config.conditions(), config.verdicts()
    success_only = formatter.success_only and formatter.reads == "episodes" and not config.include_failed
    hook = registry().hook
    started = time.perf_counter()
    other_envs: Counter[str] = Counter()
    not_applicable: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    bar = tqdm(desc=f"format {formatter.name}", unit="rec", disable=not progress, mininterval=0.5,
               dynamic_ncols=True)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    lock = Lock(output + ".lock", what=output)
    lock.acquire()  # a second run writing this file stops here, naming the first
    try:
        with open_writer(output, schema=formatter.parquet_schema(), json_columns=formatter.json_columns,
                         row_group_size=config.row_group_size, non_finite=formatter.non_finite) as writer:
            for path, line, record in located:
                report.records += 1
                bar.update(1)
                if conditions:
                    data = record.to_dict() if isinstance(record, Episode) else record
                    if not where_matches(data, conditions):
                        report.filtered += 1
                        continue
                try:
                    subject = record
                    if formatter.reads == "episodes":
                        subject = record if isinstance(record, Episode) else _episode(record, path, line)
                        if verdicts and not all(_has_verdict(subject, name, wanted) for name, wanted in verdicts):
                            report.filtered += 1
                            continue
                        if not formatter.reads_env(subject):
                            other_envs[subject.env.name] += 1
                            continue
                        reason = formatter.applies(subject)
                        if reason is not None:
                            not_applicable[reason] += 1
                            continue
                        if success_only and subject.outcome.success is not True:
                            failed[_outcome(subject)] += 1
                            continue
                    produced = list(formatter.format(subject))  # one episode's rows: bounded
                except (RecordError, EpisodeError) as err:
                    if config.errors == "raise":
                        raise _located(err, path, line) from None
                    report.invalid += 1
                    continue
                report.formatted += 1
                for row in produced:
                    hook.training_record(record=row, formatter=formatter.name)
                    writer.write(row)
                    report.rows += 1
            report.malformed = malformed() if malformed is not None else 0
            report.other_envs, report.not_applicable = dict(other_envs), dict(not_applicable)
            report.failed = dict(failed)
            report.seconds = time.perf_counter() - started
            if report.rows == 0 and not config.allow_empty:
                raise NothingFormatted(report)  # inside the writer: the file is not left behind
    finally:
        bar.close()
        lock.release()
    return report


def _episode(record: Any, path: str, line: int | None) -> Episode:
    try:
        return validate_episode(record, path=path, line=line)
    except EpisodeError as err:
        hint = _seed_shape(record)
        if hint:
            raise EpisodeError(err.path, err.line, err.field, f"{err.reason}: {hint}") from None
        raise


def _seed_shape(record: Any) -> str | None:
    """A hint when a record is in one of the seeds' own shapes, which are imported first."""
    if not isinstance(record, dict) or "schema_version" in record:
        return None
    if "gold_trace" in record or "teacher_gold_trace" in record:
        return "this is a seed 000 record; import it first: harness import seed000 FILE -o DIR"
    if "trace" in record and "question" in record:
        return "this is a seed 002 trace; import it first: harness import seed002 FILE -o DIR"
    if "guess_history" in record or "completion" in record:
        return "this is a seed 001 rollout record; import it first: harness import seed001 FILE -o DIR"
    return None


def _located(err: RecordError | EpisodeError, path: str, line: int | None) -> FormatError:
    return FormatError(str(err.path if isinstance(err, EpisodeError) else path),
                       err.line if isinstance(err, EpisodeError) else line, err.field, err.reason)


def _has_verdict(episode: Episode, name: str, wanted: str) -> bool:
    verdict = episode.verdict(name)
    return verdict is not None and verdict.verdict == wanted


def _outcome(episode: Episode) -> str:
    success = episode.outcome.success
    return "unknown outcome" if success is None else "failed"


def format_files(
    inputs: PathLike | Sequence[PathLike],
    output: PathLike,
    config: FormatConfig,
    *,
    formatter: Formatter | None = None,
    progress: bool = False,
) -> FormatReport:
    """Format every record of `inputs` (files, or directories of episode shards, in file and
    line order) into `output`; the formatter is built from `config` unless given."""
    from harness.episode_files import episode_files
    from harness.jsonl import read

    if formatter is None:
        from harness.formats import get_formatter

        formatter = get_formatter(config.formatter, **config.formatter_args)
    paths = [os.fspath(p) for p in episode_files([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]
    reader = read(paths, errors=config.errors, locations=True)
    located = ((str(path), line, record) for path, line, record in reader)
    return format_located(formatter, located, output, config, malformed=lambda: reader.malformed,
                          progress=progress)


def format_file(
    formatter: Formatter,
    inputs: PathLike | Sequence[PathLike],
    output: PathLike,
    *,
    errors: Literal["raise", "skip"] = "raise",
    where: Sequence[str] = (),
    verdict: Sequence[str] = (),
    include_failed: bool = False,
    allow_empty: bool = False,
    row_group_size: int = 1000,
) -> FormatReport:
    """`format_files` with a formatter in hand and the settings as keyword arguments."""
    config = FormatConfig(formatter=formatter.name, errors=errors, where=list(where), verdict=list(verdict),
                          include_failed=include_failed, allow_empty=allow_empty,
                          row_group_size=row_group_size)
    return format_files(inputs, output, config, formatter=formatter)
