"""Our episode records → the seed 000 episode record that the seed 000 formatters read.

    record = to_seed_record(gold_episode, consistency_episodes)

The gold episode is a run with the hint shown; the consistency episodes are runs of the same task
without it (`hint=False`). The record is

    {episode_id, timestamp, csv_source, question,
     gold_trace: {turns, final_answer, final_answer_hash, success},
     consistency_traces: [trace...], verified, triangulation, timing: {gold_s, consistency_s}}

A gold episode alone is also what the harness's formatters read (`harness format run sft-standard`
on the episodes); this record adds the consistency runs and their triangulation. A trace's turns
are the `info` of the steps that ran code (`{turn_index, reasoning, code,
execution}`); invalid steps ran nothing and are left out. `final_answer` is the answer of the
step labelled `submitted`; `success` is whether there was one (the run finished with an
answer; whether it is right is what `verified` says). Timings are the summed `elapsed_s` of the
steps, in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from harness.episode import Episode, validate_episode
from harness.formats.data_analysis_record import trace as harness_trace
from harness_data_analysis.triangulation import triangulate
from harness_data_analysis.values import value_hash


def to_seed_record(
    gold_episode: Episode | Mapping[str, Any],
    consistency_episodes: Iterable[Episode | Mapping[str, Any]],
) -> dict[str, Any]:
    """The seed 000 record of a gold episode and its consistency runs (episodes or their dicts)."""
    gold = _episode(gold_episode)
    for key in ("csv_source", "question"):
        if key not in gold.task.data:
            raise ValueError(f"episode {gold.episode_id}: /task/data/{key} is missing")
    others = [_episode(e) for e in consistency_episodes]
    for other in others:
        if str(other.task.id) != str(gold.task.id):
            raise ValueError(
                f"episode {other.episode_id} is about task {other.task.id!r}, but gold episode "
                f"{gold.episode_id} is about task {gold.task.id!r}"
            )
    gold_trace = trace(gold)
    consistency_traces = [trace(e) for e in others]
    triangulation, verified = triangulate(
        gold_trace["final_answer_hash"],
        [t["final_answer_hash"] if t["success"] else None for t in consistency_traces],
    )
    return {
        "episode_id": gold.episode_id,
        "timestamp": gold.provenance.created_at,
        "csv_source": gold.task.data["csv_source"],
        "question": gold.task.data["question"],
        "gold_trace": gold_trace,
        "consistency_traces": consistency_traces,
        "verified": verified,
        "triangulation": triangulation,
        "timing": {
            "gold_s": _elapsed(gold),
            "consistency_s": round(sum(_elapsed(e) for e in others), 3),
        },
    }


def trace(episode: Episode) -> dict[str, Any]:
    """The seed trace `{turns, final_answer, final_answer_hash, success}` of one episode
    (`harness.formats.data_analysis_record.trace`, which the formatters use; the answer's hash
    is computed here when the episode did not record it)."""
    out = harness_trace(episode)
    if out["success"] and out["final_answer_hash"] is None:
        out["final_answer_hash"] = value_hash(out["final_answer"])
    return out


def _episode(value: Episode | Mapping[str, Any]) -> Episode:
    return value if isinstance(value, Episode) else validate_episode(dict(value))


def _elapsed(episode: Episode) -> float:
    return round(sum(float(s.info.get("elapsed_s", 0.0)) for s in episode.steps), 3)
