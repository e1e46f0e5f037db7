"""Seed 001's iterative loop (`iterative_generate.py`, fixed as seeds.md says) over a results directory.

Each loop: analyse every `results_N.jsonl` of the directory (best rollout per puzzle, good or bad,
harness.doctor.results); truncate the bad ones (salvageable → the doctor queue; unsalvageable →
back to the fresh pool); the fresh pool is every puzzle of the dataset never run plus the
unsalvageable ones; run the doctor queue (each truncated example continued verbatim: its prompt,
its board order, its kept history) and the fresh pool through the rollout engine with any
backend; save the new rollouts as the next free `results_N.jsonl` (written atomically, never
over another). It prints, per loop,

    Loop k: G Good, B Bad | Δ (p% of Ran Puzzles) -> Good Examples
      - Salvageable: S
      - Unsalvageable: U
      - Missing puzzles: M

(no `| …` part on the first loop; Δ is the change in good puzzles since the loop before, p its
share of the puzzles that loop ran; "missing" counts the puzzles never run) and stops when
nothing is bad and nothing is missing; an empty directory is not "nothing": its first loop runs
the whole dataset.

The directory's journal, `loops.json`, records every loop: what it analysed, what it counted,
which file it writes. `loops` is the number of loops the directory is taken through **in all**:
a rerun after a crash or kill -9 finishes the loop in progress (the engine resumes its episodes)
and the ones still missing, and gives the same files as an uninterrupted run; a rerun of a
finished command writes nothing new and prints the same lines. Per-file indexes
(`.index/`, harness.doctor.index) make loop k parse only the results file loop k−1 wrote.
Work in progress lives in `.loop/` and is removed when its loop is done. One process at a time
works on a directory (`.doctor-loop.lock`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write
from harness.doctor import results as seed_results
from harness.environment import derive_seed
from harness.options import content_settings, setting

JOURNAL = "loops.json"
WORK = ".loop"
LOCK = ".doctor-loop.lock"
RULES_ARGS = ("max_mistakes", "max_turns")
"""Environment arguments that shape the game; the others choose the dataset's puzzles."""


@dataclass(frozen=True)
class LoopConfig:
    """The settings of `harness doctor loop` (and Luigi `ConnectionsLoop`)."""

    loops: int = setting(1, help="Loops to take the results directory through, in all: the loops its "
                                 "journal (loops.json) records count, so a rerun finishes what is missing.")
    env_args: dict[str, Any] = setting(
        factory=dict, help="Arguments of the connections environment: the dataset (puzzles=FILE, or the "
                           "bank's count=...) and the rules (max_mistakes=..., max_turns=...).")
    split: str | None = setting("train", help="The dataset's split whose puzzles the loop makes good "
                                              "(none: every split).")
    limit: int | None = setting(None, help="The first N puzzles of that split only (none: all).")
    backend: str = setting("transformers", help="Backend that plays the games: transformers, vllm, openai, scripted.")
    model: str | None = setting(None, help="Model for the backend (none: the backend's default, the embedded model).")
    backend_args: dict[str, Any] = setting(factory=dict, help="Arguments of the backend.")
    max_tokens: int = setting(512, help="Tokens per model turn.")
    temperature: float = setting(0.7, help="Sampling temperature.")
    top_p: float = setting(1.0, help="Nucleus sampling mass.")
    top_k: int = setting(-1, help="Top-k cut-off (-1: none).")
    seed: int = setting(0, help="Seed of the loops' sampling (loop N samples with a seed derived from it and N).")
    token_limit: int | None = setting(
        None, help="Assistant messages over this many tokens make their guess invalid "
                   "(invalid_reason over_token_limit_N, N the message's own count) before classification.")
    min_salvage_quality: float = setting(0.0, help="Bad rollouts below this salvage quality are not doctored "
                                                   "but run fresh.")
    tokenizer: str | None = setting(None, help="What counts tokens (ties, token limit): a Hugging Face "
                                               "tokenizer, 'embedded', or none for whitespace-separated words.")
    dry_run: bool = setting(False, content=False, help="Analyse the results and print the next loop's "
                                                       "counts; generate and write nothing.")
    concurrency: int = setting(64, content=False, help="Games played at once.")

    def __post_init__(self) -> None:
        if self.loops < 1:
            raise ValueError("loops must be at least 1")
        if self.limit is not None and self.limit < 0:
            raise ValueError("limit must be >= 0")
        if self.token_limit is not None and self.token_limit < 1:
            raise ValueError("token_limit must be at least 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not isinstance(self.env_args.get("max_mistakes", 4), int):
            raise ValueError("env_args.max_mistakes must be an integer")


@dataclass
class LoopStats:
    """One loop's analysis (and what it then ran), as the journal and the stats files hold it."""

    loop: int
    files: list[str]
    """Results files analysed."""
    good: int
    bad: int
    salvageable: int
    unsalvageable: int
    missing: int
    """Puzzles of the dataset never run."""
    skipped: int = 0
    """Records without a puzzle id."""
    delta: int | None = None
    """Good puzzles gained since the loop before (None on the first)."""
    delta_share: float | None = None
    """`delta` / the puzzles the loop before ran, in %."""
    converted_doctored: int | None = None
    """Of the puzzles the loop before doctored, how many are good now."""
    converted_fresh: int | None = None
    output: str | None = None
    """The results file this loop writes (None: nothing to run, or the final analysis)."""
    doctored: int = 0
    """Puzzles doctored (continued from their truncated example)."""
    fresh: int = 0
    """Puzzles run from the start."""
    failed: int = 0
    """Games that failed (a backend or environment error): left out of the results file."""
    tokens_doctored: int | None = None
    """Completion tokens the doctored games spent (as the backend counts them; None: unknown)."""
    tokens_fresh: int | None = None
    status: str = "planned"
    """`planned` (running), `done`, `converged` (nothing bad, nothing missing), `stalled`
    (bad puzzles left, but none that could be run), `final` (the analysis after the last loop)."""
    queue: dict[str, list[str]] = field(default_factory=lambda: {"doctored": [], "fresh": []})
    """The keys of the puzzles this loop doctors and runs fresh."""
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def ran(self) -> int:
        return self.doctored + self.fresh

    def lines(self) -> list[str]:
        """What the seed prints for this loop."""
        name = "Final" if self.status == "final" else f"Loop {self.loop}"
        head = f"{name}: {self.good} Good, {self.bad} Bad"
        if self.delta is not None:
            head += f" | {self.delta} ({self.delta_share or 0.0:.1f}% of Ran Puzzles) -> Good Examples"
        return [head, f"  - Salvageable: {self.salvageable}", f"  - Unsalvageable: {self.unsalvageable}",
                f"  - Missing puzzles: {self.missing}"]


@dataclass
class LoopReport:
    results_dir: str
    loops: list[LoopStats] = field(default_factory=list)
    final: LoopStats | None = None
    converged: bool = False
    written: list[str] = field(default_factory=list)
    """Results files written by this run."""
    parsed_files: int = 0
    """Results files parsed (the others' indexes were reused), over every analysis of this run."""

    def summary(self) -> str:
        last = self.final or (self.loops[-1] if self.loops else None)
        state = "converged: nothing bad, nothing missing" if self.converged else f"{len(self.loops)} loop(s)"
        counts = f"{last.good} good, {last.bad} bad, {last.missing} missing" if last else "nothing analysed"
        return f"{self.results_dir}: {state}; {counts}; {len(self.written)} results file(s) written"


class NothingToLoop(ValueError):
    """No rollouts and no puzzles: the loop has nothing to make good."""


def run_loops(
    results_dir: str | os.PathLike[str],
    config: LoopConfig,
    *,
    backend: Any = None,
    say: Callable[[str], None] = print,
    progress: bool = True,
) -> LoopReport:
    """Take `results_dir` through `config.loops` loops in all (see the module docstring).

    `backend`: a ready backend (left open), a function that returns one when a loop first needs
    it (left open too: whoever made it closes it), or None: built from the config when needed,
    and closed at the end."""
    from harness.engine.lock import Lock

    directory = Path(results_dir)
    if not config.dry_run:
        directory.mkdir(parents=True, exist_ok=True)
    elif not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such results directory")
    lock = Lock(directory / LOCK, what=f"the doctoring loop of {directory}")
    lock.acquire()
    try:
        if not config.dry_run:
            from harness.doctor.leftovers import remove_leftovers

            remove_leftovers(directory, directory / ".index", directory / WORK)
        return _Loop(directory, config, backend, say, progress).run()
    finally:
        lock.release()


class _Loop:
    def __init__(self, directory: Path, config: LoopConfig, backend: Any, say: Callable[[str], None],
                 progress: bool) -> None:
        self.dir = directory
        self.config = config
        self.backend = None if callable(backend) and not hasattr(backend, "generate") else backend
        self.make_backend = backend if self.backend is None and backend is not None else None
        self.own_backend = backend is None
        self.say = say
        self.progress = progress
        self.settings = {k: v for k, v in content_settings(config).items() if k != "loops"}
        self.journal = _read_journal(directory / JOURNAL)
        self.report = LoopReport(str(directory))
        self.dataset = _dataset(config)

    def run(self) -> LoopReport:
        if self.config.dry_run:  # the next loop's counts, from the files as they are
            files = seed_results.results_files(self.dir)
            self._show(self._stats(len(self.journal) + 1, files, self._analyze(files)))
            return self.report
        try:
            for k in range(1, self.config.loops + 1):
                entry = self._entry(k)
                self._show(entry)
                if entry.status in ("converged", "stalled"):
                    self.report.converged = entry.status == "converged"
                    if entry.status == "stalled":
                        self.say(f"  Nothing left to run: the {entry.bad} bad puzzle(s) are unsalvageable "
                                 "and not in the dataset")
                    break
                if entry.status == "planned":
                    self._generate(entry)
                else:  # a kill between recording the loop done and removing its work left that work
                    _remove_work(self.dir / WORK, entry.loop)
            self.report.final = self._final()
            for line in self.report.final.lines():
                self.say(line)
            from harness.doctor.stats import write_stats

            write_stats(self.dir, self.journal, self.report.final)
        finally:
            if self.own_backend and self.backend is not None:
                import asyncio

                asyncio.run(self.backend.aclose())
        return self.report

    # -- analysis ------------------------------------------------------------------------------

    def _analyze(self, files: list[Path]) -> seed_results.Analysis:
        analysis = seed_results.analyze(
            files, token_limit=self.config.token_limit, tokenizer=self.config.tokenizer,
            min_salvage_quality=self.config.min_salvage_quality,
            max_mistakes=self.config.env_args.get("max_mistakes", 4),
            index_dir=self.dir / ".index")
        self.report.parsed_files += analysis.parsed
        return analysis

    def _stats(self, k: int, files: list[Path], analysis: seed_results.Analysis) -> LoopStats:
        bad = [analysis.chosen[key] for key in analysis.bad]
        stats = LoopStats(
            loop=k, files=[p.name for p in files], good=len(analysis.good), bad=len(bad),
            salvageable=sum(c.salvageable for c in bad), unsalvageable=sum(not c.salvageable for c in bad),
            missing=sum(key not in analysis.chosen for key in self.dataset), skipped=analysis.skipped,
            settings=self.settings)
        before = self.journal[k - 2] if k >= 2 else None
        if before is not None:
            stats.delta = stats.good - before.good
            stats.delta_share = 100.0 * stats.delta / before.ran if before.ran else 0.0
            good = set(analysis.good)
            queue = before.queue
            stats.converted_doctored = sum(key in good for key in queue["doctored"])
            stats.converted_fresh = sum(key in good for key in queue["fresh"])
        return stats

    def _entry(self, k: int) -> LoopStats:
        """Loop k's journal entry: recorded, or made now from the directory's files."""
        if k <= len(self.journal):
            entry = self.journal[k - 1]
            if entry.status == "planned" and entry.settings != self.settings:
                from harness.engine.config import check_same_settings

                check_same_settings(self.dir / JOURNAL, entry.settings, self.settings, self.dir / WORK)
            return entry
        files = seed_results.results_files(self.dir)
        analysis = self._analyze(files)
        stats = self._stats(k, files, analysis)
        if not files and not self.dataset:
            raise NothingToLoop(f"{self.dir} holds no results and the dataset has no puzzles "
                                f"(split {self.config.split!r}, env args {self.config.env_args}): nothing to do")
        if stats.bad == 0 and stats.missing == 0 and stats.good > 0:
            stats.status = "converged"
        else:
            queue = self._queue(analysis)
            stats.queue = {"doctored": queue["doctored"], "fresh": queue["fresh"]}
            stats.doctored, stats.fresh = len(queue["doctored"]), len(queue["fresh"])
            if stats.ran == 0:
                stats.status = "stalled"
            else:
                stats.output = seed_results.next_results_file(self.dir).name
                _write_puzzles(self.dir, stats.loop, queue["rows"])
        self.journal.append(stats)
        self._save()
        return stats

    def _show(self, entry: LoopStats) -> None:
        for line in entry.lines():
            self.say(line)
        self.report.loops.append(entry)

    def _queue(self, analysis: seed_results.Analysis) -> dict[str, Any]:
        """The loop's games: truncated examples of the salvageable bad puzzles, then the fresh
        pool (dataset puzzles never run, and the unsalvageable ones), as puzzle file rows."""
        from harness_connections.truncation import truncate

        max_mistakes = self.config.env_args.get("max_mistakes", 4)
        salvageable = [k for k in analysis.bad if analysis.chosen[k].salvageable]
        rows, doctored = [], []
        for key, row in zip(salvageable, seed_results.rows(analysis, salvageable, token_limit=self.config.token_limit,
                                                           tokenizer=self.config.tokenizer)):
            example = truncate(row, max_mistakes)
            if example is not None:
                rows.append(example)
                doctored.append(key)
        fresh = [key for key, task in self.dataset.items()
                 if key not in analysis.chosen or (not analysis.chosen[key].good and key not in doctored)]
        for key in fresh:
            rows.append(_fresh_row(self.dataset[key]))
        return {"doctored": doctored, "fresh": fresh, "rows": rows}

    def _final(self) -> LoopStats:
        files = seed_results.results_files(self.dir)
        k = len(self.journal) + 1
        stats = self._stats(k, files, self._analyze(files))
        stats.status = "final"
        return stats

    # -- generation ----------------------------------------------------------------------------

    def _generate(self, entry: LoopStats) -> None:
        assert entry.output is not None
        target = self.dir / entry.output
        work = self.dir / WORK
        run_dir = work / f"run-{entry.loop}"
        if not target.exists():
            if not _puzzles_file(self.dir, entry.loop).exists():  # .loop/ removed by hand: make it again
                queue = self._queue(self._analyze([self.dir / name for name in entry.files]))
                _write_puzzles(self.dir, entry.loop, queue["rows"])
            episodes = self._play(entry, run_dir)
            records, tokens = _results_records(episodes, entry.queue)
            entry.failed = sum(e.error is not None for e in episodes)
            entry.tokens_doctored, entry.tokens_fresh = tokens["doctored"], tokens["fresh"]
            self._save()
            with atomic_write(target) as f:
                for record in records:
                    f.write(json.dumps(record) + "\n")  # as the seed writes: ASCII escapes
            self.report.written.append(entry.output)
        entry.status = "done"
        self._save()
        _remove_work(work, entry.loop)

    def _play(self, entry: LoopStats, run_dir: Path) -> list[Any]:
        from harness.engine import RolloutConfig, generate
        from harness.episode import load_episodes

        puzzles = _puzzles_file(self.dir, entry.loop)
        env_args = {k: v for k, v in self.config.env_args.items() if k in RULES_ARGS}
        rollout = RolloutConfig(
            env="connections", backend=self.config.backend, model=self.config.model,
            env_args={**env_args, "puzzles": str(puzzles)}, backend_args=dict(self.config.backend_args),
            max_tokens=self.config.max_tokens, temperature=self.config.temperature, top_p=self.config.top_p,
            top_k=self.config.top_k, seed=derive_seed("doctor-loop", self.config.seed, entry.loop) % 2**31)
        if self.backend is None and self.make_backend is not None:
            self.backend = self.make_backend()
        if self.backend is None:
            from harness.engine.run import build_backend

            self.backend = build_backend(rollout)
        manifests = generate(rollout, run_dir, backend=self.backend, concurrency=self.config.concurrency,
                             progress=self.progress)
        return list(load_episodes([run_dir / m["shard"]["path"] for m in manifests]))

    def _save(self) -> None:
        with atomic_write(self.dir / JOURNAL) as f:
            json.dump({"format": 1, "loops": [asdict(e) for e in self.journal]}, f, indent=2, sort_keys=True)
            f.write("\n")


def _dataset(config: LoopConfig) -> dict[str, Any]:
    """The puzzles the loop makes good: key (`str(id)`) → task, in the dataset's order."""
    from harness import plugins

    env = plugins.get("environment", "connections")(**config.env_args)
    tasks = list(env.tasks(config.split))
    if config.limit is not None:
        tasks = tasks[: config.limit]
    return {str(task.id): task for task in tasks}


def _fresh_row(task: Any) -> dict[str, Any]:
    """A dataset puzzle as a puzzle file row (the seed's record shape, without a prompt: the game
    gets our prompt; its board order kept when the dataset has one)."""
    info = {"puzzle_id": task.id, "categories": task.data["categories"]}
    if task.data.get("all_words") is not None:
        info["all_words"] = task.data["all_words"]
    row: dict[str, Any] = {"info": info, "completion": []}
    if task.split:
        row["split"] = task.split
    return row


def _puzzles_file(directory: Path, loop: int) -> Path:
    return directory / WORK / f"loop-{loop}.puzzles.jsonl"


def _write_puzzles(directory: Path, loop: int, rows: list[dict[str, Any]]) -> None:
    """The loop's puzzle file: its truncated examples, then its fresh puzzles."""
    with atomic_write(_puzzles_file(directory, loop)) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _results_records(
    episodes: list[Any], queue: dict[str, list[str]]
) -> tuple[list[dict[str, Any]], dict[str, int | None]]:
    """The loop's rollout records in the order of its puzzle file (doctored, then fresh), failed
    games left out, and the completion tokens each kind spent."""
    from harness_connections.rollout_record import to_rollout_record

    order = {key: i for i, key in enumerate(queue["doctored"] + queue["fresh"])}
    doctored = set(queue["doctored"])
    ranked = sorted(episodes, key=lambda e: order.get(str(e.task.id), len(order)))
    tokens: dict[str, int | None] = {"doctored": None, "fresh": None}
    for e in ranked:
        used = e.usage.completion_tokens
        if used is not None:
            kind = "doctored" if str(e.task.id) in doctored else "fresh"
            tokens[kind] = (tokens[kind] or 0) + used
    return [to_rollout_record(e) for e in ranked if e.error is None], tokens


def _remove_work(work: Path, loop: int) -> None:
    import shutil

    shutil.rmtree(work / f"run-{loop}", ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        _puzzles_file(work.parent, loop).unlink()
    with contextlib.suppress(OSError):
        work.rmdir()


def _read_journal(path: Path) -> list[LoopStats]:
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    names = {f for f in LoopStats.__dataclass_fields__}
    return [LoopStats(**{k: v for k, v in e.items() if k in names}) for e in data.get("loops", [])]


@dataclass
class ExamplesReport:
    good: int = 0
    bad: int = 0
    doctored: int = 0
    """Good examples that continue a truncated one."""
    outputs: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"examples: {self.good} good ({self.doctored} doctored), {self.bad} bad"


def write_examples(results_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                   config: LoopConfig) -> ExamplesReport:
    """The seed's filter over the whole directory, as its output rows (think-wrapped, tags,
    metadata, in sorted puzzle order): `good_examples.jsonl` and `bad_examples.jsonl`."""
    directory, out = Path(results_dir), Path(out_dir)
    analysis = seed_results.analyze(
        seed_results.results_files(directory), token_limit=config.token_limit, tokenizer=config.tokenizer,
        min_salvage_quality=config.min_salvage_quality, max_mistakes=config.env_args.get("max_mistakes", 4),
        index_dir=directory / ".index")
    report = ExamplesReport()
    for name, keys in (("good_examples.jsonl", analysis.good), ("bad_examples.jsonl", analysis.bad)):
        rows = seed_results.rows(analysis, keys, token_limit=config.token_limit, tokenizer=config.tokenizer)
        with atomic_write(out / name) as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        report.outputs.append(str(out / name))
        if name.startswith("good"):
            report.good = len(rows)
            report.doctored = sum(bool((r.get("info") or {}).get("resumed_from_guess_history")) for r in rows)
        else:
            report.bad = len(rows)
    return report
