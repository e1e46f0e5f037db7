"""What a conformance check found: failures naming rule, task, seed and step, and a summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SHOWN_PER_RULE = 5  # failures printed per rule; the others are counted


@dataclass(frozen=True)
class Failure:
    """One broken rule. `step` is 1-based (0: the state before the first step)."""

    rule: str
    message: str
    task: str | None = None
    seed: int | None = None
    step: int | None = None

    def where(self) -> str:
        parts = []
        if self.task is not None:
            parts.append(f"task {self.task!r}")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        if self.step is not None:
            parts.append(f"step {self.step}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{self.rule}: {where}: {self.message}" if where else f"{self.rule}: {self.message}"


@dataclass
class Report:
    env: str
    version: str
    args: dict[str, Any]
    rules: list[str]
    tasks: list[str] = field(default_factory=list)  # the ids of the tasks played
    episodes: int = 0  # live plays (each also replayed, rebuilt and played elsewhere)
    steps: int = 0  # steps of the live plays
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be checked here, and why

    @property
    def ok(self) -> bool:
        return not self.failures

    def failed_rules(self) -> list[str]:
        return [r for r in self.rules if any(f.rule == r for f in self.failures)]

    def summary(self) -> str:
        played = ", ".join(_count(n, what) for n, what in
                           ((len(self.tasks), "task"), (self.episodes, "episode"), (self.steps, "step")))
        if self.ok:
            return f"{self.env} {self.version} keeps the environment contract ({len(self.rules)} rules; {played})"
        failed = self.failed_rules()
        return (f"{self.env} {self.version} breaks {len(failed)} of {len(self.rules)} rules "
                f"({', '.join(failed)}): {_count(len(self.failures), 'failure')} ({played})")

    def text(self, *, summary: bool = True) -> str:
        """Every rule with ok or FAIL, its failures (the first few), the notes, the summary."""
        lines = []
        for rule in self.rules:
            mine = [f for f in self.failures if f.rule == rule]
            lines.append(f"{'FAIL' if mine else 'ok':4}  {rule}")
            for failure in mine[:SHOWN_PER_RULE]:
                where = failure.where()
                lines.append(f"        {where + ': ' if where else ''}{failure.message}")
            if len(mine) > SHOWN_PER_RULE:
                lines.append(f"        ... and {len(mine) - SHOWN_PER_RULE} more")
        lines += [f"note: {note}" for note in self.notes]
        if summary:
            lines.append(self.summary())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "failed_rules": self.failed_rules()}


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"
