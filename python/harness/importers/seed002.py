"""Seed 002 search-agent traces (`{question, trace: [step...]}`) → episodes.

Lines are read by `harness.jsonl.read` (strict JSON, as the seed 002 formatters always read
them). Each trace is checked as the seed 002 formatters read it (`to_split_samples`,
`to_multiturn`), so a step they cannot read is an error naming the file, line and field here.

The episode (env `search`, version `seed002`; model `seed002`, backend `import`):

- `prompt`: the question, as the first user message (the multi-turn rows start with it);
- `steps`: one per turn of the trace, a turn ending after a `search_result` or a
  `CorrectAnswer` step (the seed's multi-turn grouping; what follows the last one is a last
  turn): the action is the rendering of the turn's other steps (`<think>`, `<search>`,
  `<answer>`, …, blank-line separated), the observation the rendered `<information>` of its
  result, and `info.seed002` the turn's trace steps exactly as the file held them;
- `task`: id `q-` + a hash of the question, data `{question}`;
- `outcome.success`: true. Seed 002's traces are its successful runs (the pipeline kept the
  correct ones before writing them) and its formatters used every trace of a file, so the
  default success filter of the search formatters keeps every imported trace, as the seed did;
- `info.seed002`: the record's other top-level fields, and `source` (`file:line`).

`harness.formats.search_trace.search_trace` rebuilds the trace exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator
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
    make_episode_id,
)
from harness.formats.base import FormatError, RecordError, require
from harness.formats.search import render_step, to_multiturn, to_split_samples

__all__ = ["ENV", "episodes", "to_episode"]

ENV = "search"
VERSION = "seed002"
CLOSERS = ("search_result", "CorrectAnswer")


def _turns(steps: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    turns: list[list[dict[str, Any]]] = [[]]
    for step in steps:
        turns[-1].append(step)
        if step["type"] in CLOSERS:
            turns.append([])
    return [t for t in turns if t]


def _step(turn: list[dict[str, Any]], last: bool) -> Step:
    actions = [s for s in turn if s["type"] != "search_result"]
    results = [s for s in turn if s["type"] == "search_result"]
    kinds = {s["type"] for s in actions}
    label = "search" if "search" in kinds else "answer" if "CorrectAnswer" in kinds else None
    return Step(
        action="\n\n".join(render_step(s) for s in actions),
        observation=[Message(role="user", content=render_step(s)) for s in results],
        status=StepStatus(valid=True, label=label),
        done=last,
        info={"seed002": turn},
    )


def to_episode(record: dict[str, Any], *, source: str, line: int, created_at: str, harness_version: str) -> Episode:
    """The episode of one seed 002 trace (see the module docstring)."""
    if not isinstance(record, dict):
        raise RecordError("", f"expected a JSON object, got {type(record).__name__}")
    to_split_samples(record)  # the seed formatters' checks: question, trace, every step
    to_multiturn(record)
    question = require(record, "question", str, "")
    turns = _turns(record["trace"])
    steps = [_step(turn, i == len(turns) - 1) for i, turn in enumerate(turns)]
    task_id = "q-" + hashlib.sha256(question.encode("utf-8")).hexdigest()[:12]
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    answered = any(s["type"] == "CorrectAnswer" for s in record["trace"])
    return Episode(
        schema_version=SCHEMA_VERSION,
        episode_id=make_episode_id("import", ENV, task_id, 0, VERSION, digest, line),
        env=Env(name=ENV, version=VERSION),
        task=Task(id=task_id, data={"question": question}),
        model=ModelSpec(name=VERSION, backend="import"),
        prompt=[Message(role="user", content=question)],
        steps=steps,
        outcome=Outcome(done=True, reason="answered" if answered else None, success=True),
        provenance=Provenance(harness_version=harness_version, created_at=created_at, run_id=f"import-{VERSION}"),
        info={"seed002": {"record": {k: v for k, v in record.items() if k not in ("question", "trace")},
                          "source": f"{source}:{line}"}},
    )


def episodes(path: str | os.PathLike[str], *, counts: Counter[str], lenient: bool = False,
             created_at: str, harness_version: str) -> Iterator[tuple[int, Episode]]:
    """`(line, episode)` for each trace of a seed 002 file; `counts` gets `records` and
    `malformed`."""
    from harness.jsonl import read

    path = os.fspath(path)
    source = os.path.basename(path)
    reader = read(path, errors="skip" if lenient else "raise", locations=True)
    try:
        for _, line, record in reader:
            counts["records"] += 1
            try:
                yield line, to_episode(record, source=source, line=line, created_at=created_at,
                                       harness_version=harness_version)
            except RecordError as err:
                raise FormatError(path, line, err.field, err.reason) from None
    finally:
        counts["malformed"] += reader.malformed
