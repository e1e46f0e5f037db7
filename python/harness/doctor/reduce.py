"""Token reduction (seed 001's step 5): shorten the reasoning of examples over the token limits.

Limits, per example (a row with a `completion` of messages and `info.all_words`): the assistant
messages of its completion may hold 2048 tokens in all when the puzzle has 16 words or fewer,
else min(3072, 128 × words); one assistant message may hold 1024.

- Phase 1: each message over 1024 tokens gets the target int(1024 × 0.8).
- Phase 2: when the example is still over its total limit, the target is int(limit × 0.8): the
  messages are taken largest first and each is cut by min(what is still needed, 30 % of its
  tokens), in one pass.

A backend (any: an API model, vLLM, the embedded model) rewrites the message's `<think>` content
to its target length. Its answer replaces the message only when it has exactly one
`<think>…</think>` and its `<guess>…</guess>` text (from the first `<guess>` to the last
`</guess>`) is byte-identical to the original's; otherwise the original is kept. An example still
over a limit afterwards is dropped and counted: `Token Limit (Generation)` when a message is over
1024, else `Token Limit (Total)`.

Rewrites run `concurrency` at a time; a failed request is retried `retries` times, then the
original is kept (counted as failed). Every answer is appended to a cache beside the output
(`.NAME.reduce-cache.jsonl`, keyed by the message, its target and the settings that decide the
answer) as it arrives, fsynced, so a rerun after a crash asks only what is missing and writes the
same output (atomically). The cache stays: a rerun of a finished reduction asks nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write, new_file_mode
from harness.options import setting

MESSAGE_LIMIT = 1024
SHRINK = 0.8
"""Targets aim this far below the limit they must meet."""
STEP = 0.3
"""Phase 2 cuts a message by at most this share of its tokens."""

SYSTEM = (
    "You shorten the reasoning of a player of Connections, the word-group game. You are given one of "
    "the player's replies: its reasoning inside <think>...</think>, then its guess. Rewrite the "
    "reasoning to about the number of tokens asked for: keep the observations that lead to the guess, "
    "drop repetition and dead ends, do not add new ideas. Answer with the whole reply and nothing else: "
    "one <think>...</think> block holding the shortened reasoning, then everything that followed the "
    "reasoning, the guess included, copied character for character."
)


def total_limit(words: int) -> int:
    """The seed's limit on an example's assistant tokens, from its puzzle's word count."""
    return 2048 if words <= 16 else min(3072, 128 * words)


@dataclass(frozen=True)
class ReduceConfig:
    """The settings of token reduction (`harness doctor reduce`, Luigi `ReduceTokens`)."""

    backend: str = setting(
        "transformers", help="Backend that rewrites the reasoning: transformers, vllm, openai, scripted."
    )
    model: str | None = setting(None, help="Model for the backend (none: the backend's default).")
    backend_args: dict[str, Any] = setting(factory=dict, help="Arguments of the backend.")
    tokenizer: str | None = setting(None, help="What counts tokens: a Hugging Face tokenizer, 'embedded', "
                                               "or none for whitespace-separated words.")
    max_tokens: int = setting(2048, help="Tokens per rewrite.")
    temperature: float = setting(0.0, help="Sampling temperature of the rewrites.")
    seed: int = setting(0, help="Seed of the rewrites' sampling.")
    concurrency: int = setting(8, content=False, help="Rewrites asked at once.")
    retries: int = setting(2, content=False, help="Times a failed rewrite request is asked again.")

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.retries < 0:
            raise ValueError("retries must be >= 0")


@dataclass
class ReduceReport:
    rows: int = 0
    over: int = 0
    """Examples over a limit before reduction."""
    asked: int = 0
    """Rewrites asked for (answers cached by a killed run count too)."""
    accepted: int = 0
    rejected: int = 0
    """Answers that broke the acceptance rule: the original was kept."""
    failed: int = 0
    """Requests that failed after their retries: the original was kept."""
    token_limit_total: int = 0
    token_limit_generation: int = 0
    written: int = 0
    output: str = ""

    def summary(self) -> str:
        return (f"reduce: {self.rows} examples, {self.over} over a limit; {self.asked} rewrites "
                f"({self.accepted} accepted, {self.rejected} rejected, {self.failed} failed); dropped: "
                f"Token Limit (Total): {self.token_limit_total}, Token Limit (Generation): "
                f"{self.token_limit_generation}; {self.written} written")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _guess_text(text: str) -> str | None:
    start, end = text.find("<guess>"), text.rfind("</guess>")
    return text[start:end + len("</guess>")] if start >= 0 and end >= start else None


def accept(original: str, answer: str) -> bool:
    """Exactly one `<think>…</think>`, and the guess text as it was."""
    if answer.count("<think>") != 1 or answer.count("</think>") != 1:
        return False
    if answer.index("<think>") > answer.index("</think>"):
        return False
    return _guess_text(answer) == _guess_text(original)


def targets(sizes: Sequence[int], limit: int, message_limit: int = MESSAGE_LIMIT) -> dict[int, int]:
    """Phase 1: message index → target for every message over `message_limit`."""
    return {i: int(message_limit * SHRINK) for i, n in enumerate(sizes) if n > message_limit}


def phase_two(sizes: Sequence[int], limit: int) -> dict[int, int]:
    """Phase 2: message index → target, cutting the largest messages first until the example
    would be at int(limit × 0.8)."""
    needed = sum(sizes) - int(limit * SHRINK)
    out: dict[int, int] = {}
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        if needed <= 0:
            break
        cut = min(needed, int(sizes[i] * STEP))
        if cut > 0:
            out[i] = sizes[i] - cut
            needed -= cut
    return out


def _words(row: dict[str, Any]) -> int:
    info = row.get("info") or {}
    if isinstance(info.get("all_words"), list):
        return len(info["all_words"])
    return sum(len(c.get("members") or []) for c in info.get("categories") or [] if isinstance(c, dict))


class _Rewriter:
    """Asks the backend, caching every answer in the output's cache file."""

    def __init__(self, backend: Any, config: ReduceConfig, cache: Path, report: ReduceReport) -> None:
        self.backend, self.config, self.cache, self.report = backend, config, cache, report
        self.known: dict[str, str | None] = {}
        size = 0
        if cache.exists():
            with open(cache, "rb") as f:
                for line in f:
                    if not line.endswith(b"\n"):
                        break  # a kill cut it short: asked again
                    entry = json.loads(line)
                    self.known[entry["key"]] = entry["answer"]
                    size += len(line)
        self.sink = open(cache, "a+b")  # noqa: SIM115 - the cache's sink, closed by close()
        os.chmod(cache, new_file_mode())
        self.sink.truncate(size)
        self.sink.seek(size)
        self.gate = asyncio.Semaphore(config.concurrency)
        from harness.options import content_settings, settings_digest

        self.salt = settings_digest(content_settings(config), length=16)

    def close(self) -> None:
        self.sink.close()

    async def rewrite(self, text: str, target: int) -> str:
        """The accepted rewrite of `text`, or `text` itself."""
        key = hashlib.sha256(json.dumps([self.salt, text, target]).encode()).hexdigest()
        if key not in self.known:
            answer = await self._ask(text, target)
            self.known[key] = answer
            self.sink.write((json.dumps({"key": key, "answer": answer}) + "\n").encode())
            self.sink.flush()
            os.fsync(self.sink.fileno())
        self.report.asked += 1
        answer = self.known[key]
        if answer is None:
            self.report.failed += 1
            return text
        if not accept(text, answer):
            self.report.rejected += 1
            return text
        self.report.accepted += 1
        return answer

    async def _ask(self, text: str, target: int) -> str | None:
        from harness.backends.base import Request
        from harness.environment import derive_seed
        from harness.episode import Message, Sampling

        messages = [
            Message(role="system", content=SYSTEM),
            Message(role="user", content=f"Shorten the reasoning to about {target} tokens.\n\nThe reply:\n{text}"),
        ]
        sampling = Sampling(n=1, temperature=self.config.temperature, top_p=1.0, max_tokens=self.config.max_tokens,
                            seed=derive_seed("reduce", self.config.seed, text) % 2**62)
        async with self.gate:
            for attempt in range(self.config.retries + 1):
                try:
                    [[completion]] = await self.backend.generate([Request(messages, sampling)])
                    return completion.text
                except Exception as exc:  # a failed request: asked again, then the original stays
                    if attempt == self.config.retries:
                        print(f"reduce: a rewrite failed {attempt + 1} time(s), keeping the original: {exc}",
                              file=sys.stderr)
        return None


def reduce_rows(
    rows: Sequence[dict[str, Any]],
    output: str | os.PathLike[str],
    config: ReduceConfig,
    *,
    backend: Any = None,
) -> ReduceReport:
    """Reduce `rows` (seed output rows) into `output` (JSONL): see the module docstring.
    `backend`: a ready backend, a function that returns one when a rewrite is first needed
    (both left open), or None: built from the config when needed, then closed."""
    from harness.doctor.tokens import token_counter

    out = Path(output)
    report = ReduceReport(rows=len(rows), output=str(out))
    _, count = token_counter(config.tokenizer)
    cache = out.with_name(f".{out.name}.reduce-cache.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)

    def sizes(row: dict[str, Any]) -> tuple[list[int], list[int]]:
        """(positions of the assistant messages in the completion, their token counts)"""
        positions = [i for i, m in enumerate(row.get("completion") or []) if m.get("role") == "assistant"]
        return positions, [count(row["completion"][i]["content"]) for i in positions]

    async def reduce_one(row: dict[str, Any], rewriter: _Rewriter) -> dict[str, Any] | None:
        limit = total_limit(_words(row))
        positions, counts = sizes(row)
        if max(counts, default=0) <= MESSAGE_LIMIT and sum(counts) <= limit:
            return row
        report.over += 1
        row = json.loads(json.dumps(row))  # a copy to rewrite
        for phase in (targets, phase_two):
            if phase is phase_two and sum(counts) <= limit:
                break
            wanted = phase(counts, limit)
            texts = await asyncio.gather(*(rewriter.rewrite(row["completion"][positions[i]]["content"], target)
                                           for i, target in sorted(wanted.items())))
            for (i, _), text in zip(sorted(wanted.items()), texts):
                row["completion"][positions[i]]["content"] = text
            positions, counts = sizes(row)
        if max(counts, default=0) > MESSAGE_LIMIT:
            report.token_limit_generation += 1
            return None
        if sum(counts) > limit:
            report.token_limit_total += 1
            return None
        return row

    async def run() -> list[dict[str, Any] | None]:
        nonlocal backend
        own = backend is None
        rewriter = None
        try:
            needed = any(_over(row, count) for row in rows)
            if needed and callable(backend) and not hasattr(backend, "generate"):
                backend = backend()
            elif needed and own:
                from harness import plugins

                kwargs = dict(config.backend_args)
                if config.model is not None:
                    kwargs["model"] = config.model
                backend = plugins.get("backend", config.backend)(**kwargs)
            rewriter = _Rewriter(backend, config, cache, report)
            return await asyncio.gather(*(reduce_one(row, rewriter) for row in rows))
        finally:
            if rewriter is not None:
                rewriter.close()
            if own and backend is not None:
                await backend.aclose()

    reduced = asyncio.run(run())
    with atomic_write(out) as f:
        for row in reduced:
            if row is not None:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                report.written += 1
    return report


def _over(row: dict[str, Any], count: Any) -> bool:
    sizes = [count(m["content"]) for m in row.get("completion") or [] if m.get("role") == "assistant"]
    return max(sizes, default=0) > MESSAGE_LIMIT or sum(sizes) > total_limit(_words(row))
