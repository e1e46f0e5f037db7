"""What a set of games came to, counted from its episode records."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.episode import load_episodes
from harness.episode_files import episode_files


@dataclass(frozen=True)
class GameFigures:
    """Counts over the episodes of one stage: turns (model steps), the valid ones, wins
    (`outcome.success`), episodes that stopped on an error, and every episode's reward."""

    label: str
    episodes: int
    turns: int
    valid_turns: int
    wins: int
    errors: int
    rewards: tuple[float, ...]

    @property
    def mean_reward(self) -> float:
        return sum(self.rewards) / len(self.rewards) if self.rewards else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rewards": list(self.rewards), "mean_reward": self.mean_reward}

    def line(self) -> str:
        return (f"{self.label}: {self.valid_turns}/{self.turns} valid turns, {self.wins}/{self.episodes} won, "
                f"mean reward {self.mean_reward:.3f}")


def game_figures(label: str, paths: Iterable[str | os.PathLike[str]]) -> GameFigures:
    """The figures of the episodes in `paths` (files, or directories of episode files). Files
    that do not exist are skipped (a stage that wrote no child has no doctored.jsonl); no
    episode at all is an error: a figure of nothing would read as a zero."""
    given = [Path(p) for p in paths]
    files = episode_files([p for p in given if p.exists()])
    if not files:
        raise ValueError(f"{label}: no episodes: none of {', '.join(map(str, given))} exists")
    episodes = turns = valid = wins = errors = 0
    rewards: list[float] = []
    for episode in load_episodes(files):
        episodes += 1
        turns += len(episode.steps)
        valid += sum(1 for step in episode.steps if step.status.valid)
        wins += bool(episode.outcome.success)
        errors += episode.error is not None
        rewards.append(float(episode.reward) if episode.reward is not None else 0.0)
    if not episodes:
        raise ValueError(f"{label}: no episodes in {', '.join(map(str, files))}")
    return GameFigures(label, episodes, turns, valid, wins, errors, tuple(rewards))
