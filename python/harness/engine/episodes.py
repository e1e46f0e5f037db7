"""Running episodes: many at once on one event loop, each one a conversation with the backend.

Every episode is a coroutine: ask the backend for the next turn, step the environment off the
event loop (`Session.astep`, a worker thread unless the environment is natively async), repeat
until the environment says done. Up to `concurrency` episodes are live at a time; the backend
sees all of their requests at once and batches them (local models) or sends them in parallel
(servers). An exception in one episode — from the backend after its retries, or from the
environment — ends that episode with its `error` recorded; the others go on. Text that is not
valid Unicode (lone surrogates) is repaired where it enters the record, and the repair noted
(harness.engine.valid_text): the model's text before the environment sees it, everything else
when the record is built.
"""

from __future__ import annotations

import asyncio
import socket
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from harness import __version__
from harness.backends.base import Backend, Completion, Request
from harness.backends.errors import PromptTooLong
from harness.engine.config import Item, RolloutConfig
from harness.engine.valid_text import repair_strings, valid_text
from harness.environment import EnvError, Environment, Session
from harness.episode import (
    SCHEMA_VERSION,
    Env,
    Episode,
    ErrorInfo,
    ModelSpec,
    Outcome,
    Provenance,
    Step,
    Tokens,
    Usage,
    utc_now,
)


@dataclass
class RunContext:
    """What every episode of a run shares."""

    env: Environment
    backend: Backend
    config: RolloutConfig
    run_id: str
    plugins: dict[str, str]
    keep_prompt_ids: bool = False
    host: str = socket.gethostname()
    on_turn: Callable[[Completion], None] | None = None
    """Called after each model turn whose step is recorded (progress: turns, tokens). It must
    not raise: an exception here would end the episode as failed."""


async def run_episodes(
    ctx: RunContext,
    items: Sequence[Item],
    on_episode: Callable[[Episode], Awaitable[None] | None],
    *,
    concurrency: int = 256,
) -> None:
    """Run `items` with at most `concurrency` live episodes; hand each finished record to
    `on_episode` as soon as it is done."""
    pending = iter(items)

    async def worker() -> None:
        for item in pending:  # the workers share one iterator: each item is taken once
            episode = await run_episode(ctx, item)
            result = on_episode(episode)
            if asyncio.iscoroutine(result):
                await result

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(items))))))


async def run_episode(ctx: RunContext, item: Item) -> Episode:
    session: Session | None = None
    error: BaseException | None = None
    repairs: list[str] = []  # JSON pointers of the model's texts made valid
    try:
        session = await asyncio.to_thread(ctx.env.start, item.task, item.seed, item.actions)
        turns = len(session.steps)  # replayed actions count towards max_turns
        while not session.done:
            if turns >= ctx.config.max_turns:
                session.end("max_turns_reached")
                break
            try:
                completion = await _next_turn(ctx, item, session)
            except PromptTooLong:
                session.end("prompt_too_long")
                break
            text = valid_text(completion.text)
            if text is not completion.text:
                repairs.append(f"/steps/{len(session.steps)}/action")
            step = await session.astep(text)
            turns += 1
            if len(session.steps) != turns:
                # counted here too, so an environment that loses steps cannot loop for ever
                raise EnvError(f"{ctx.env.name}: the session holds {len(session.steps)} steps after "
                               f"{turns} turns (an astep override must go through step())")
            _attach_tokens(step, completion, ctx.keep_prompt_ids)
            if ctx.on_turn is not None:
                ctx.on_turn(completion)
    except Exception as exc:  # one failed episode is recorded, never raised
        error = exc
    try:
        return _record(ctx, item, session, error, repairs)
    finally:
        if session is not None:
            await asyncio.to_thread(session.close)


async def _next_turn(ctx: RunContext, item: Item, session: Session) -> Completion:
    sampling = ctx.config.sampling(seed=item.sampler_seed + len(session.steps), n=1)
    [[completion]] = await ctx.backend.generate([Request(session.messages(), sampling)])
    return completion


def _attach_tokens(step: Step, completion: Completion, keep_prompt_ids: bool) -> None:
    if completion.prompt_tokens is not None or completion.completion_tokens is not None:
        step.usage = Usage(prompt_tokens=completion.prompt_tokens,
                           completion_tokens=completion.completion_tokens)
    tokens = Tokens(
        prompt_ids=completion.prompt_ids if keep_prompt_ids else None,
        completion_ids=completion.completion_ids,
        completion_logprobs=completion.completion_logprobs,
    )
    if tokens.prompt_ids or tokens.completion_ids or tokens.completion_logprobs:
        step.tokens = tokens


def _total(steps: list[Step], field: str) -> int | None:
    counts = [getattr(s.usage, field) for s in steps if s.usage is not None]
    counts = [c for c in counts if c is not None]
    return sum(counts) if counts else None


def _record(ctx: RunContext, item: Item, session: Session | None, error: BaseException | None,
            repairs: list[str]) -> Episode:
    try:
        episode = _build(ctx, item, session, error)
    except ValidationError as exc:
        # the environment produced something the record cannot hold (a bug): keep the
        # episode as failed, without the offending parts
        episode, repairs = _build(ctx, item, None, exc), []
    return _with_valid_text(episode, repairs)


def _with_valid_text(episode: Episode, repairs: list[str]) -> Episode:
    """The episode with every string valid Unicode, the repaired ones (`repairs` and any found
    now: the environment's text, an error message) listed in `info.text_repairs`."""
    data, found = repair_strings(episode.model_dump())
    if not repairs and not found:
        return episode
    data["info"]["text_repairs"] = list(dict.fromkeys(repairs + found))
    return Episode.model_validate(data)


def _build(ctx: RunContext, item: Item, session: Session | None, error: BaseException | None) -> Episode:
    steps = list(session.steps) if session is not None else []
    fields: dict[str, Any] = {"reward": None, "reward_components": {}, "info": {}}
    outcome = Outcome(done=True, reason="error", success=None)
    if error is None and session is not None:
        try:
            summary = session.summary()
        except Exception as exc:  # a broken summary is an environment bug: record it
            error = exc
        else:
            fields = {"reward": summary.reward, "reward_components": summary.reward_components,
                      "info": summary.info}
            outcome = summary.outcome
            if session.end_reason in ("max_turns_reached", "prompt_too_long") and outcome.reason != session.end_reason:
                # ended by the engine, not by the environment's rules
                outcome = Outcome(done=True, reason=session.end_reason, success=outcome.success)
    if error is not None:
        fields["error"] = ErrorInfo(
            type=type(error).__name__,
            message=str(error),
            traceback="".join(traceback.format_exception(error)),
        )
    return Episode(
        schema_version=SCHEMA_VERSION,
        episode_id=item.episode_id,
        env=Env(name=ctx.env.name, version=ctx.env.version, args=dict(ctx.env.args)),
        task=item.task,
        model=ModelSpec(name=ctx.backend.model_name, backend=ctx.backend.name),
        sampling=ctx.config.sampling(seed=item.sampler_seed),
        seed=item.seed,
        sample_index=item.sample_index,
        prompt=list(session.prompt) if session is not None else [],
        steps=steps,
        outcome=outcome,
        usage=Usage(prompt_tokens=_total(steps, "prompt_tokens"),
                    completion_tokens=_total(steps, "completion_tokens")),
        provenance=Provenance(harness_version=__version__, plugins=ctx.plugins,
                              created_at=utc_now(), host=ctx.host, run_id=ctx.run_id),
        **fields,
    )
