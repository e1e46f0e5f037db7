"""The `triangulation` verifier: seed 000's "verified", as a verdict on each gold episode.

    harness verify --verifier triangulation --verifier-arg consistency=data/nohint RUN -o verified

A gold episode is a data-analysis run with the hint shown; the consistency runs answer the same
task without it (`env_args` `hint=false`, several samples per task). The gold episode passes
when its answer hash is the majority answer hash of its task's consistency runs
(`harness_data_analysis.triangulation.triangulate`: a plurality, ties to the run reached first,
runs in sample order); it fails when they disagree, when no run answered, or when the gold run
answered nothing. A run that ended without an answer (an error, `max_turns_reached`) is a run
that does not vote. The verdict's details are the seed's `triangulation` object plus the
consistency episodes it counted; its score is the share of consistency runs that gave the gold
answer.

An imported seed 000 record (`harness import seed000`) carries its own consistency traces: with
no run of its task under `consistency`, it is triangulated over those. Any other episode with no
consistency run of its task, and episodes of other environments, are `NotApplicable`.

Why a verifier and not a stage of its own: a verdict is what the rest of the harness already
reads. The verify stage appends it to the episode, resumes, fires `verdict_made` and counts;
the formatters keep the verified episodes with `--verdict triangulation=pass`; the same judge
runs from the `harness verify` command, from Python and in the Luigi pipeline
(`luigi_tasks.data_analysis`), which generates the consistency runs as a run of their own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.episode import Episode, Verdict, load_episodes
from harness.episode_files import episode_files
from harness.formats.data_analysis_record import seed_record
from harness.verify import NotApplicable, Verifier
from harness_data_analysis.seed_record import trace
from harness_data_analysis.triangulation import triangulate

ENV = "data-analysis"


@dataclass(frozen=True)
class _Run:
    """What triangulation needs of one consistency run."""

    sample_index: int
    episode_id: str
    answer_hash: str | None


class TriangulationVerifier(Verifier):
    """Passes a gold episode whose answer is the majority answer of its consistency runs."""

    name = "triangulation"
    version = "1"

    def __init__(self, consistency: str | Sequence[str] | None = None) -> None:
        paths = [consistency] if isinstance(consistency, (str, os.PathLike)) else list(consistency or [])
        self.paths = [os.fspath(p) for p in paths]
        self.runs = _read_runs(self.paths)

    def verify(self, episode: Episode) -> Verdict:
        if episode.env.name != ENV:
            raise NotApplicable(f"{self.name} judges {ENV} episodes, not {episode.env.name} ones")
        task_id = str(episode.task.id)
        gold_hash = _answer_hash(_gold_trace(episode))
        runs = self.runs.get(task_id, [])
        if runs:
            hashes = [r.answer_hash for r in runs]
            counted = [r.episode_id for r in runs]
        else:
            recorded = seed_record(episode).get("consistency_traces") if "seed000" in episode.info else None
            if not recorded:
                where = ", ".join(self.paths) or "no consistency runs given (verifier argument consistency)"
                raise NotApplicable(f"no consistency run of task {task_id!r} ({where})")
            hashes = [_answer_hash(t) if isinstance(t, dict) else None for t in recorded]
            counted = [f"consistency_traces/{i}" for i in range(len(recorded))]
        triangulation, verified = triangulate(gold_hash, hashes)
        agreeing = sum(1 for h in hashes if gold_hash is not None and h == gold_hash)
        return self.verdict("pass" if verified else "fail", score=agreeing / len(hashes),
                            details={**triangulation, "gold_answer_hash": gold_hash, "consistency_runs": counted})


def _gold_trace(episode: Episode) -> dict[str, Any]:
    """The episode's own trace; for an imported seed 000 record, the trace the seed recorded."""
    if "seed000" in episode.info:
        record = seed_record(episode)
        return record.get("gold_trace") or record.get("teacher_gold_trace") or {}
    return trace(episode)


def _answer_hash(seed_trace: dict[str, Any]) -> str | None:
    """The trace's answer hash, or None when it submitted nothing."""
    return seed_trace.get("final_answer_hash") if seed_trace.get("success") else None


def _read_runs(paths: Sequence[str]) -> dict[str, list[_Run]]:
    """Task id -> its consistency runs in sample order, read from episode files or run directories
    (only the answer of each run is kept, so a large run costs little memory)."""
    runs: dict[str, list[_Run]] = {}
    for path in episode_files(paths):
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such consistency run (verifier argument consistency)")
        for episode in load_episodes(path):
            if episode.env.name != ENV:
                raise ValueError(f"{path}: episode {episode.episode_id} is a {episode.env.name} episode; "
                                 f"consistency runs are {ENV} runs")
            if episode.info.get("hint_shown"):
                raise ValueError(f"{path}: episode {episode.episode_id} was shown the hint; consistency runs "
                                 "answer without it (env argument hint=false)")
            runs.setdefault(str(episode.task.id), []).append(
                _Run(episode.sample_index, episode.episode_id, _answer_hash(trace(episode))))
    for task_runs in runs.values():
        task_runs.sort(key=lambda r: r.sample_index)
    return runs
