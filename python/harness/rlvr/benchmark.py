"""The pass@k benchmark: N samples per problem from each checkpoint (a backend), verified in the
sandbox, unbiased pass@k per problem averaged over problems; a JSON report and a PNG plot.

    python -m harness.rlvr.benchmark --problems data/rlvr/humaneval_full.jsonl \
        --verifier humaneval --n 10 --temperature 0.7 --k 1 --k 5 --k 10 \
        --checkpoint base='{"backend": "vllm", "args": {"model": "Qwen/Qwen2.5-Coder-7B"}}' \
        --checkpoint raft1='{"backend": "vllm", "args": {"model": "models/raft/cycle_1"}}' \
        --output bench/passk.json --plot bench/passk.png

Samples whose verification ended in `no_verdict` (a sandbox failure) are left out of n for their
problem and counted in the report, never scored as failures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Sequence
from pathlib import Path
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


def build_checkpoints(specs: dict[str, dict[str, Any]]) -> dict[str, Backend]:
    """Backends from {label: {"backend": name, "args": {...}}} through the plugin registry."""
    from harness import plugins

    return {label: plugins.get("backend", spec["backend"])(**spec.get("args", {}))
            for label, spec in specs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.rlvr.benchmark")
    parser.add_argument("--problems", required=True, help="a prepared *_full.jsonl file")
    parser.add_argument("--verifier", default="humaneval", help="verifier plugin name")
    parser.add_argument("--checkpoint", action="append", required=True, metavar="LABEL=JSON",
                        help='e.g. base=\'{"backend": "vllm", "args": {"model": "..."}}\'')
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--k", type=int, action="append", dest="ks")
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", required=True)
    parser.add_argument("--plot")
    args = parser.parse_args(argv)
    from harness import plugins

    specs = {}
    for item in args.checkpoint:
        label, _, spec = item.partition("=")
        specs[label] = json.loads(spec)
    problems = load_problems(args.problems)
    verifier = plugins.get("verifier", args.verifier)(args.problems)
    report = run_benchmark(build_checkpoints(specs), problems, verifier, n=args.n,
                           temperature=args.temperature, ks=args.ks or DEFAULT_KS,
                           max_tokens=args.max_tokens, seed=args.seed)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write_report(report, args.output)
    if args.plot:
        plot_report(report, args.plot)
    for c in report["checkpoints"]:
        print(c["label"], " ".join(f"{k}={v:.3f}" for k, v in c["pass_at_k"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
