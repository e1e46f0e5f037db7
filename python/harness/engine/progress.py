"""The progress bar of a rollout run: episodes done, episodes/s, generated tokens/s, failures."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

from harness.episode import Episode


class Progress:
    def __init__(self, total: int, *, done: int = 0, label: str = "rollouts", enabled: bool = True) -> None:
        self.started = time.monotonic()
        self.episodes = 0
        self.tokens = 0
        self.failed = 0
        self.bar = tqdm(total=total, initial=done, desc=label, unit="ep", file=sys.stderr,
                        disable=not enabled, mininterval=0.5, dynamic_ncols=True)

    def update(self, episode: Episode) -> None:
        self.episodes += 1
        self.tokens += episode.usage.completion_tokens or 0
        self.failed += episode.error is not None
        elapsed = max(time.monotonic() - self.started, 1e-9)
        self.bar.set_postfix_str(
            f"{self.episodes / elapsed:.2f} ep/s, {self.tokens / elapsed:.1f} tok/s, {self.failed} failed",
            refresh=False,
        )
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
