"""Seed 002's evaluation: two tasks on summarized rows, sampled through any backend.

- `summary-reasoning` (task 1): the full context (question, reasoning, search results) as one
  user turn -> the model should write the summary (its three tagged parts) and then its next
  step (`<search>` or `<answer>`), as the summary-prefix dataset taught it;
- `reasoning-from-summary` (task 2): the summary alone -> the next reasoning and step, as the
  summary-only dataset taught it.

The rows are those `harness format summaries` writes: `summarized.jsonl` (both tasks), the
summary-prefix files (both: the original answer is the answer after the summary) or the
summary-only files (task 2 only: their context was discarded).

    report = evaluate(["summarized.jsonl"], "eval/", EvaluateConfig(backend="transformers",
                      backend_args={"adapter": "runs/prog/phase3_summary_prefix/adapter"}, limit=20))
    # eval/results.jsonl  one line per sample: task, prompt, reference, response, metrics
    # eval/analysis.json  per task: samples and the mean of every metric
    # eval/analysis.md    the same as a table; eval/analysis.png as bars

Metrics per sample (each 0 or 1 but `token_f1`): `summary_ok` (task 1: the three parts, in order,
none empty), `action_ok` (a `<search>` or `<answer>` step), `action_type_match` (the same kind of
step as the reference), `action_match` (the same query or answer, whitespace and case aside),
`token_f1` (of the step's text against the reference's).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write
from harness.options import setting

__all__ = ["TASKS", "EvaluateConfig", "EvaluateReport", "evaluate", "evaluation_samples", "score"]

TASKS = ("summary-reasoning", "reasoning-from-summary")
_ACTION = re.compile(r"<(search|answer)>(.*?)</\1>", re.DOTALL)


@dataclass(frozen=True)
class EvaluateConfig:
    backend: str = setting("transformers", help="Backend plugin: transformers, vllm, openai, scripted, …")
    model: str | None = setting(None, help="Model for the backend; none: its default (the embedded model).")
    backend_args: dict[str, Any] = setting(factory=dict, help="Backend argument, e.g. adapter=runs/x/adapter.")
    tasks: list[str] = setting(factory=lambda: list(TASKS), metavar="TASK",
                               help="summary-reasoning (task 1) and/or reasoning-from-summary (task 2).")
    limit: int | None = setting(50, help="The first N rows; none: all.")
    samples_per_task: int = setting(1, help="Samples per row and task.")
    temperature: float = setting(0.7, help="Sampling temperature (the seed's 0.7).")
    top_p: float = setting(1.0, help="Nucleus sampling mass.")
    max_tokens: int = setting(1024, help="Tokens per response.")
    seed: int = setting(0, help="Seed of the sampling (each sample's seed derives from it).")
    concurrency: int = setting(8, content=False, help="Requests in flight.")

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            raise ValueError(f"tasks must be among {', '.join(TASKS)}; got {', '.join(unknown) or 'none'}")
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be at least 1")
        if self.samples_per_task < 1 or self.max_tokens < 1 or self.concurrency < 1:
            raise ValueError("samples_per_task, max_tokens and concurrency must be at least 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1]")


@dataclass(frozen=True)
class EvaluateReport:
    output: str
    rows: int
    samples: dict[str, int]
    skipped: dict[str, int]
    means: dict[str, dict[str, float]]

    def summary(self) -> str:
        parts = []
        for task, n in self.samples.items():
            m = self.means.get(task, {})
            parts.append(f"{task}: {n} samples, action_ok {m.get('action_ok', 0):.2f}, "
                         f"action_match {m.get('action_match', 0):.2f}, token_f1 {m.get('token_f1', 0):.2f}"
                         + (f", summary_ok {m['summary_ok']:.2f}" if "summary_ok" in m else ""))
        return f"evaluated {self.rows} rows: " + "; ".join(parts)


# -- samples ------------------------------------------------------------------------------------


def evaluation_samples(record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """task -> {prompt, reference} for one summarized row (a task the row cannot give is absent)."""
    summary = record.get("summary")
    extra = record.get("extra_info")
    info: dict[str, Any] = extra if isinstance(extra, dict) else {}
    answer = info.get("answer")
    if not isinstance(summary, str) or not summary.strip() or not isinstance(answer, str):
        return {}
    if info.get("has_summary_prefix") and answer.startswith(summary + "\n\n"):
        answer = answer[len(summary) + 2:]
    out = {"reasoning-from-summary": {"prompt": summary, "reference": answer}}
    context = info.get("question")
    if isinstance(context, str) and not info.get("original_question_discarded"):
        out["summary-reasoning"] = {"prompt": context, "reference": f"{summary}\n\n{answer}"}
    return out


def _action(text: str) -> tuple[str | None, str]:
    """The kind and text of the last `<search>`/`<answer>` step of `text`."""
    found = _ACTION.findall(text)
    return (found[-1][0], found[-1][1].strip()) if found else (None, "")


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _f1(prediction: str, reference: str) -> float:
    pred, ref = _tokens(prediction), _tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum(min(pred.count(t), ref.count(t)) for t in set(pred))
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def score(task: str, response: str, reference: str) -> dict[str, float]:
    from harness.formats.summaries import summary_problem

    kind, text = _action(response)
    ref_kind, ref_text = _action(reference)
    metrics = {
        "action_ok": float(kind is not None),
        "action_type_match": float(kind is not None and kind == ref_kind),
        "action_match": float(kind is not None and kind == ref_kind
                              and " ".join(text.lower().split()) == " ".join(ref_text.lower().split())),
        "token_f1": _f1(text, ref_text) if kind is not None else 0.0,
    }
    if task == "summary-reasoning":
        metrics["summary_ok"] = float(summary_problem(response) is None)
    return metrics


# -- the run ------------------------------------------------------------------------------------


def _read(paths: Sequence[str | os.PathLike[str]], limit: int | None) -> list[dict[str, Any]]:
    from harness.train.data import read_records

    rows: list[dict[str, Any]] = []
    for path in paths:
        for _, record in read_records(path):
            if limit is not None and len(rows) >= limit:
                return rows
            rows.append(record)
    return rows


async def _sample(backend: Any, items: list[dict[str, Any]], config: EvaluateConfig, progress: bool) -> list[Any]:
    from harness.backends.base import Request
    from harness.episode import Message, Sampling

    semaphore = asyncio.Semaphore(config.concurrency)
    done = 0

    async def one(index: int, item: dict[str, Any]) -> Any:
        nonlocal done
        sampling = Sampling(n=config.samples_per_task, temperature=config.temperature, top_p=config.top_p,
                            max_tokens=config.max_tokens, seed=config.seed + index)
        async with semaphore:
            result = await backend.generate([Request([Message(role="user", content=item["prompt"])], sampling)])
        done += 1
        if progress:
            print(f"\r{done}/{len(items)} prompts", end="", flush=True, file=sys.stderr)
        return result[0]

    try:
        return await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
    finally:
        if progress:
            print(file=sys.stderr)


def _table(means: dict[str, dict[str, float]], samples: dict[str, int]) -> str:
    metrics = sorted({m for values in means.values() for m in values})
    rows = ["| task | samples | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for task, values in means.items():
        cells = [f"{values[m]:.3f}" if m in values else "" for m in metrics]
        rows.append(f"| {task} | {samples[task]} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def evaluate(inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], config: EvaluateConfig, *,
             backend: Any = None, progress: bool = True) -> EvaluateReport:
    """Sample both tasks on the rows of `inputs` and write the results and their analysis into
    `output`. `backend` is a ready backend (by default one is made from the config)."""
    from harness.train.plots import bar_chart

    rows = _read(inputs, config.limit)
    items: list[dict[str, Any]] = []
    skipped = {task: 0 for task in config.tasks}
    for i, record in enumerate(rows):
        samples = evaluation_samples(record)
        for task in config.tasks:
            if task in samples:
                items.append({"row": i, "task": task, **samples[task]})
            else:
                skipped[task] += 1
    if not items:
        raise ValueError(f"0 of {len(rows)} rows give an evaluation sample for {', '.join(config.tasks)}: "
                         "the rows need a summary and extra_info.answer (and extra_info.question for "
                         "summary-reasoning)")
    owned = backend is None
    if owned:
        from harness.plugins import get

        kwargs = dict(config.backend_args)
        if config.model is not None:
            kwargs["model"] = config.model
        backend = get("backend", config.backend)(**kwargs)

    async def run() -> list[Any]:
        try:
            return await _sample(backend, items, config, progress)
        finally:
            if owned:
                await backend.aclose()

    completions = asyncio.run(run())
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    totals: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    with atomic_write(out / "results.jsonl") as f:
        for item, samples in zip(items, completions):
            for k, completion in enumerate(samples):
                metrics = score(item["task"], completion.text, item["reference"])
                f.write(json.dumps({**item, "sample": k, "response": completion.text,
                                    "finish_reason": completion.finish_reason,
                                    "completion_tokens": completion.completion_tokens, "metrics": metrics},
                                   ensure_ascii=False) + "\n")
                counts[item["task"]] = counts.get(item["task"], 0) + 1
                for name, value in metrics.items():
                    totals.setdefault(item["task"], {}).setdefault(name, 0.0)
                    totals[item["task"]][name] += value
    means = {task: {name: value / counts[task] for name, value in values.items()} for task, values in totals.items()}
    with atomic_write(out / "analysis.json") as f:
        json.dump({"rows": len(rows), "samples": counts, "skipped": skipped, "means": means,
                   "settings": {k: v for k, v in vars(config).items() if k != "backend_args"}}, f, indent=2)
    with atomic_write(out / "analysis.md") as f:
        f.write(_table(means, counts))
    bar_chart(means, out / "analysis.png", title="seed 002 evaluation", ylabel="mean over samples")
    return EvaluateReport(str(out), len(rows), counts, skipped, means)
