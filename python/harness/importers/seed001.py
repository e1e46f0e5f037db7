"""Seed 001 Connections rollout records (`results_*.jsonl`) → episodes.

A record is `{prompt, completion, info: {puzzle_id, categories, all_words, …}, reward,
reward_components, guess_history, complete_reason, …}` (docs/connections.md). Lines are read by
`harness.jsonl.read`. A record needs `prompt` and `completion` as lists of messages and a
puzzle id (`info.puzzle_id`, a non-empty string or an integer); the seed's filter skipped
records without one, and so does a lenient import (counted), where the default is an error
naming the file, line and field.

The episode (env `connections`, version `seed001`; model `seed001`, backend `import`):

- `prompt`: the record's prompt; `steps`: one per assistant message of the completion, the
  messages after it up to the next as its observation. When the completion's guesses line up
  with the non-`auto` entries of `guess_history`, each step's `info` is its guess record (and
  an `auto` record that follows it is its `auto_completed`), its status valid unless the guess
  was `invalid`, labelled with the guess's status;
- `task`: id = `info.puzzle_id` (its type kept), data = `{categories}` when the record has them;
- `reward` and `reward_components` when they are numbers; `outcome`: done, `reason` =
  `complete_reason`, `success` = the game was won (`all_categories_found`);
- `info`: `puzzle_id`, `categories`, `all_words`, `resumed_from_guess_history` (those present
  in the record's `info`), `guess_history` and `complete_reason`, as the connections
  environment records them; `info.seed001`: `record`, the whole record but its prompt and
  completion, `keys`, the order of its top-level keys, `messages`, the raw prompt and completion
  when they hold more than plain messages, and `source` (`file:line`).

`harness_connections.rollout_record.to_rollout_record` gives the record back exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any, TypeGuard

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

__all__ = ["ENV", "episodes", "to_episode"]

ENV = "connections"
VERSION = "seed001"
ROLES = ("system", "user", "assistant", "tool")
INFO_KEYS = ("puzzle_id", "categories", "all_words", "resumed_from_guess_history")


def _messages(record: dict[str, Any], key: str) -> tuple[list[Message], bool]:
    """The messages of `record[key]` and whether they are plain `{role, content}` ones."""
    raw = require(record, key, list, "")
    messages, plain = [], True
    for i, m in enumerate(raw):
        at = f"/{key}/{i}"
        role = require(m, "role", str, at)
        content = require(m, "content", str, at)
        if role not in ROLES:
            raise RecordError(f"{at}/role", f"expected one of {', '.join(ROLES)}, got {role!r}")
        plain = plain and set(m) == {"role", "content"}
        messages.append(Message(role=role, content=content))
    return messages, plain


def _steps(completion: list[Message], history: Any) -> tuple[list[Step], bool]:
    """Steps of the completion, and whether they hold it all (no message before the first
    assistant message)."""
    steps: list[Step] = []
    whole = True
    for message in completion:
        if message.role == "assistant":
            steps.append(Step(action=message.content))
        elif steps:
            steps[-1].observation.append(message)
        else:
            whole = False
    guesses = [g for g in history if isinstance(g, dict)] if isinstance(history, list) else []
    own = [g for g in guesses if g.get("status") != "auto"]
    if guesses and len(own) == len(steps) and len(guesses) == len(history):
        k = -1
        for record in guesses:
            if record.get("status") == "auto":
                if k >= 0:
                    steps[k].info["auto_completed"] = dict(record)
                continue
            k += 1
            steps[k].info.update(record)
            status = record.get("status")
            steps[k].status = StepStatus(valid=status != "invalid", label=status if isinstance(status, str) else None)
    if steps:
        steps[-1].done = True
    return steps, whole


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def to_episode(record: dict[str, Any], *, source: str, line: int, created_at: str, harness_version: str) -> Episode:
    """The episode of one seed 001 rollout record (see the module docstring)."""
    if not isinstance(record, dict):
        raise RecordError("", f"expected a JSON object, got {type(record).__name__}")
    prompt, plain_prompt = _messages(record, "prompt")
    completion, plain_completion = _messages(record, "completion")
    info = require(record, "info", dict, "")
    puzzle_id = info.get("puzzle_id")
    if isinstance(puzzle_id, bool) or not isinstance(puzzle_id, (str, int)) or puzzle_id == "":
        raise RecordError("/info/puzzle_id", "expected a non-empty string or an integer (the seed's filter "
                          "skips such records; --lenient leaves them out)")
    steps, whole = _steps(completion, record.get("guess_history"))
    reason = record.get("complete_reason")
    reward = record.get("reward")
    components = record.get("reward_components")
    seed: dict[str, Any] = {
        "record": {k: v for k, v in record.items() if k not in ("prompt", "completion")},
        "keys": list(record),
        "source": f"{source}:{line}",
    }
    if not (plain_prompt and plain_completion and whole):
        seed["messages"] = {"prompt": record["prompt"], "completion": record["completion"]}
    episode_info: dict[str, Any] = {k: info[k] for k in INFO_KEYS if k in info}
    for key in ("guess_history", "complete_reason"):
        if key in record:
            episode_info[key] = record[key]
    episode_info["seed001"] = seed
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    return Episode(
        schema_version=SCHEMA_VERSION,
        episode_id=make_episode_id("import", ENV, puzzle_id, 0, VERSION, digest, line),
        env=Env(name=ENV, version=VERSION),
        task=Task(id=puzzle_id, data={"categories": info["categories"]} if "categories" in info else {}),
        model=ModelSpec(name=VERSION, backend="import"),
        prompt=prompt,
        steps=steps,
        reward=float(reward) if _number(reward) else None,
        reward_components={k: float(v) for k, v in components.items() if _number(v)}
        if isinstance(components, dict) else {},
        outcome=Outcome(done=True, reason=reason if isinstance(reason, str) else None,
                        success=reason == "all_categories_found"),
        provenance=Provenance(harness_version=harness_version, created_at=created_at, run_id=f"import-{VERSION}"),
        info=episode_info,
    )


def episodes(path: str | os.PathLike[str], *, counts: Counter[str], lenient: bool = False,
             created_at: str, harness_version: str) -> Iterator[tuple[int, Episode]]:
    """`(line, episode)` for each rollout record of a seed 001 results file; `counts` gets
    `records`, `malformed` and (lenient) `skipped`, the records left out for a missing puzzle id."""
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
                if lenient and err.field == "/info/puzzle_id":
                    counts["skipped"] += 1
                    continue
                raise FormatError(path, line, err.field, err.reason) from None
    finally:
        counts["malformed"] += reader.malformed
