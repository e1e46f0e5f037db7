"""Seed 000 episode records (`episodes.jsonl` of the data-analysis pipeline) → episodes.

    for line, episode in episodes("episodes.jsonl", counts=Counter()):
        ...

Reading follows the seed (`SeedEpisodes`): Python's `json` semantics, because the seed's files
are written by `json.dumps` (bare `NaN`/`Infinity` read as floats, a duplicated key keeps its
last value; both counted), blank lines skipped, a malformed line an error naming file and line
(or, lenient, left out and counted). Each record is checked as the seed 000 formatters read it,
so a field they cannot read is an error naming the seed file's line and field here, not later.

The episode (env `data-analysis`, version `seed000`; model `seed000`, backend `import`):

- `prompt`: the seed formatters' system prompt and question (with its hint), which is what
  they trained on;
- `steps`: one per turn of the trace the seed read (`gold_trace or teacher_gold_trace`): the
  action is the turn's reasoning and fenced code, the observation what it printed, and `info`
  is the turn exactly as the file held it (its own `turn_index`, absent and null fields, hook
  values), as the `data-analysis` environment's steps hold their turns;
- `outcome.success`: whether the seed verified the record (`verified` truthy: what its loader
  kept by default), with a `triangulation` verdict (`pass`/`fail`) when `verified` is present;
- `task`: id = the question's id (else the record's `episode_id`, else `line-N`), data = the
  record's `csv_source` and `question` when present;
- `info.seed000`: `record`, the whole record with its trace's turns replaced by the marker
  `"$steps"` (they are the steps), `trace`, the key of that trace (absent when it held no turn
  list), `source` (`file:line`) and `encoded: true` when some values are stored as
  `harness.importers.values` describes (non-finite numbers). `harness.formats.data_analysis_record.seed_record`
  rebuilds the record exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.episode import (
    SCHEMA_VERSION,
    Env,
    Episode,
    Message,
    ModelSpec,
    Outcome,
    Provenance,
    Step,
    StepStatus,
    Task,
    Verdict,
    make_episode_id,
)
from harness.formats.base import FormatError, RecordError, optional_objects
from harness.formats.data_analysis import (
    execution_of,
    gold_trace,
    output_text,
    question_message,
    system_prompt,
    to_prm_samples,
    to_sft_interleaved,
    to_sft_standard,
    turn_text,
)
from harness.formats.data_analysis_record import TURNS_IN_STEPS
from harness.importers.values import encode, needs_encoding

__all__ = ["ENV", "LoadReport", "SeedEpisodes", "episodes", "iter_episodes", "load_episodes", "to_episode"]

ENV = "data-analysis"
VERSION = "seed000"


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
    """The seed 000 records of one JSONL file, read lazily with Python's `json` semantics.

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
                record: Any
                problem: str | None
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
    """The seed records of `path`, streamed; see `SeedEpisodes` (and its `report`) for the rules."""
    return SeedEpisodes(path, verified_only=verified_only, lenient=lenient)


def load_episodes(
    path: str | os.PathLike[str], verified_only: bool = True, *, lenient: bool = False
) -> list[dict[str, Any]]:
    """Every seed record of `path` as a list (the seed's API; `iter_episodes` streams instead).

    Missing file: `FileNotFoundError`. Blank lines are skipped. Lines are read as Python's
    `json` reads them (bare `NaN`/`Infinity` accepted, a duplicated key keeps its last value).
    A malformed line is a `FormatError` naming the file and line, or with `lenient` is left out
    and counted in a warning. With `verified_only`, records whose `verified` is not truthy are
    dropped.
    """
    return list(iter_episodes(path, verified_only, lenient=lenient))


# -- one record → one episode -----------------------------------------------------------------


def check(record: dict[str, Any]) -> None:
    """Raise the `RecordError` the seed 000 formatters would raise on `record`, if any."""
    to_sft_standard(record)
    to_sft_interleaved(record)
    to_prm_samples(record, label_mode="first-error")  # also reads the consistency traces


def _task_id(record: dict[str, Any], line: int) -> str | int:
    question = record.get("question")
    for candidate in (question.get("id") if isinstance(question, dict) else None, record.get("episode_id")):
        if (isinstance(candidate, str) and candidate) or (
            isinstance(candidate, int) and not isinstance(candidate, bool)
        ):
            return candidate
    return f"line-{line}"


def _step(turn: dict[str, Any], at: str, last: bool) -> Step:
    execution = execution_of(turn, at)
    output = output_text(execution, f"{at}/execution")
    success = execution.get("success")
    if execution.get("submitted_answer") is not None:
        label: str | None = "submitted"
    else:
        label = {True: "executed", False: "execution_error"}.get(success) if isinstance(success, bool) else None
    return Step(
        action=turn_text(turn, at),
        observation=[Message(role="user", content=output)] if output else [],
        status=StepStatus(valid=True, label=label),
        done=last,
        info=encode(turn),
    )


def to_episode(record: dict[str, Any], *, source: str, line: int, created_at: str, harness_version: str) -> Episode:
    """The episode of one seed 000 record (see the module docstring); a `RecordError` when the
    seed's formatters could not read it."""
    check(record)
    pointer, trace = gold_trace(record)
    key = pointer[1:]
    turns = optional_objects(trace, "turns", pointer)
    stored = dict(record)
    moved = isinstance(record.get(key), dict) and isinstance(record[key].get("turns"), list)
    if moved:
        stored[key] = {**record[key], "turns": TURNS_IN_STEPS}
    steps = [_step(turn, f"{pointer}/turns/{i}", i == len(turns) - 1) for i, turn in enumerate(turns)] if moved else []
    task_id = _task_id(record, line)
    digest = hashlib.sha256(json.dumps(encode(record), sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    verification = []
    if "verified" in record:
        verification.append(Verdict(verifier="triangulation", version=VERSION,
                                    verdict="pass" if record["verified"] else "fail"))
    seed: dict[str, Any] = {"record": encode(stored), "source": f"{source}:{line}"}
    if moved:
        seed["trace"] = key
    if needs_encoding(record):
        seed["encoded"] = True  # some values are stored as harness.importers.values says
    return Episode(
        schema_version=SCHEMA_VERSION,
        episode_id=make_episode_id("import", ENV, task_id, 0, VERSION, digest, line),
        env=Env(name=ENV, version=VERSION),
        task=Task(id=task_id, data={k: encode(record[k]) for k in ("csv_source", "question") if k in record}),
        model=ModelSpec(name=VERSION, backend="import"),
        prompt=[Message(role="system", content=system_prompt(record)),
                Message(role="user", content=question_message(record)["content"])],
        steps=steps,
        outcome=Outcome(done=True, reason="submitted" if any(s.status.label == "submitted" for s in steps) else None,
                        success=bool(record.get("verified"))),
        verification=verification,
        provenance=Provenance(harness_version=harness_version, created_at=created_at, run_id=f"import-{VERSION}"),
        info={"seed000": seed},
    )


def episodes(path: str | os.PathLike[str], *, counts: Counter[str], lenient: bool = False,
             created_at: str, harness_version: str) -> Iterator[tuple[int, Episode]]:
    """`(line, episode)` for each record of a seed 000 file; `counts` gets `records`,
    `malformed`, `non_finite` and `duplicate_keys`."""
    reader = SeedEpisodes(path, verified_only=False, lenient=lenient)
    source = os.path.basename(reader.path)
    try:
        for line, record in reader.located():
            try:
                yield line, to_episode(record, source=source, line=line, created_at=created_at,
                                       harness_version=harness_version)
            except RecordError as err:
                raise FormatError(reader.path, line, err.field, err.reason) from None
    finally:
        report = reader.report
        counts.update(records=report.records, malformed=report.malformed, non_finite=report.non_finite,
                      duplicate_keys=report.duplicate_keys)
