"""Merge concurrent `generate` calls into batches for backends that run one batch at a time.

The engine asks for each episode's next turn separately, as soon as that episode is ready. Local
backends (transformers, vllm) are fastest when every live episode's turn goes into one batched
call, so they hand their requests to a `BatchCollector`: it gathers what is pending, waits a
moment (`linger`) for the episodes still stepping their environment to catch up, and runs one
batch at a time in a worker thread, leaving the event loop free for environment steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from harness.backends.base import BackendError, Completion, Request

# One result per request: its completions, or the BackendError that request alone failed with
# (e.g. a prompt too long for the model), so one bad request does not fail its batch.
RunBatch = Callable[[list[Request]], list[list[Completion] | BackendError]]


class BatchCollector:
    def __init__(self, run_batch: RunBatch, *, max_batch: int, linger: float = 0.05) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.linger = linger
        self._pending: list[tuple[Request, asyncio.Future[list[Completion]]]] = []
        self._arrived: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, requests: Sequence[Request]) -> list[list[Completion]]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a model outlives an event loop (one asyncio.run per run)
            self._loop, self._pending, self._arrived, self._worker = loop, [], None, None
        futures = [loop.create_future() for _ in requests]
        self._pending.extend(zip(requests, futures))
        if self._arrived is None:
            self._arrived = asyncio.Event()
        self._arrived.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        return list(await asyncio.gather(*futures))

    async def _fill(self) -> None:
        """Wait until a full batch is pending or no request arrived for `linger` seconds."""
        assert self._arrived is not None
        while len(self._pending) < self.max_batch:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), self.linger)
            except TimeoutError:
                return

    async def _work(self) -> None:
        while self._pending:
            await self._fill()
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            live = [(r, f) for r, f in batch if not f.cancelled()]
            if not live:
                continue
            try:
                results = await asyncio.to_thread(self._run_batch, [r for r, _ in live])
            except Exception as exc:  # one failed batch fails its requests, not the collector
                error = exc if isinstance(exc, BackendError) else BackendError(f"{type(exc).__name__}: {exc}")
                for _, future in live:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), result in zip(live, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BackendError):
                    future.set_exception(result)
                else:
                    future.set_result(result)
