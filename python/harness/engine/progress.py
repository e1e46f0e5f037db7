"""What a person watching a rollout run sees: per-turn progress while a shard generates, and one
summary line when the run is done.

`Progress` is told of every model turn (`turn`) and every finished episode (`episode`). It
draws a bar on stderr — episodes done of the shard's total, and in its postfix the turns done,
generated tokens/s, episodes/s and failures, redrawn as turns complete, so a shard of a few long
episodes does not sit at 0/4 until its end — and hands a `ShardProgress` snapshot to an
optional callback: once at the start (what an earlier run had already committed), then after
each turn and each episode. The callback is how anything else watches a run, without the engine
knowing who is watching (the Luigi shard task sends it to the scheduler):

    generate_shard(config, out, on_progress=lambda p: print(p.line()))

A callback that raises is reported once on stderr and not called again: watching never fails
an episode.

`shard_summary` and `run_summary` are the lines printed when a run is done (the CLI, the Luigi
tasks' status): counts from the manifests, and where the output went.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from harness.backends.base import Completion
from harness.episode import Episode

log = logging.getLogger(__name__)

REDRAW_EVERY = 0.5
"""Seconds between redraws of the bar for turns alone (tqdm redraws for episodes itself)."""


@dataclass(frozen=True)
class ShardProgress:
    """Where one shard stands. `turns`, `tokens`, `failed` and the rates count this run only;
    `episodes` also counts the episodes an earlier run had committed (`resumed`)."""

    label: str  # "connections shard 1/4"
    total: int  # episodes in the shard
    episodes: int  # finished, those of earlier runs included
    resumed: int  # found committed when this run started
    turns: int  # model turns this run
    tokens: int  # completion tokens this run (0 when the backend does not count them)
    failed: int  # episodes of this run that ended with an error
    elapsed: float  # seconds since this run started on the shard

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / max(self.elapsed, 1e-9)

    @property
    def episodes_per_s(self) -> float:
        return (self.episodes - self.resumed) / max(self.elapsed, 1e-9)

    @property
    def percentage(self) -> float:
        return 100.0 * self.episodes / self.total if self.total else 100.0

    def postfix(self) -> str:
        """What the bar shows beside its own count and episodes/s."""
        return f"{self.turns} turns, {self.tokens_per_s:.1f} tok/s, {self.failed} failed"

    def line(self) -> str:
        return (f"{self.label}: {self.episodes}/{self.total} episodes, {self.turns} turns, "
                f"{self.tokens_per_s:.1f} tok/s, {self.episodes_per_s:.2f} ep/s, {self.failed} failed")


ProgressCallback = Callable[[ShardProgress], Any]


class Progress:
    def __init__(self, total: int, *, done: int = 0, label: str = "rollouts", enabled: bool = True,
                 on_progress: ProgressCallback | None = None) -> None:
        self.started = time.monotonic()
        self.label = label
        self.total = total
        self.resumed = done
        self.episodes = 0
        self.turns = 0
        self.tokens = 0
        self.failed = 0
        self.on_progress = on_progress
        self.bar = tqdm(total=total, initial=done, desc=label, unit="ep", file=sys.stderr,
                        disable=not enabled, mininterval=0.5, dynamic_ncols=True)
        self._drawn = self.started
        self._report()

    def turn(self, completion: Completion) -> None:
        """One model turn done (its step recorded)."""
        self.turns += 1
        self.tokens += completion.completion_tokens or 0
        self._postfix()
        now = time.monotonic()
        if now - self._drawn >= REDRAW_EVERY:
            self.bar.refresh()
            self._drawn = now
        self._report()

    def episode(self, episode: Episode) -> None:
        """One episode finished (and handed to the shard)."""
        self.episodes += 1
        self.failed += episode.error is not None
        self._postfix()
        self.bar.update(1)
        self._report()

    def snapshot(self) -> ShardProgress:
        return ShardProgress(label=self.label, total=self.total, episodes=self.resumed + self.episodes,
                             resumed=self.resumed, turns=self.turns, tokens=self.tokens,
                             failed=self.failed, elapsed=time.monotonic() - self.started)

    def close(self) -> None:
        self.bar.close()

    def _postfix(self) -> None:
        self.bar.set_postfix_str(self.snapshot().postfix(), refresh=False)

    def _report(self) -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(self.snapshot())
        except Exception as exc:  # a watcher's bug must not fail the episode that called it
            name = getattr(self.on_progress, "__qualname__", type(self.on_progress).__qualname__)
            log.warning("%s: the progress callback %s raised %s: %s; not calling it again",
                        self.label, name, type(exc).__name__, exc)
            self.on_progress = None


def shard_summary(manifest: dict[str, Any], out_dir: str | os.PathLike[str]) -> str:
    """`out/shard-00000-of-00001.jsonl: 6 episodes, 0 failed, 2 succeeded, 48 completion tokens`"""
    counts = manifest["counts"]
    return (f"{os.path.join(out_dir, manifest['shard']['path'])}: {counts['episodes']} episodes, "
            f"{counts['failed']} failed, {counts['succeeded']} succeeded, "
            f"{counts['completion_tokens']} completion tokens")


def run_summary(manifests: Sequence[dict[str, Any]], out_dir: str | os.PathLike[str]) -> str:
    """One line for a run (or the shards of it that one process wrote): episodes, how they
    ended, tokens, and the directory they are in."""
    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for m in manifests:
        counts = m["counts"]
        for key in ("episodes", "failed", "succeeded", "completion_tokens"):
            totals[key] += counts[key]
        reasons.update(counts.get("outcome_reasons", {}))
    shards = f"{len(manifests)} shard" + ("s" if len(manifests) != 1 else "")
    ended = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return (f"{totals['episodes']} episodes in {shards} ({totals['failed']} failed, "
            f"{totals['succeeded']} succeeded; ended: {ended or 'none'}), "
            f"{totals['completion_tokens']} completion tokens -> {out_dir}")
