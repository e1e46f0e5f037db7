"""A data-analysis episode as the seed 000 record its formatters read.

    record = seed_record(episode)      # {episode_id, csv_source, question, gold_trace, verified, ...}

Two kinds of episodes come here:

- episodes of the `data-analysis` environment (the rollout engine's): each step that ran code
  holds the seed's turn in its `info` (`{turn_index, reasoning, code, execution: {success,
  stdout, stderr, hooks, submitted_answer}}`), so the gold trace is those turns (`trace`);
  `verified` is whether the episode succeeded (its answer matched the ground truth), and the
  question and CSV are the task's;
- seed 000 records brought in by `harness import seed000` (`info.seed000` set): the record is
  rebuilt exactly as the seed's file held it, its trace's turns from the steps' `info`
  (harness.importers.seed000 says how it is stored).
"""

from __future__ import annotations

from typing import Any

from harness.episode import Episode

__all__ = ["TURNS_IN_STEPS", "seed_record", "trace"]

TURNS_IN_STEPS = "$steps"
"""What an imported record holds in place of its trace's turns, which are the episode's steps."""


def trace(episode: Episode) -> dict[str, Any]:
    """The seed trace `{turns, final_answer, final_answer_hash, success}` of a data-analysis
    episode: its turns are the `info` of the steps that ran code (an invalid step ran nothing and
    is left out); `final_answer` is the answer of the step labelled `submitted`, its hash the one
    the environment recorded (`info.final_answer_hash`); `success` is whether there was one."""
    turns: list[dict[str, Any]] = []
    for step in episode.steps:
        if "execution" not in step.info:
            continue
        turns.append({
            "turn_index": step.info.get("turn_index", len(turns)),
            "reasoning": step.info.get("reasoning", ""),
            "code": step.info.get("code", ""),
            "execution": step.info["execution"],
        })
    submitted = next((s for s in episode.steps if s.status.label == "submitted"), None)
    answer = submitted.info.get("execution", {}).get("submitted_answer") if submitted is not None else None
    return {
        "turns": turns,
        "final_answer": answer,
        "final_answer_hash": episode.info.get("final_answer_hash") if submitted is not None else None,
        "success": submitted is not None,
    }


def seed_record(episode: Episode) -> dict[str, Any]:
    """The seed 000 record of a data-analysis episode (see the module docstring)."""
    imported = episode.info.get("seed000")
    if isinstance(imported, dict):
        return _imported(episode, imported)
    return {
        "episode_id": episode.episode_id,
        "csv_source": episode.task.data.get("csv_source"),
        "question": episode.task.data.get("question"),
        "gold_trace": trace(episode),
        "verified": episode.outcome.success is True,
    }


def _imported(episode: Episode, imported: dict[str, Any]) -> dict[str, Any]:
    from harness.importers.values import decode

    def read(value: Any) -> Any:
        return decode(value) if imported.get("encoded") else value

    record = read(imported["record"])
    key = imported.get("trace")
    if key is not None:  # the trace's turns are the steps, in place of the marker
        record = {**record, key: {**record[key], "turns": [read(step.info) for step in episode.steps]}}
    return record
