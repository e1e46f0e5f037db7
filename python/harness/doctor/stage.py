"""The doctor stage: the best episode per task, and the bad ones cut back, replayed and continued.

    report = doctor_files(["verified/"], "doctored/", DoctorConfig(backend="vllm", model=...))

1. **Select.** Every episode of every input is read once for a few fields (task id, reward,
   outcome, error, verdicts; harness.doctor.index); the best per task is chosen in seed 001's
   order (good first, then reward, then fewest mean tokens per step, then input order;
   harness.doctor.select).
2. **Classify.** An episode is good when it has no error and its verdicts and outcome say so:
   with `verifier` named, that verifier's latest verdict decides (pass or fail; `no_verdict` or
   none: the outcome decides); without, the outcome must be a success and no verifier's latest
   verdict may be a fail. A task whose best episode is good is done: that episode goes to
   `good.jsonl`, byte for byte.
3. **Cut.** For every other task, each of its episodes is offered to its environment (rebuilt
   from the episode's `env` name and arguments, with `env_args` laid over them):
   `env.salvage(episode)` says how many steps to keep, `env.salvage_quality(episode)` how good
   the cut is. The best cut at or above `min_salvage_quality` is continued (ties: fewer tokens
   kept, then input order); a task with none is unsalvageable.
4. **Continue.** The kept actions are replayed into a fresh session (`env.start(task, seed,
   actions)`, inside the rollout engine: `Item(actions=...)`; the task and actions come from
   `env.continuation(episode, kept)`, so data seed 001 made continues from its own truncated
   example, verbatim) and the backend plays on from there.
   A replay that does not reproduce the parent's kept steps (an environment that is not
   deterministic) gives a child with the error `ReplayMismatch`.
5. **Write.** Each child episode (`doctored.jsonl`, in sorted task order) has the parent's prompt
   followed by the kept turns as its prompt, only the new turns as its steps, and
   `parent {episode_id, steps_kept, reason}`; `manifest.json` (the report and settings) is
   written last.

Children are appended to `.doctored.jsonl.partial` as they finish (flushed and fsynced), so a
rerun after a crash or kill -9 generates only the missing ones, and the finished file is the
same (up to each child's provenance: when and where it was made). One process writes a
directory at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write, new_file_mode
from harness.doctor.index import Located, scan_file
from harness.doctor.salvage import UNSALVAGEABLE
from harness.doctor.select import Candidate, best_per_key
from harness.environment import Environment, derive_seed
from harness.episode import Episode, ErrorInfo, Message, Parent, Usage, make_episode_id, validate_episode
from harness.options import content_settings, setting

__all__ = ["DoctorConfig", "DoctorReport", "NothingToDoctor", "doctor_files"]

FIELDS = ["/episode_id", "/task/id", "/reward", "/outcome/success", "/error/type", "/verification"]
GOOD, DOCTORED, MANIFEST = "good.jsonl", "doctored.jsonl", "manifest.json"


class NothingToDoctor(ValueError):
    """No episodes, or nothing to doctor (every task good, or none salvageable)."""


@dataclass(frozen=True)
class DoctorConfig:
    """The settings of a doctor stage (`harness doctor`, Luigi `DoctorRollouts`)."""

    backend: str = setting(
        "transformers", help="Backend that continues the cut episodes: transformers, vllm, openai, scripted."
    )
    model: str | None = setting(None, help="Model for the backend (none: the backend's default, the embedded model).")
    backend_args: dict[str, Any] = setting(factory=dict, help="Arguments of the backend.")
    env_args: dict[str, Any] = setting(
        factory=dict, help="Laid over each episode's own environment arguments for the replay "
                           "(e.g. max_turns=3 to give single-turn code episodes a turn for the feedback).")
    verifier: str | None = setting(None, help="The verifier whose latest verdict decides good or bad "
                                              "(none: the outcome, and no failing verdict).")
    min_salvage_quality: float = setting(0.0, help="Cuts below this salvage quality are not continued.")
    max_tokens: int = setting(256, help="Tokens per model turn.")
    temperature: float = setting(0.7, help="Sampling temperature.")
    top_p: float = setting(1.0, help="Nucleus sampling mass.")
    top_k: int = setting(-1, help="Top-k cut-off (-1: none).")
    seed: int = setting(0, help="Seed of the continuations' sampling.")
    max_turns: int = setting(
        64, help="Cap on model turns per episode, replayed turns included, above the environment's own rules."
    )
    concurrency: int = setting(64, content=False, help="Episodes continued at once.")
    allow_empty: bool = setting(False, content=False, help="Succeed when there is nothing to doctor.")

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if self.max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")


@dataclass
class DoctorReport:
    outputs: list[str] = field(default_factory=list)
    episodes: int = 0
    tasks: int = 0
    good: int = 0
    """Tasks whose best episode is good."""
    bad: int = 0
    salvageable: int = 0
    unsalvageable: int = 0
    doctored: int = 0
    """Child episodes written."""
    succeeded: int = 0
    """Children whose outcome is a success."""
    failed: int = 0
    """Children that failed (backend or environment error, or a replay that did not reproduce its parent)."""
    replay_mismatch: int = 0
    skipped: int = 0
    """Episodes without a task id."""
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"doctor: {self.episodes} episodes of {self.tasks} tasks: {self.good} good, {self.bad} bad "
                f"({self.salvageable} salvageable, {self.unsalvageable} not); {self.doctored} doctored: "
                f"{self.succeeded} now succeed, {self.failed} failed")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- 1, 2: select and classify -------------------------------------------------------------------


def is_good(fields: dict[str, Any], verifier: str | None) -> bool:
    """Step 2 of the module docstring, over the index's fields of one episode."""
    if fields.get("/error/type") is not None:
        return False
    latest: dict[str, str | None] = {}
    for verdict in fields.get("/verification") or []:
        if isinstance(verdict, dict) and isinstance(verdict.get("verifier"), str):
            latest[verdict["verifier"]] = verdict.get("verdict")
    success = fields.get("/outcome/success") is True
    if verifier is not None:
        decided = latest.get(verifier)
        return decided == "pass" if decided in ("pass", "fail") else success
    return success and "fail" not in latest.values()


def mean_step_tokens(episode: Episode) -> float:
    """Seed 001's tie-break for episodes: completion tokens per step as the backend counted them,
    else whitespace-separated words of the actions."""
    if not episode.steps:
        return 0.0
    if episode.usage.completion_tokens is not None:
        return episode.usage.completion_tokens / len(episode.steps)
    return sum(len(s.action.split()) for s in episode.steps) / len(episode.steps)


def kept_tokens(episode: Episode, kept: int) -> int:
    """The tokens a cut keeps (seed 001 breaks ties between cuts by fewer)."""
    steps = episode.steps[:kept]
    counted = [s.usage.completion_tokens for s in steps if s.usage is not None]
    if counted and all(c is not None for c in counted) and len(counted) == len(steps):
        return sum(counted)  # type: ignore[arg-type]
    return sum(len(s.action.split()) + sum(len(m.content.split()) for m in s.observation) for s in steps)


@dataclass
class _Ref:
    path: Path
    record: Located


def _select(
    paths: Sequence[Path], config: DoctorConfig, report: DoctorReport
) -> tuple[dict[str, Candidate], list[Candidate]]:
    candidates: list[Candidate] = []
    for path in paths:
        for record in scan_file(path, FIELDS):
            task_id = record.fields.get("/task/id")
            report.episodes += 1
            if task_id is None:
                report.skipped += 1
                continue
            reward = record.fields.get("/reward")
            good = is_good(record.fields, config.verifier)
            candidates.append(Candidate(str(task_id), good, float(reward or 0.0), len(candidates), _Ref(path, record)))

    def tokens(tied: Sequence[Candidate]) -> list[float]:
        return [mean_step_tokens(episode) for episode in _load(tied)]

    return best_per_key(candidates, tokens), candidates


def _load(candidates: Sequence[Candidate]) -> Iterator[Episode]:
    """The episodes of candidates, validated, in their order, one at a time."""
    files: dict[Path, int] = {}
    try:
        for c in candidates:
            ref: _Ref = c.ref
            if ref.path not in files:
                files[ref.path] = os.open(ref.path, os.O_RDONLY)
            record = json.loads(os.pread(files[ref.path], ref.record.length, ref.record.offset))
            yield validate_episode(record, path=str(ref.path), line=ref.record.line)
    finally:
        for fd in files.values():
            os.close(fd)


# -- 3: cut --------------------------------------------------------------------------------------


class _Envs:
    """The doctoring environments, one per (name, arguments) of the episodes."""

    def __init__(self, overrides: dict[str, Any]) -> None:
        self.overrides = overrides
        self.built: dict[str, Environment] = {}

    def key(self, episode: Episode) -> str:
        return json.dumps([episode.env.name, {**episode.env.args, **self.overrides}], sort_keys=True, default=str)

    def of(self, episode: Episode) -> Environment:
        from harness import plugins

        key = self.key(episode)
        if key not in self.built:
            args = {**episode.env.args, **self.overrides}
            try:
                self.built[key] = plugins.get("environment", episode.env.name)(**args)
            except Exception as exc:
                raise ValueError(
                    f"episode {episode.episode_id}: cannot rebuild its environment {episode.env.name!r} "
                    f"with {args}: {exc} (lay other arguments over them with env_args / --env-arg)") from exc
        return self.built[key]


def reason(episode: Episode, verifier: str | None) -> str:
    """Why an episode was doctored, in words."""
    if episode.error is not None:
        return "error"
    for verdict in reversed(episode.verification):
        if verdict.verdict == "fail" and (verifier is None or verdict.verifier == verifier):
            return f"verdict fail ({verdict.verifier})"
    if any(not s.status.valid for s in episode.steps):
        return "invalid step"
    return "not solved"


@dataclass
class _Cut:
    parent: Episode
    kept: int
    quality: float
    tokens: int
    position: int
    env_key: str


def _cuts(bad_keys: set[str], candidates: list[Candidate], envs: _Envs, config: DoctorConfig) -> dict[str, _Cut]:
    """The best cut of every bad task (step 3), reading its episodes file by file."""
    best: dict[str, _Cut] = {}
    todo = [c for c in candidates if c.key in bad_keys]
    for c, episode in zip(todo, _load(todo)):
        env = envs.of(episode)
        kept = env.salvage(episode)
        if kept is None:
            continue
        if not 0 <= kept <= len(episode.steps):
            raise ValueError(f"{env.name}.salvage kept {kept} steps of episode {episode.episode_id}, "
                             f"which has {len(episode.steps)}")
        quality = env.salvage_quality(episode)
        if quality == UNSALVAGEABLE or quality < config.min_salvage_quality:
            continue
        cut = _Cut(episode, kept, quality, kept_tokens(episode, kept), c.position, envs.key(episode))
        top = best.get(c.key)
        if top is None or (-cut.quality, cut.tokens, cut.position) < (-top.quality, top.tokens, top.position):
            best[c.key] = cut
    return best


# -- 4, 5: continue and write ----------------------------------------------------------------------


def child_episode(episode: Episode, parent: Episode, kept: int, why: str, replays: int | None = None) -> Episode:
    """The engine's episode (its `replays` replayed steps first: `kept` unless the continuation
    task starts after them) as a doctored child: the kept turns in the prompt."""
    update: dict[str, Any] = {"parent": Parent(episode_id=parent.episode_id, steps_kept=kept, reason=why)}
    replays = kept if replays is None else replays
    replayed = episode.steps[:replays]
    mismatch = None
    if episode.error is None:
        if len(replayed) < replays:
            mismatch = f"the replay ended after {len(replayed)} of {replays} steps"
        for i, (new, old) in enumerate(zip(replayed, parent.steps)):
            if (new.status.valid, new.status.label) != (old.status.valid, old.status.label):
                mismatch = (f"step {i}: the replay gives status {new.status.label!r} (valid {new.status.valid}), "
                            f"the parent had {old.status.label!r} (valid {old.status.valid})")
                break
    if mismatch is not None:
        update["error"] = ErrorInfo(type="ReplayMismatch", message=mismatch)
    if episode.error is None or episode.steps:
        prompt = list(episode.prompt)
        for step in replayed:
            prompt.append(Message(role="assistant", content=step.action))
            prompt.extend(step.observation)
        steps = episode.steps[replays:]
        update.update(prompt=prompt, steps=steps, usage=Usage(
            prompt_tokens=_total(steps, "prompt_tokens"), completion_tokens=_total(steps, "completion_tokens")))
    return episode.model_copy(update=update)


def _total(steps: list[Any], name: str) -> int | None:
    counts = [getattr(s.usage, name) for s in steps if s.usage is not None and getattr(s.usage, name) is not None]
    return sum(counts) if counts else None


def _child_id(parent: Episode, kept: int, seed: int) -> str:
    return make_episode_id(parent.episode_id, parent.env.name, parent.task.id, parent.sample_index,
                           "doctor", kept, f"seed={seed}")


def doctor_files(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: DoctorConfig,
    *,
    backend: Any = None,
    progress: bool = True,
) -> DoctorReport:
    """Doctor the episodes of `inputs` (files, or directories of `*.jsonl` files) into `out_dir`
    (see the module docstring)."""
    from harness.engine.lock import Lock
    from harness.episode_files import episode_files

    paths = episode_files(inputs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lock = Lock(out / "doctor.lock", what=f"the doctored episodes in {out}")
    lock.acquire()
    try:
        from harness.doctor.leftovers import remove_leftovers

        remove_leftovers(out)
        return _Stage(paths, out, config, backend, progress).run()
    finally:
        lock.release()


class _Stage:
    def __init__(self, paths: list[Path], out: Path, config: DoctorConfig, backend: Any, progress: bool) -> None:
        self.paths, self.out, self.config, self.backend, self.progress = paths, out, config, backend, progress
        self.report = DoctorReport(outputs=[str(out / GOOD), str(out / DOCTORED)])
        self.settings = {"settings": content_settings(config), "inputs": [str(p.resolve()) for p in paths]}

    def run(self) -> DoctorReport:
        started = time.perf_counter()
        manifest = self.out / MANIFEST
        self._check_settings(record=False)
        if manifest.exists():
            saved = json.loads(manifest.read_text(encoding="utf-8"))
            if saved.get("settings") == self.settings["settings"] and saved.get("inputs") == self.settings["inputs"]:
                return DoctorReport(**saved["report"])  # finished before
        chosen, candidates = _select(self.paths, self.config, self.report)
        if self.report.episodes == 0:
            raise NothingToDoctor(f"no episodes in {', '.join(map(str, self.paths))}")
        self.report.tasks = len(chosen)
        good = sorted(k for k, c in chosen.items() if c.good)
        bad = {k for k, c in chosen.items() if not c.good}
        self.report.good, self.report.bad = len(good), len(bad)
        envs = _Envs(dict(self.config.env_args))
        cuts = _cuts(bad, candidates, envs, self.config)
        self.report.salvageable, self.report.unsalvageable = len(cuts), len(bad) - len(cuts)
        if not cuts and not self.config.allow_empty:
            raise NothingToDoctor(
                f"nothing to doctor: of {len(chosen)} tasks, {len(good)} have a good episode and none of the "
                f"other {len(bad)} has a cut worth continuing (min_salvage_quality {self.config.min_salvage_quality}); "
                "pass --allow-empty to accept that")
        self._check_settings(record=True)
        self._write_good(chosen, good)
        children = self._continue(cuts, envs)
        self._write_children(children, cuts)
        self.report.seconds = time.perf_counter() - started
        with atomic_write(self.out / MANIFEST) as f:
            json.dump({"report": self.report.to_dict(), **self.settings}, f, indent=2, sort_keys=True)
            f.write("\n")
        return self.report

    def _check_settings(self, *, record: bool) -> None:
        """A directory holds one doctoring: a rerun with other settings or inputs is refused.
        The settings are recorded once the stage is about to write (a run that stops before
        binds no one)."""
        from harness.engine.config import check_same_settings

        path = self.out / "doctor.settings.json"
        if path.exists():
            check_same_settings(path, json.loads(path.read_text(encoding="utf-8")), self.settings, self.out)
        elif record:
            with atomic_write(path) as f:
                json.dump(self.settings, f, indent=2, sort_keys=True)

    def _write_good(self, chosen: dict[str, Candidate], good: list[str]) -> None:
        with atomic_write(self.out / GOOD, binary=True) as f:
            for key in good:
                ref: _Ref = chosen[key].ref
                with open(ref.path, "rb") as source:
                    f.write(os.pread(source.fileno(), ref.record.length, ref.record.offset) + b"\n")

    def _partial(self) -> Path:
        return self.out / f".{DOCTORED}.partial"

    def _continue(self, cuts: dict[str, _Cut], envs: _Envs) -> dict[str, Episode]:
        """Every child episode by id: those a killed run left, and the rest generated now."""
        from tqdm import tqdm

        partial = self._partial()
        done: dict[str, Episode] = {}
        size = 0
        if partial.exists():
            with open(partial, "rb") as f:
                for line in f:
                    if not line.endswith(b"\n"):
                        break  # cut short by a kill: written again
                    episode = validate_episode(json.loads(line), path=str(partial))
                    done[episode.episode_id] = episode
                    size += len(line)
        todo = [(k, cut) for k, cut in sorted(cuts.items())
                if _child_id(cut.parent, cut.kept, self.config.seed) not in done]
        if not todo:
            return done
        bar = tqdm(total=len(cuts), initial=len(cuts) - len(todo), desc="doctor", unit="ep", file=sys.stderr,
                   disable=not self.progress, mininterval=0.5, dynamic_ncols=True)
        with open(partial, "a+b") as sink:
            os.chmod(partial, new_file_mode())
            sink.truncate(size)
            sink.seek(size)
            asyncio.run(self._generate(todo, envs, sink, done, bar))
        bar.close()
        return done

    async def _generate(self, todo: list[tuple[str, _Cut]], envs: _Envs, sink: Any, done: dict[str, Episode],
                        bar: Any) -> None:
        from harness import plugins
        from harness.engine import RolloutConfig
        from harness.engine.config import Item
        from harness.engine.episodes import RunContext, run_episodes
        from harness.engine.run import build_backend, finished_line

        registry = plugins.registry()
        groups: dict[str, list[_Cut]] = {}
        for _, cut in todo:
            groups.setdefault(cut.env_key, []).append(cut)
        config = self.config
        backend = self.backend
        try:
            for cuts in groups.values():
                env = envs.of(cuts[0].parent)
                rollout = RolloutConfig(
                    env=env.name, backend=config.backend, model=config.model, env_args=dict(env.args),
                    backend_args=dict(config.backend_args), max_tokens=config.max_tokens,
                    temperature=config.temperature, top_p=config.top_p, top_k=config.top_k, seed=config.seed,
                    max_turns=config.max_turns)
                backend = backend or build_backend(rollout)
                ctx = RunContext(env=env, backend=backend, config=rollout, run_id=uuid.uuid4().hex,
                                 plugins=registry.versions())
                by_id = {_child_id(c.parent, c.kept, config.seed): c for c in cuts}
                starts = {child_id: env.continuation(c.parent, c.kept) for child_id, c in by_id.items()}
                items = [Item(task=starts[child_id][0], sample_index=c.parent.sample_index, episode_id=child_id,
                              seed=c.parent.seed or 0,
                              sampler_seed=derive_seed("doctor", c.parent.episode_id, config.seed) % 2**62,
                              actions=starts[child_id][1])
                         for child_id, c in by_id.items()]

                def on_episode(episode: Episode, by_id: dict[str, _Cut] = by_id) -> None:
                    cut = by_id[episode.episode_id]
                    child = child_episode(episode, cut.parent, cut.kept, reason(cut.parent, config.verifier),
                                          len(starts[episode.episode_id][1]))  # noqa: B023 - called within the iteration
                    line = finished_line(registry, child)
                    sink.write((line + "\n").encode("utf-8"))
                    sink.flush()
                    os.fsync(sink.fileno())
                    done[child.episode_id] = validate_episode(json.loads(line))
                    bar.update(1)

                await run_episodes(ctx, items, on_episode, concurrency=config.concurrency)
        finally:
            if self.backend is None and backend is not None:
                await backend.aclose()

    def _write_children(self, children: dict[str, Episode], cuts: dict[str, _Cut]) -> None:
        with atomic_write(self.out / DOCTORED) as f:
            for _, cut in sorted(cuts.items()):
                child = children[_child_id(cut.parent, cut.kept, self.config.seed)]
                f.write(child.to_json_line() + "\n")
                self.report.doctored += 1
                self.report.succeeded += child.outcome.success is True and child.error is None
                self.report.failed += child.error is not None
                self.report.replay_mismatch += child.error is not None and child.error.type == "ReplayMismatch"
        with contextlib.suppress(FileNotFoundError):
            self._partial().unlink()
