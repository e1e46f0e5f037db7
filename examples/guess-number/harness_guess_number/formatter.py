"""Turn won guess-number episodes into chat transcripts for SFT."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from harness.episode import Episode
from harness.formats.base import Formatter


class WonTranscripts(Formatter):
    """One `{"messages": [...]}` row per won episode. The runner counts what it leaves out:
    episodes of other environments (`env`) and lost games (`applies`)."""

    name: ClassVar[str] = "guess-number-transcripts"
    description: ClassVar[str] = "Chat transcripts of won guess-number games"
    env: ClassVar[str | None] = "guess-number"

    def applies(self, episode: Episode) -> str | None:
        return None if episode.outcome.success else "was not won"  # even with --include-failed

    def format(self, episode: Episode) -> Iterable[dict[str, Any]]:
        messages = [{"role": m.role, "content": m.content} for m in episode.prompt]
        for step in episode.steps:
            messages.append({"role": "assistant", "content": step.action})
            if not step.done:
                messages += [{"role": m.role, "content": m.content} for m in step.observation]
        yield {"messages": messages}
