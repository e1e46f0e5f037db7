"""Turn won guess-number episodes into chat transcripts for SFT."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.formats.base import Formatter, RecordError


class WonTranscripts(Formatter):
    """One `{"messages": [...]}` row per won episode; lost ones give nothing."""

    name = "guess-number-transcripts"
    description = "Chat transcripts of won guess-number games"

    def format(self, record: dict[str, Any]) -> Iterable[dict[str, Any]]:
        if record.get("env", {}).get("name") != "guess-number":
            raise RecordError("/env/name", "not a guess-number episode")
        if not record["outcome"].get("success"):
            return
        messages = [{"role": m["role"], "content": m["content"]} for m in record["prompt"]]
        for step in record["steps"]:
            messages.append({"role": "assistant", "content": step["action"]})
            if not step["done"]:
                messages += [{"role": m["role"], "content": m["content"]} for m in step["observation"]]
        yield {"messages": messages}
