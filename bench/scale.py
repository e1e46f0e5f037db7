#!/usr/bin/env python3
"""Scale-out benchmark: one run of several shards on Luigi's central scheduler, taken by one
worker process and by two, side by side in one run.

A real `luigid` on 127.0.0.1 (its state in a temporary directory) and `luigi --module
luigi_tasks.rollouts GenerateRollouts … --workers 1` processes against it, as each node of a
cluster runs them (`--no-lock`, because here they share one machine). The run: Connections
puzzles on the scripted backend, whose every answer comes `--delay` seconds after it is asked
for — a stand-in for a model's latency, so that a shard's time is its turns' time, as on a GPU
node — `--shards` shards of `--episodes` episodes of 2 turns, one episode at a time per shard.

Each variant runs `--repeats` times, interleaved (alternating which goes first), each time with
another seed so the scheduler sees new tasks; the best time counts. Two figures per run:

- wall: from starting the worker processes until the last one exits (includes starting Python,
  importing the harness and scheduling: what a user waits for);
- shards: from the first shard's start to the last shard's end, as the scheduler recorded them
  (the part the workers share).

Run with the project's interpreter:

    .venv/bin/python bench/scale.py                # the figures in docs/benchmarks.md
    .venv/bin/python bench/scale.py --quick        # a smoke run

This is a benchmark, not a test: it prints figures and exits 0 whatever they are (it fails only
when a run does not complete).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

LUIGID = str(Path(sys.executable).with_name("luigid"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Luigid:
    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.log = open(home / "luigid.log", "wb")  # noqa: SIM115 - the server's log, closed when it stops
        self.process = subprocess.Popen(
            [LUIGID, "--address", "127.0.0.1", "--port", str(self.port), "--state-path", str(home / "state.pickle")],
            cwd=home, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.tasks("DONE")
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"luigid did not start: see {home / 'luigid.log'}") from None
                time.sleep(0.1)

    def tasks(self, status: str) -> dict[str, dict]:
        query = urllib.parse.urlencode({"data": json.dumps({"status": status, "upstream_status": "", "search": ""})})
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/task_list?{query}", timeout=10) as r:
            return json.load(r)["response"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def run(luigid: Luigid, work: Path, args: argparse.Namespace, workers: int, seed: int) -> dict[str, float]:
    """One run of the whole pipeline by `workers` worker processes; its two times."""
    data_dir = work / f"data-{seed}"
    command = [sys.executable, "-m", "luigi", "--module", "luigi_tasks.rollouts", "GenerateRollouts",
               "--env", "connections", "--backend", "scripted", "--seed", str(seed),
               "--backend-args", json.dumps({"responses": ["no guess", "still none"], "delay_seconds": args.delay}),
               "--max-turns", "2", "--limit", str(args.shards * args.episodes), "--num-shards", str(args.shards),
               "--concurrency", "1", "--data-dir", str(data_dir),
               "--scheduler-host", "127.0.0.1", "--scheduler-port", str(luigid.port), "--workers", "1", "--no-lock",
               "--log-level", "WARNING"]
    logs = [open(work / f"worker-{seed}-{i}.log", "wb") for i in range(workers)]  # noqa: SIM115 - closed when they exit
    started = time.time()  # the scheduler's clock: the same machine
    processes = [subprocess.Popen(command, cwd=work, stdout=log, stderr=subprocess.STDOUT) for log in logs]
    codes, exited = [], []
    for p in processes:
        codes.append(p.wait())
        exited.append(time.time())
    for log in logs:
        log.close()
    wall = max(exited) - started
    [manifest] = data_dir.glob("rollouts/*/manifest.json")
    episodes = json.loads(manifest.read_text())["totals"]["episodes"]
    if episodes != args.shards * args.episodes:
        raise RuntimeError(f"run {seed}: {episodes} episodes (exit statuses {codes}); see {work}")
    digest = manifest.parent.name.rsplit("-", 1)[1]
    shards = [t for task_id, t in luigid.tasks("DONE").items()
              if t["name"] == "GenerateRolloutShard" and task_id.endswith(digest)]
    ran_on = {t["worker_running"] for t in shards}
    first, last = min(t["time_running"] for t in shards), max(t["last_updated"] for t in shards)
    return {"wall": wall, "shards": last - first, "before": first - started, "after": max(exited) - last,
            "workers_used": len(ran_on)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--episodes", type=int, default=2, help="episodes per shard (2 turns each)")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per model turn")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="4 shards, 0.25 s turns, 1 repeat")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.shards, args.delay, args.repeats = 4, 0.25, 1
    serial = args.shards * args.episodes * 2 * args.delay
    print(f"{args.shards} shards x {args.episodes} episodes x 2 turns x {args.delay} s "
          f"= {serial:.1f} s of model time; {platform.node()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    results: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        luigid = Luigid(work)
        try:
            seed = 0
            for repeat in range(args.repeats):
                for workers in ((1, 2) if repeat % 2 == 0 else (2, 1)):
                    seed += 1
                    figures = run(luigid, work, args, workers, seed)
                    results[workers].append(figures)
                    print(f"  {workers} worker{'s' if workers > 1 else ''}: wall {figures['wall']:.2f} s = "
                          f"{figures['before']:.2f} s to the first shard + shards {figures['shards']:.2f} s + "
                          f"{figures['after']:.2f} s after the last; shards ran on {figures['workers_used']} "
                          "worker(s)")
        finally:
            luigid.stop()
    best = {w: {k: min(r[k] for r in runs) for k in ("wall", "shards", "before")} for w, runs in results.items()}
    print("\n| workers | best wall s | all wall s | best shards s | all shards s | to the first shard, s |")
    print("|---|---|---|---|---|---|")
    for w, runs in results.items():
        walls = ", ".join(f"{r['wall']:.2f}" for r in runs)
        spans = ", ".join(f"{r['shards']:.2f}" for r in runs)
        starts = ", ".join(f"{r['before']:.2f}" for r in runs)
        print(f"| {w} | {best[w]['wall']:.2f} | {walls} | {best[w]['shards']:.2f} | {spans} | {starts} |")
    speedup = {k: best[1][k] / best[2][k] for k in ("wall", "shards")}
    print(f"\nspeed-up of two workers over one: {speedup['wall']:.2f}x wall, {speedup['shards']:.2f}x shards "
          f"(load average now {os.getloadavg()[0]:.1f})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)}, "runs": results,
                                         "best": best, "speedup": speedup}, indent=2))


if __name__ == "__main__":
    main()
