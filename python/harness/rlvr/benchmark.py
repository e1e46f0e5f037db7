"""The pass@k benchmark over ready backends, in memory: N samples per problem from each
checkpoint (a `Backend` object), verified in the sandbox, unbiased pass@k per problem averaged
over problems; a JSON report and a PNG plot.

    report = run_benchmark({"base": backend, "cycle-1": tuned}, load_problems(path), verifier, n=10)
    write_report(report, "passk.json"); plot_report(report, "passk.png")

The command line (`harness rlvr passk`, and `python -m harness.rlvr.benchmark`, its alias) and
the Luigi tasks measure checkpoints through the engine and the verify stage instead, with every
sample on disk and resumable: see harness.rlvr.checkpoints.

Samples whose verification ended in `no_verdict` (a sandbox failure) are left out of n for their
problem and counted in the report, never scored as failures.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from harness.atomic import atomic_write
from harness.backends.base import Backend, Request
from harness.episode import Message, Sampling, utc_now
from harness.rlvr.passk import mean_pass_at_k

SYSTEM_PROMPT = "You are an expert Python programmer. Write the complete function in a ```python block."
DEFAULT_KS = (1, 5, 10)


def load_problems(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Problems (task_id and prompt) of a prepared file, in file order."""
    problems = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            for field in ("task_id", "prompt"):
                if field not in row:
                    raise ValueError(f"{path}:{number}: missing field {field!r}")
            problems.append(row)
    return problems


def sample_checkpoint(
    backend: Backend, problems: Sequence[dict[str, Any]], *, n: int, temperature: float,
    max_tokens: int, seed: int, system_prompt: str,
) -> list[list[str]]:
    """`n` completions per problem, in problem order."""
    sampling = Sampling(n=n, temperature=temperature, max_tokens=max_tokens, seed=seed)
    requests = [
        Request([Message(role="system", content=system_prompt),
                 Message(role="user", content=p["prompt"])], sampling)
        for p in problems
    ]
    completions = asyncio.run(backend.generate(requests))
    return [[c.text for c in per_problem] for per_problem in completions]


def score_checkpoint(
    verifier: Any, problems: Sequence[dict[str, Any]], samples: Sequence[Sequence[str]],
    ks: Sequence[int],
) -> dict[str, Any]:
    codes = [text for per_problem in samples for text in per_problem]
    ids = [p["task_id"] for p, per_problem in zip(problems, samples) for _ in per_problem]
    results = iter(verifier.verify_batch(codes, ids))
    rows = []
    for problem, per_problem in zip(problems, samples):
        verdicts = [next(results).verdict for _ in per_problem]
        rows.append({"task_id": problem["task_id"],
                     "n": sum(v != "no_verdict" for v in verdicts),
                     "c": verdicts.count("pass"),
                     "no_verdict": verdicts.count("no_verdict")})
    counts = [(r["n"], r["c"]) for r in rows]
    return {
        "pass_at_k": {f"pass@{k}": mean_pass_at_k(counts, k) for k in ks
                      if mean_pass_at_k(counts, k) is not None},
        "samples": len(codes),
        "no_verdict": sum(r["no_verdict"] for r in rows),
        "problems": rows,
    }


def run_benchmark(
    checkpoints: dict[str, Backend], problems: Sequence[dict[str, Any]], verifier: Any, *,
    n: int = 10, temperature: float = 0.7, ks: Sequence[int] = DEFAULT_KS,
    max_tokens: int = 1024, seed: int = 0, system_prompt: str = SYSTEM_PROMPT,
) -> dict[str, Any]:
    """The report: settings, and per checkpoint (in the order given) its pass@k for every
    k <= n and its per-problem counts."""
    report: dict[str, Any] = {
        "created_at": utc_now(), "n": n, "temperature": temperature, "ks": list(ks),
        "max_tokens": max_tokens, "seed": seed, "problems": len(problems),
        "verifier": getattr(verifier, "name", type(verifier).__name__), "checkpoints": [],
    }
    for label, backend in checkpoints.items():
        samples = sample_checkpoint(backend, problems, n=n, temperature=temperature,
                                    max_tokens=max_tokens, seed=seed, system_prompt=system_prompt)
        scored = score_checkpoint(verifier, problems, samples, ks)
        report["checkpoints"].append({"label": label, "model": backend.model_name,
                                      "backend": backend.name, **scored})
    return report


def plot_report(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """pass@k per checkpoint, one line per k, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [c["label"] for c in report["checkpoints"]]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(labels) + 2), 3.5))
    for k in report["ks"]:
        key = f"pass@{k}"
        ys = [c["pass_at_k"].get(key) for c in report["checkpoints"]]
        if any(y is not None for y in ys):
            ax.plot(labels, [float("nan") if y is None else y for y in ys], marker="o", label=key)
    ax.set_ylim(0, 1)
    ax.set_ylabel("pass@k")
    ax.set_xlabel("checkpoint")
    ax.set_title(f"{report['verifier']}: {report['problems']} problems, n={report['n']}, "
                 f"T={report['temperature']}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_write(path, binary=True) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)


def write_report(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    with atomic_write(path) as f:
        json.dump(report, f, indent=2)
        f.write("\n")


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.rlvr.benchmark`: an alias of `harness rlvr passk`."""
    from harness.cli.rlvr import passk

    passk.main(args=argv if argv is not None else sys.argv[1:], prog_name="python -m harness.rlvr.benchmark")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
