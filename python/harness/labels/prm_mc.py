"""Monte Carlo step labels for PRM samples of data-analysis episodes (`harness format prm-mc`,
`--label-mode mc` of the seed 000 command).

A PRM sample is a step (a hooked value or the submitted answer) of a data-analysis episode's
trace (a rollout of the `data-analysis` environment, or an imported seed 000 record's gold
trace): the rows of the `prm` formatter. Its Monte Carlo label is the share of K continuations
that reach a correct answer after that step: the `data-analysis` environment is replayed up to
and including the step's turn (`env.start(task, seed, actions=...)`, the task rebuilt from the
record's `csv_source` and `question`), then a backend plays the episode on through the rollout
engine with explicit sampling (temperature, top-p/k, max tokens, a seed per continuation and
turn). This runs the engine, which is why it lives here and not among the pure formatters.

    from harness.labels.prm_mc import McConfig, write_mc_prm
    report = write_mc_prm(["data/rollouts/da"], "prm_mc.parquet",
                          McConfig(backend="vllm", model="Qwen/Qwen2.5-7B-Instruct", samples_per_task=4))

`samples_per_task` is K. All hooks of one turn share the turn's continuations (same replayed
prefix), so a trace costs K episodes per turn with steps, not per step. A submit step's
continuations end at once (the replay already submitted): its label is whether the gold answer
is right. A continuation that fails (a backend error after its retries, an environment error,
or a replay that does not reproduce the recorded hooks and answer) is counted and left out of
the share; a step whose continuations all failed gets no label and is left out of the output
(`McReport.left_out`), never given an invented one. Which episodes are labelled follows the
format stage: data-analysis episodes that succeeded (the seed's verified ones), unless
`include_failed`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from harness import plugins
from harness.backends.base import Backend
from harness.engine.config import Item, RolloutConfig
from harness.engine.episodes import RunContext, run_episodes
from harness.engine.run import build_backend, build_env
from harness.environment import Environment, derive_seed
from harness.episode import Episode, EpisodeError, Task, make_episode_id, validate_episode
from harness.formats.base import FormatError, RecordError, require
from harness.formats.data_analysis import Prm, gold_trace, prompt_messages, to_prm_samples
from harness.formats.data_analysis_record import seed_record
from harness.options import setting

__all__ = ["McConfig", "McReport", "NothingLabelled", "amc_labels", "mc_labels", "turn_action", "write_mc_prm"]

Located = tuple[str, "int | None", Episode]


@dataclass(frozen=True)
class McConfig:
    """The settings of a Monte Carlo labelling run."""

    backend: str | None = setting(None, help="Backend that plays the continuations: transformers, vllm, "
                                             "openai, scripted or a plugin's (required).")
    model: str | None = setting(None, help="Model for the backend (default: the backend's own).")
    backend_args: dict[str, Any] = setting(factory=dict, help="Arguments of the backend.")
    env_args: dict[str, Any] = setting(
        factory=dict, help="Arguments of the data-analysis environment the continuations run in "
                           "(default: the environment's, hint shown as in gold runs).")
    samples_per_task: int = setting(4, help="Continuations per step (K).")
    temperature: float = setting(0.7, help="Sampling temperature of the continuations.")
    top_p: float = setting(1.0, help="Nucleus sampling mass of the continuations.")
    top_k: int = setting(-1, help="Top-k cut-off of the continuations (-1: none).")
    max_tokens: int = setting(1024, help="Cap on generated tokens per model turn.")
    seed: int = setting(0, help="Continuation seeds derive from it.")
    max_turns: int = setting(64, help="Safety cap on turns per continuation, replayed ones included.")
    include_failed: bool = setting(False, help="Also label episodes that did not succeed (by default only "
                                               "those that did: the seed's verified records).")
    concurrency: int = setting(64, content=False, help="Continuations live at a time.")
    allow_empty: bool = setting(False, content=False,
                                help="Succeed (writing an empty file) when no episode is left to label.")

    def rollout_config(self) -> RolloutConfig:
        """The rollout engine's settings of the continuations."""
        if not self.backend:
            raise ValueError("backend: Monte Carlo labels need a backend (--backend) to play the continuations")
        return RolloutConfig(
            env="data-analysis", backend=self.backend, model=self.model, env_args=dict(self.env_args),
            backend_args=dict(self.backend_args), samples_per_task=self.samples_per_task,
            temperature=self.temperature, top_p=self.top_p, top_k=self.top_k, max_tokens=self.max_tokens,
            seed=self.seed, max_turns=self.max_turns,
        )


@dataclass
class McReport:
    """What a Monte Carlo labelling run did."""

    read: int = 0
    """Episodes read."""
    other_envs: dict[str, int] = field(default_factory=dict)
    """Episodes of other environments than data-analysis, by environment (not labelled)."""
    not_succeeded: int = 0
    """Data-analysis episodes left out because they did not succeed (without include_failed)."""
    episodes: int = 0
    """Episodes labelled."""
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
    samples_per_task: int = 0

    def summary(self, output: Any) -> str:
        failures = ", ".join(f"{k} {v}" for k, v in sorted(self.failures.items()))
        others = sum(self.other_envs.values())
        return (f"prm-mc: {self.read} episodes read, {self.episodes} labelled"
                + (f" ({self.not_succeeded} not succeeded left out)" if self.not_succeeded else "")
                + (f" ({others} of other environments left out)" if others else "")
                + f" -> {self.samples} samples ({self.samples_per_task} continuations per step) in {output}; "
                f"continuations: {self.continuations} run, {self.failed} failed{f' ({failures})' if failures else ''}; "
                f"{self.left_out} step(s) left out (no continuation finished)")

    def why_empty(self) -> str:
        if self.read == 0:
            return "the input holds no episodes"
        others = sum(self.other_envs.values())
        if others == self.read:
            envs = ", ".join(f"{n} {k}" for k, n in sorted(self.other_envs.items()))
            return f"0 of {self.read} episodes are data-analysis episodes ({envs})"
        if self.episodes == 0:
            return (f"0 of {self.read - others} data-analysis episodes succeeded; --include-failed labels them too")
        failures = ", ".join(f"{k} {v}" for k, v in sorted(self.failures.items()))
        return f"every continuation of the {self.episodes} episode(s) failed ({failures})"


class NothingLabelled(ValueError):
    """A Monte Carlo labelling run wrote no sample (and `allow_empty` was not set)."""

    def __init__(self, report: McReport, output: str) -> None:
        self.report = report
        super().__init__(f"prm-mc labelled no sample: {report.why_empty()}; {output} was not written "
                         "(--allow-empty writes an empty file)")


@dataclass
class _Turn:
    """One turn of a trace that has PRM steps, and what its continuations gave."""

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


def _samples(episode: Episode) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The seed record of an episode and its PRM samples (the `prm` formatter's rows), checked
    for what the continuations need; a `RecordError` names the field otherwise."""
    record = seed_record(episode)
    _task(record)
    return record, to_prm_samples(record, prompt=prompt_messages(episode))


async def amc_labels(
    episodes: Iterable[Episode],
    config: RolloutConfig,
    backend: Backend,
    env: Environment,
    *,
    concurrency: int = 64,
    chunk_records: int = 16,
    report: McReport | None = None,
    on_continuation: Callable[[Episode], None] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """PRM samples of data-analysis `episodes`, labelled by continuations, episode by episode.

    Episodes are taken `chunk_records` at a time; the continuations of a chunk run together,
    at most `concurrency` live at once. `on_continuation` sees every continuation episode
    (to keep them for auditing). Samples are the `prm` formatter's plus `label_mc_n`.
    """
    report = report if report is not None else McReport()
    report.samples_per_task = config.samples_per_task
    ctx = RunContext(env=env, backend=backend, config=config, run_id=uuid.uuid4().hex,
                     plugins=plugins.registry().versions())
    source = iter(episodes)
    while chunk := list(itertools.islice(source, chunk_records)):
        made = [_samples(episode) for episode in chunk]  # validates each episode first
        samples = [s for _, s in made]
        turns: list[_Turn] = []
        items: list[tuple[Item, _Turn, list[dict[str, Any]]]] = []
        for r, (record, _) in enumerate(made):
            number = report.episodes + r  # the episode's place in the input: ids stay unique
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
            entry, prefix = by_id[episode.episode_id]  # noqa: B023 - called within the iteration
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
    episodes: Iterable[Episode],
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
            return [row async for row in amc_labels(episodes, config, used, env or build_env(config),
                                                    concurrency=concurrency, report=report)]
        finally:
            if own:
                await used.aclose()

    return asyncio.run(run())


def located_episodes(inputs: Iterable[str | os.PathLike[str]]) -> Iterator[Located]:
    """`(path, line, Episode)` of episode files (or directories of shards)."""
    from harness.episode_files import episode_files
    from harness.jsonl import read

    for path, line, record in read([str(p) for p in episode_files(inputs)], locations=True):
        yield str(path), line, validate_episode(record, path=str(path), line=line)


def _chosen(located: Iterable[Located], config: McConfig, report: McReport) -> Iterator[Episode]:
    """The data-analysis episodes to label (succeeded ones unless include_failed), each checked
    where its line is known: one that cannot be read is a `FormatError` naming file, line, field."""
    others: Counter[str] = Counter()
    try:
        for path, line, episode in located:
            report.read += 1
            if episode.env.name != "data-analysis":
                others[episode.env.name] += 1
                continue
            if episode.error is not None or (not config.include_failed and episode.outcome.success is not True):
                report.not_succeeded += 1
                continue
            try:
                _samples(episode)
            except (RecordError, EpisodeError) as err:
                raise FormatError(path, line, err.field, err.reason) from None
            yield episode
    finally:
        report.other_envs = dict(others)


def write_mc_prm(
    inputs: Iterable[str | os.PathLike[str]] | None,
    output: str | os.PathLike[str],
    config: McConfig,
    *,
    located: Iterable[Located] | None = None,
    continuations_out: str | os.PathLike[str] | None = None,
    backend: Backend | None = None,
) -> McReport:
    """Write the Monte Carlo labelled PRM samples of the data-analysis episodes of `inputs`
    (or of `located` `(path, line, episode)` triples) to `output` (JSONL, or Parquet by the
    extension), atomically; `continuations_out` also keeps every continuation episode (JSONL,
    atomically). No sample written: `NothingLabelled`, and no file, unless `allow_empty`."""
    from harness import plugins as registry_module
    from harness.atomic import atomic_write
    from harness.formats.writers import open_writer

    rollout = config.rollout_config()
    output = os.fspath(output)
    report = McReport(samples_per_task=config.samples_per_task)
    chosen = _chosen(located if located is not None else located_episodes(inputs or []), config, report)
    first = next(chosen, None)  # none to label: say so before a backend (a model) is loaded
    if first is None and not config.allow_empty:
        raise NothingLabelled(report, output)
    episodes = itertools.chain([first] if first is not None else [], chosen)
    hook = registry_module.registry().hook

    async def run(sink: IO[str] | None) -> None:
        own = backend is None
        used = backend or build_backend(rollout)
        def write_continuation(episode: Episode) -> None:
            assert sink is not None
            sink.write(episode.to_json_line() + "\n")

        on_continuation = write_continuation if sink else None
        try:
            os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
            with open_writer(output, json_columns=Prm.json_columns, non_finite="allow") as writer:
                async for row in amc_labels(episodes, rollout, used, build_env(rollout),
                                            concurrency=config.concurrency, report=report,
                                            on_continuation=on_continuation):
                    hook.training_record(record=row, formatter="prm")
                    writer.write(row)
                if report.samples == 0 and not config.allow_empty:
                    raise NothingLabelled(report, output)  # inside the writer: no file is left
        finally:
            if own:
                await used.aclose()

    if continuations_out is None:
        asyncio.run(run(None))
    else:
        with atomic_write(continuations_out) as sink:
            asyncio.run(run(sink))
    return report
