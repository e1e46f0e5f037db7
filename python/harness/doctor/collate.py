"""Collate and validate (seed 001's step 6): the final SFT rows, and the figures a person checks.

Each example (a seed output row: `prompt`, `completion`, `info`, `reward`, `guess_history`,
`complete_reason`, `tags`) becomes

    {puzzle_id, prompt, completion, reward, accuracy, guess_history, categories, tags,
     complete_reason, solved}

- `accuracy` is the seed's: correct guesses / all guess records, `auto` counted below the line
  only, so a flawless game scores 0.75; `solved` says whether the game was won.
- `tags`: `["doctored"]` for an example that continues a truncated one (it has
  `info.resumed_from_guess_history`), its own tags (`["good example"]`) otherwise.

Validation: every field present and of its type, a non-empty completion, each puzzle once. A row
that fails is an error naming its file, line and field. The report prints the count, the mean
reward, the mean accuracy and the share at accuracy 1.0 (plus the share solved).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write

DOCTORED = "doctored"


class CollateError(ValueError):
    """An example that cannot be a final row; the message names file, line and field."""


@dataclass
class CollateReport:
    rows: int = 0
    doctored: int = 0
    mean_reward: float = 0.0
    mean_accuracy: float = 0.0
    perfect_accuracy: float = 0.0
    """Share of rows at accuracy 1.0."""
    solved: float = 0.0
    """Share of rows whose game was won."""
    output: str = ""
    inputs: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"Examples: {self.rows} ({self.doctored} doctored)",
                f"Mean reward: {self.mean_reward:.4f}",
                f"Mean accuracy: {self.mean_accuracy:.4f}",
                f"Accuracy 1.0: {100 * self.perfect_accuracy:.1f}%",
                f"Solved: {100 * self.solved:.1f}%"]

    def summary(self) -> str:
        return "collate: " + "; ".join(self.lines())

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def final_row(example: dict[str, Any], where: str) -> dict[str, Any]:
    """The final row of one example (see the module docstring)."""
    from harness_connections.predicates import accuracy, is_solved

    info = example.get("info")
    if not isinstance(info, dict) or info.get("puzzle_id") in (None, ""):
        raise CollateError(f"{where}: /info/puzzle_id: required (the puzzle the example plays)")
    for name, kind in (("prompt", list), ("completion", list), ("guess_history", list)):
        if not isinstance(example.get(name), kind):
            raise CollateError(f"{where}: /{name}: expected a list")
    if not example["completion"]:
        raise CollateError(f"{where}: /completion: empty (nothing to train on)")
    reward = example.get("reward")
    if isinstance(reward, bool) or not isinstance(reward, (int, float)):
        raise CollateError(f"{where}: /reward: expected a number, got {reward!r}")
    tags = [DOCTORED] if info.get("resumed_from_guess_history") else list(example.get("tags") or [])
    return {
        "puzzle_id": info["puzzle_id"],
        "prompt": example["prompt"],
        "completion": example["completion"],
        "reward": reward,
        "accuracy": accuracy(example),
        "guess_history": example["guess_history"],
        "categories": info.get("categories"),
        "tags": tags,
        "complete_reason": example.get("complete_reason"),
        "solved": is_solved(example),
    }


def collate_files(inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], *,
                  allow_empty: bool = False) -> CollateReport:
    """Every example of `inputs` (JSONL) as a final row, into `output` (written atomically).
    No example is an error (and nothing is written) unless `allow_empty`."""
    report = CollateReport(output=str(output), inputs=[str(p) for p in inputs])
    rows: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for path in map(Path, inputs):
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    example = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CollateError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from None
                if not isinstance(example, dict):
                    raise CollateError(f"{where}: expected a JSON object")
                row = final_row(example, where)
                key = str(row["puzzle_id"])
                if key in seen:
                    raise CollateError(f"{where}: /info/puzzle_id: puzzle {row['puzzle_id']!r} already at {seen[key]}")
                seen[key] = where
                rows.append(row)
    if not rows and not allow_empty:
        raise CollateError(f"no examples in {', '.join(map(str, inputs))}: nothing to collate")
    with atomic_write(output) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    n = len(rows)
    report.rows = n
    report.doctored = sum(DOCTORED in r["tags"] for r in rows)
    if n:
        report.mean_reward = sum(r["reward"] for r in rows) / n
        report.mean_accuracy = sum(r["accuracy"] for r in rows) / n
        report.perfect_accuracy = sum(r["accuracy"] == 1.0 for r in rows) / n
        report.solved = sum(r["solved"] for r in rows) / n
    return report
