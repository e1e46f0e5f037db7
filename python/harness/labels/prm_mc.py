"""Monte Carlo step labels for seed 000 PRM samples (`--label-mode mc`).

A PRM sample is a step (a hooked value or the submitted answer) of a data-analysis gold trace.
Its Monte Carlo label is the share of K continuations that reach a correct answer after that
step: the `data-analysis` environment is replayed up to and including the step's turn
(`env.start(task, seed, actions=...)`, the task rebuilt from the record's `csv_source` and
`question`), then a backend plays the episode on through the rollout engine with explicit
sampling (temperature, top-p/k, max tokens, a seed per continuation and turn).

    from harness.engine import RolloutConfig
    from harness.formats.prm_mc import mc_labels

    config = RolloutConfig(env="data-analysis", backend="vllm", model="Qwen/Qwen2.5-7B-Instruct",
                           samples_per_task=4, temperature=0.7, max_tokens=1024)
    rows = mc_labels(records, config)       # to_prm_samples rows with label = share, label_mc_n

`config.samples_per_task` is K. All hooks of one turn share the turn's continuations (same
replayed prefix), so a trace costs K episodes per turn with steps, not per step. A submit
step's continuations end at once (the replay already submitted): its label is whether the
gold answer is right. A continuation that fails (a backend error after its retries, an
environment error, or a replay that does not reproduce the recorded hooks and answer) is
counted and left out of the share; a step whose continuations all failed gets no label and is
left out of the output (`McReport.left_out`), never given an invented one.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from harness import plugins
from harness.backends.base import Backend
from harness.engine.config import Item, RolloutConfig
from harness.engine.episodes import RunContext, run_episodes
from harness.engine.run import build_backend, build_env
from harness.environment import Environment, derive_seed
from harness.episode import Episode, Task, make_episode_id
from harness.formats.base import FormatError, RecordError, require
from harness.formats.data_analysis import Prm, gold_trace, to_prm_samples

__all__ = ["McReport", "amc_labels", "mc_labels", "write_mc_prm", "turn_action", "add_mc_arguments", "run_mc"]


@dataclass
class McReport:
    """What a Monte Carlo labelling run did."""

    episodes: int = 0
    """Seed records labelled."""
    samples: int = 0
    """PRM samples written with a label."""
    left_out: int = 0
    """PRM samples left out: every continuation of their turn failed."""
    continuations: int = 0
    """Continuation episodes run."""
    failed: int = 0
    """Continuations that failed (backend or environment error, or a diverging replay)."""
    failures: dict[str, int] = field(default_factory=dict)
    """Failed continuations by cause: the error type, or `replay_diverged`."""


@dataclass
class _Turn:
    """One turn of a gold trace that has PRM steps, and what its continuations gave."""

    record_index: int
    steps: int  # PRM samples this turn yields
    correct: int = 0
    finished: int = 0


def turn_action(turn: dict[str, Any]) -> str:
    """The assistant message that replays a recorded turn: its reasoning, then its fenced code."""
    code = f"```python\n{turn.get('code') or ''}\n```"
    reasoning = (turn.get("reasoning") or "").strip()
    return f"{reasoning}\n\n{code}" if reasoning else code


def _task(record: dict[str, Any]) -> Task:
    csv_source = require(record, "csv_source", str, "")
    question = require(record, "question", dict, "")
    require(question, "ground_truth_hash", str, "/question")
    task_id = question.get("id") or record.get("episode_id") or "task"
    return Task(id=str(task_id), data={"csv_source": csv_source, "question": question})


def _recorded(turn: dict[str, Any]) -> tuple[list[Any], Any]:
    execution = turn.get("execution") or {}
    hashes = [h.get("value_hash") for h in execution.get("hooks") or []]
    return hashes, execution.get("submitted_answer")


def _replay_matches(episode: Episode, turns: list[dict[str, Any]]) -> bool:
    """Whether the replayed steps hooked the recorded values and submitted the recorded answer
    (else the continuation started from another state than the sample's)."""
    replayed = [s.info for s in episode.steps[: len(turns)]]
    if len(replayed) < len(turns):
        return False
    return all("execution" in info and _recorded(info) == _recorded(turn)
               for info, turn in zip(replayed, turns))


async def amc_labels(
    records: Iterable[dict[str, Any]],
    config: RolloutConfig,
    backend: Backend,
    env: Environment,
    *,
    concurrency: int = 64,
    chunk_records: int = 16,
    report: McReport | None = None,
    on_continuation: Callable[[Episode], None] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """PRM samples of `records` (seed 000 records), labelled by continuations, record by record.

    Records are taken `chunk_records` at a time; the continuations of a chunk run together,
    at most `concurrency` live at once. `on_continuation` sees every continuation episode
    (to keep them for auditing). Samples follow `to_prm_samples` plus `label_mc_n`.
    """
    report = report if report is not None else McReport()
    ctx = RunContext(env=env, backend=backend, config=config, run_id=uuid.uuid4().hex,
                     plugins=plugins.registry().versions())
    records = iter(records)
    while chunk := list(itertools.islice(records, chunk_records)):
        samples = [to_prm_samples(record) for record in chunk]  # validates each record first
        turns: list[_Turn] = []
        items: list[tuple[Item, _Turn, list[dict[str, Any]]]] = []
        for r, record in enumerate(chunk):
            number = report.episodes + r  # the record's place in the input: ids stay unique
            _, trace = gold_trace(record)
            recorded = trace.get("turns") or []
            task = _task(record)
            for position, turn in enumerate(recorded):
                hashes, answer = _recorded(turn)
                steps = len(hashes) + (answer is not None)
                if not steps:
                    continue
                entry = _Turn(r, steps)
                turns.append(entry)
                prefix = recorded[: position + 1]
                actions = tuple(turn_action(t) for t in prefix)
                for k in range(config.samples_per_task):
                    seed = derive_seed(config.seed, "mc", record.get("episode_id"), position, k) % 2**63
                    item = Item(
                        task=task,
                        sample_index=k,
                        episode_id=make_episode_id(backend.model_name, env.name, task.id, k,
                                                   f"seed={config.seed}",
                                                   f"mc:{number}:{record.get('episode_id')}:{position}"),
                        seed=seed,
                        sampler_seed=derive_seed("sampler", seed) % 2**62,
                        actions=actions,
                    )
                    items.append((item, entry, prefix))
        by_id = {item.episode_id: (entry, prefix) for item, entry, prefix in items}

        def on_episode(episode: Episode) -> None:
            entry, prefix = by_id[episode.episode_id]
            report.continuations += 1
            cause = None
            if episode.error is not None:
                cause = episode.error.type
            elif not _replay_matches(episode, prefix):
                cause = "replay_diverged"
            if cause is not None:
                report.failed += 1
                report.failures[cause] = report.failures.get(cause, 0) + 1
            else:
                entry.finished += 1
                entry.correct += episode.outcome.success is True
            if on_continuation is not None:
                on_continuation(episode)

        await run_episodes(ctx, [item for item, _, _ in items], on_episode, concurrency=concurrency)

        by_record: dict[int, list[_Turn]] = {}
        for entry in turns:
            by_record.setdefault(entry.record_index, []).append(entry)
        for r, record_samples in enumerate(samples):
            report.episodes += 1
            labels = iter(entry for entry in by_record.get(r, []) for _ in range(entry.steps))
            for sample, entry in zip(record_samples, labels, strict=True):
                if not entry.finished:
                    report.left_out += 1
                    continue
                report.samples += 1
                yield {**sample, "label": entry.correct / entry.finished, "label_mc_n": entry.finished}


def mc_labels(
    records: Iterable[dict[str, Any]],
    config: RolloutConfig,
    *,
    backend: Backend | None = None,
    env: Environment | None = None,
    concurrency: int = 64,
    report: McReport | None = None,
) -> list[dict[str, Any]]:
    """`amc_labels` run to the end on its own event loop; the backend and environment are built
    from `config` unless given (a backend built here is closed at the end)."""

    async def run() -> list[dict[str, Any]]:
        own = backend is None
        used = backend or build_backend(config)
        try:
            return [row async for row in amc_labels(records, config, used, env or build_env(config),
                                                    concurrency=concurrency, report=report)]
        finally:
            if own:
                await used.aclose()

    return asyncio.run(run())


def _read(path: str, *, include_unverified: bool, lenient: bool) -> Iterator[dict[str, Any]]:
    """The seed records of `path` (verified only unless asked), read by the seed 000 loader
    (Python's json semantics), each checked where its line is known: a record that cannot be
    read is a `FormatError` naming the file, line and field."""
    from harness.prepare_finetune_data import iter_episodes

    for line, record in iter_episodes(path, not include_unverified, lenient=lenient).located():
        try:
            _task(record)
            to_prm_samples(record)
        except RecordError as err:
            raise FormatError(path, line, err.field, err.reason) from None
        yield record


def write_mc_prm(
    input_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: RolloutConfig,
    *,
    include_unverified: bool = False,
    lenient: bool = False,
    concurrency: int = 64,
    continuations_out: str | os.PathLike[str] | None = None,
    backend: Backend | None = None,
) -> McReport:
    """Write the Monte Carlo labelled PRM samples of a seed 000 episodes file to `output`
    (JSONL, or Parquet by the extension), atomically; `continuations_out` also keeps every
    continuation episode (JSONL, atomically). With no episodes to label nothing is written
    (`report.episodes == 0`), as for the other label modes."""
    from harness.atomic import atomic_write
    from harness.formats.writers import open_writer

    input_path, output = os.fspath(input_path), os.fspath(output)
    if not os.path.isfile(input_path):
        raise FileNotFoundError(f"episodes file not found: {input_path}")
    report = McReport()
    records = _read(input_path, include_unverified=include_unverified, lenient=lenient)
    first = next(records, None)
    if first is None:
        return report
    hook = plugins.registry().hook

    async def run(sink: IO[str] | None) -> None:
        own = backend is None
        used = backend or build_backend(config)
        on_continuation = (lambda ep: sink.write(ep.to_json_line() + "\n")) if sink else None
        try:
            os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
            with open_writer(output, json_columns=Prm.json_columns, non_finite="allow") as writer:
                async for row in amc_labels(itertools.chain([first], records), config, used,
                                            build_env(config), concurrency=concurrency,
                                            report=report, on_continuation=on_continuation):
                    hook.training_record(record=row, formatter="prm")
                    writer.write(row)
        finally:
            if own:
                await used.aclose()

    if continuations_out is None:
        asyncio.run(run(None))
    else:
        with atomic_write(continuations_out) as sink:
            asyncio.run(run(sink))
    return report


# -- the command line (`python -m harness.prepare_finetune_data --label-mode mc ...`) ----------


def add_mc_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `--label-mode mc`, on the seed's command line."""
    group = parser.add_argument_group("Monte Carlo labels (--format prm --label-mode mc)")
    group.add_argument("--backend", help="backend that plays the continuations: transformers, "
                       "vllm, openai, scripted or a plugin's (required with --label-mode mc)")
    group.add_argument("--model", help="model for the backend (default: the backend's own)")
    group.add_argument("--backend-args", type=_json_object, default={},
                       help="backend arguments as a JSON object")
    group.add_argument("--env-args", type=_json_object, default={},
                       help="data-analysis environment arguments as a JSON object "
                       "(default: the environment's, hint shown as in gold runs)")
    group.add_argument("--mc-samples", type=int, default=4,
                       help="continuations per step (K, default 4)")
    group.add_argument("--temperature", type=float, default=0.7, help="default 0.7")
    group.add_argument("--top-p", type=float, default=1.0, help="default 1.0")
    group.add_argument("--top-k", type=int, default=-1, help="default -1 (no top-k cut-off)")
    group.add_argument("--max-tokens", type=int, default=1024, help="per model turn, default 1024")
    group.add_argument("--seed", type=int, default=0,
                       help="continuation seeds derive from it (default 0)")
    group.add_argument("--max-turns", type=int, default=64,
                       help="safety cap on turns per continuation, replayed ones included (default 64)")
    group.add_argument("--concurrency", type=int, default=64,
                       help="continuations live at a time (default 64)")
    group.add_argument("--continuations-out", help="also keep every continuation episode (JSONL)")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not JSON: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def run_mc(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """`--label-mode mc`: label, write, report the counts; 1 on bad input."""
    from harness.prepare_finetune_data import default_output

    if args.format != "prm":
        parser.error("--label-mode mc applies to --format prm")
    if not args.backend:
        parser.error("--label-mode mc needs --backend (and usually --model)")
    try:
        config = RolloutConfig(
            env="data-analysis", backend=args.backend, model=args.model,
            env_args=args.env_args, backend_args=args.backend_args,
            samples_per_task=args.mc_samples, temperature=args.temperature, top_p=args.top_p,
            top_k=args.top_k, max_tokens=args.max_tokens, seed=args.seed, max_turns=args.max_turns,
        )
        output = args.output or default_output(args.input, args.format)
        report = write_mc_prm(args.input, output, config, include_unverified=args.include_unverified,
                              lenient=args.lenient, concurrency=args.concurrency,
                              continuations_out=args.continuations_out)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not report.episodes:
        print(f"warning: no episodes to convert in {args.input}; nothing written", file=sys.stderr)
        return 0
    failures = ", ".join(f"{k} {v}" for k, v in sorted(report.failures.items()))
    print(f"Wrote {report.samples} prm examples (mc labels, {config.samples_per_task} continuations "
          f"per step) from {report.episodes} episodes to {output}; continuations: "
          f"{report.continuations} run, {report.failed} failed{f' ({failures})' if failures else ''}; "
          f"{report.left_out} step(s) left out (no continuation finished)")
    return 0
