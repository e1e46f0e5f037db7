#!/usr/bin/env python3
"""JSONL benchmark: fastjsonl (harness.jsonl) against orjson, msgspec and polars.

The task timed is the harness's everyday one: deduplicate rollouts by `/task/id`, keeping the
record with the highest `/reward` (ties: the first occurrence), and write the winning lines byte
for byte to an output file. Every variant runs in a fresh subprocess on the same warm file, so
its peak RSS (from `os.wait4`) is its own; wall time is measured inside the child around the
operation only (interpreter start-up and imports are not timed). Dedup outputs are checked
against each other (sorted per-line hashes) and a variant that disagrees is flagged.

Run with the project's interpreter:

    .venv/bin/python bench/jsonl.py --quick          # ~64 MB smoke run
    .venv/bin/python bench/jsonl.py                  # 1 GiB, 100 000 task ids
    .venv/bin/python bench/jsonl.py --json bench/out/jsonl.json

See docs/benchmarks.md for what each variant does and the latest figures. This is a
benchmark, not a test: it exits 0 whatever the figures, and 1 only when a variant crashes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SYNTHETIC = REPO / "tests" / "synthetic.py"
"""The synthetic episode generator, which lives with its other users, the tests."""
KEY = "/task/id"
SCORE = "/reward"
QUICK_SIZE_MB = 64
QUICK_UNIQUE_KEYS = 2000
GB = 1e9  # GB/s uses decimal gigabytes; RSS and file sizes use MiB

# name -> (group, what it does). Order is the run order and the table order.
VARIANTS: dict[str, tuple[str, str]] = {
    "fastjsonl-dedup-t1": (
        "dedup",
        "harness.jsonl.dedup(path, out, '/task/id', score='/reward', threads=1): Rust reads, "
        "validates and parses every line on one thread, keeps one entry per key, writes the "
        "winners byte-exact",
    ),
    "fastjsonl-dedup-t2": ("dedup", "the same with threads=2"),
    "orjson-dedup": (
        "dedup",
        "Python loop over binary lines: orjson.loads(line), key=str(rec['task']['id']), keep "
        "(reward, offset, length) of the best line per key; then the winners are copied with "
        "os.pread in input order (byte-exact)",
    ),
    "msgspec-dedup": (
        "dedup",
        "the same loop with msgspec.json.Decoder(Rec), Rec a Struct declaring only task: {id: str|int} "
        "and reward: float (msgspec skips every other field)",
    ),
    "polars-select": (
        "selection",
        "pl.scan_ndjson(schema={task: {id: str}, reward: f64}) + row index; winner per key = "
        "lowest row index among its max-reward rows. SELECTION ONLY: computes the winning row "
        "numbers, writes no output (polars cannot emit the original bytes)",
    ),
    "polars-dedup": (
        "dedup",
        "polars-select, then a second Python pass over the input writing the lines whose row number "
        "won (byte-exact output; reads the file twice)",
    ),
    "fastjsonl-scan-t1": ("reference", "harness.jsonl.scan(path, threads=1): validate every line, no output"),
    "fastjsonl-scan-t2": ("reference", "harness.jsonl.scan(path, threads=2)"),
    "orjson-parse": ("reference", "Python loop over binary lines, orjson.loads(line) each, nothing kept"),
    "python-lines": ("reference", "Python loop over binary lines, no parsing (the floor of any Python line loop)"),
}
DEDUP_VARIANTS = [n for n, (g, _) in VARIANTS.items() if g in ("dedup", "selection")]
PYTHON_BASELINES = ("orjson-dedup", "msgspec-dedup")


# ------------------------------------------------------------------------------------------
# Children: each runs in its own process and prints one JSON object on stdout.
# ------------------------------------------------------------------------------------------


FSYNC = os.environ.get("BENCH_JSONL_FSYNC") == "1"  # set by the parent for --fsync


def _finish(f: Any) -> None:
    """With --fsync, flush and sync an output before the clock stops, as fastjsonl does."""
    if FSYNC:
        f.flush()
        os.fsync(f.fileno())


def _write_winners(inp: str, out: str, winners: list[tuple[int, int]]) -> int:
    """Copy the lines at (offset, length), sorted by offset, from `inp` to `out`."""
    winners.sort()
    fd = os.open(inp, os.O_RDONLY)
    try:
        with open(out, "wb", buffering=1 << 20) as f:
            write = f.write
            pread = os.pread
            for off, n in winners:
                line = pread(fd, n, off)
                write(line)
                if not line.endswith(b"\n"):  # an unterminated last line
                    write(b"\n")
            _finish(f)
    finally:
        os.close(fd)
    return len(winners)


def child_orjson_dedup(inp: str, out: str) -> dict[str, Any]:
    from orjson import loads

    t0 = time.perf_counter()
    best: dict[str, tuple[float, int, int]] = {}
    get = best.get
    pos = 0
    records = 0
    with open(inp, "rb", buffering=1 << 20) as f:
        for line in f:
            n = len(line)
            rec = loads(line)
            key = str(rec["task"]["id"])
            r = rec["reward"]
            b = get(key)
            if b is None or r > b[0]:
                best[key] = (r, pos, n)
            pos += n
            records += 1
    t1 = time.perf_counter()
    written = _write_winners(inp, out, [(off, n) for _, off, n in best.values()])
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "phases": {"select": t1 - t0, "write": t2 - t1},
            "records": records, "written": written, "unique_keys": len(best)}


def child_msgspec_dedup(inp: str, out: str) -> dict[str, Any]:
    import msgspec

    # defstruct, not a class body: this module's annotations are strings (PEP 563) that msgspec
    # could not resolve for classes local to a function.
    Task = msgspec.defstruct("Task", [("id", str | int)])
    Rec = msgspec.defstruct("Rec", [("task", Task), ("reward", float)])

    decode = msgspec.json.Decoder(Rec).decode
    t0 = time.perf_counter()
    best: dict[str, tuple[float, int, int]] = {}
    get = best.get
    pos = 0
    records = 0
    with open(inp, "rb", buffering=1 << 20) as f:
        for line in f:
            n = len(line)
            rec = decode(line)
            key = str(rec.task.id)
            r = rec.reward
            b = get(key)
            if b is None or r > b[0]:
                best[key] = (r, pos, n)
            pos += n
            records += 1
    t1 = time.perf_counter()
    written = _write_winners(inp, out, [(off, n) for _, off, n in best.values()])
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "phases": {"select": t1 - t0, "write": t2 - t1},
            "records": records, "written": written, "unique_keys": len(best)}


def _polars_winners(inp: str) -> tuple[list[int], int]:
    import polars as pl

    schema = {"task": pl.Struct({"id": pl.String}), "reward": pl.Float64}
    lf = (
        pl.scan_ndjson(inp, schema=schema)
        .with_row_index("i")
        .select(pl.col("i"), pl.col("task").struct.field("id").alias("key"), pl.col("reward"))
    )
    winners = (
        lf.filter(pl.col("reward") == pl.col("reward").max().over("key"))
        .group_by("key")
        .agg(pl.col("i").min())
        .sort("i")
        .collect()
    )
    return winners.get_column("i").to_list(), winners.height


def child_polars_select(inp: str, out: str) -> dict[str, Any]:
    import polars as pl  # noqa: F401 - imported before the clock starts

    t0 = time.perf_counter()
    rows, n = _polars_winners(inp)
    t1 = time.perf_counter()
    # Untimed: the winning row numbers, so that the parent can check the selection.
    with open(out, "w") as f:
        f.write("".join(f"{i}\n" for i in rows))
    return {"seconds": t1 - t0, "written": n, "unique_keys": n, "output_kind": "row-indices"}


def child_polars_dedup(inp: str, out: str) -> dict[str, Any]:
    import polars as pl  # noqa: F401

    t0 = time.perf_counter()
    rows, n = _polars_winners(inp)
    t1 = time.perf_counter()
    wanted = bytearray(rows[-1] + 1 if rows else 0)
    for i in rows:
        wanted[i] = 1
    limit = len(wanted)
    with open(inp, "rb", buffering=1 << 20) as f, open(out, "wb", buffering=1 << 20) as g:
        write = g.write
        for i, line in enumerate(f):
            if i >= limit:
                break
            if wanted[i]:
                write(line if line.endswith(b"\n") else line + b"\n")
        _finish(g)
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "phases": {"select": t1 - t0, "write": t2 - t1},
            "written": n, "unique_keys": n}


def _child_fastjsonl_dedup(threads: int):
    def run(inp: str, out: str) -> dict[str, Any]:
        from harness import jsonl

        t0 = time.perf_counter()
        rep = jsonl.dedup(inp, out, KEY, score=SCORE, threads=threads)
        t1 = time.perf_counter()
        return {"seconds": t1 - t0, "records": rep.records, "written": rep.written,
                "unique_keys": rep.unique_keys, "malformed": rep.malformed}

    return run


def _child_fastjsonl_scan(threads: int):
    def run(inp: str, out: str) -> dict[str, Any]:
        from harness import jsonl

        t0 = time.perf_counter()
        rep = jsonl.scan(inp, threads=threads)
        t1 = time.perf_counter()
        return {"seconds": t1 - t0, "records": rep.records, "malformed": rep.malformed}

    return run


def child_orjson_parse(inp: str, out: str) -> dict[str, Any]:
    from orjson import loads

    t0 = time.perf_counter()
    records = 0
    with open(inp, "rb", buffering=1 << 20) as f:
        for line in f:
            loads(line)
            records += 1
    return {"seconds": time.perf_counter() - t0, "records": records}


def child_python_lines(inp: str, out: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    records = 0
    with open(inp, "rb", buffering=1 << 20) as f:
        for _ in f:
            records += 1
    return {"seconds": time.perf_counter() - t0, "records": records}


def child_generate(inp: str, out: str, size_mb: int, unique_keys: int, seed: int) -> dict[str, Any]:
    sys.path.insert(0, str(SYNTHETIC.parent))
    from synthetic import write_synthetic_episodes

    t0 = time.perf_counter()
    stats = write_synthetic_episodes(inp, target_bytes=size_mb << 20, unique_tasks=unique_keys, seed=seed)
    return {"seconds": time.perf_counter() - t0, "records": stats.records, "bytes": stats.bytes,
            "unique_keys": stats.unique_tasks}


CHILDREN = {
    "fastjsonl-dedup-t1": _child_fastjsonl_dedup(1),
    "fastjsonl-dedup-t2": _child_fastjsonl_dedup(2),
    "orjson-dedup": child_orjson_dedup,
    "msgspec-dedup": child_msgspec_dedup,
    "polars-select": child_polars_select,
    "polars-dedup": child_polars_dedup,
    "fastjsonl-scan-t1": _child_fastjsonl_scan(1),
    "fastjsonl-scan-t2": _child_fastjsonl_scan(2),
    "orjson-parse": child_orjson_parse,
    "python-lines": child_python_lines,
}


def run_child(args: argparse.Namespace) -> int:
    if args.child == "generate":
        result = child_generate(args.input, "", args.size_mb, args.unique_keys, args.seed)
    else:
        result = CHILDREN[args.child](args.input, args.output)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


# ------------------------------------------------------------------------------------------
# Spawning. On Linux a process's ru_maxrss includes the resident set of the address space it
# exec'd from: a child started by a 500 MB parent reports at least 500 MB, even `/bin/true`.
# So the children are started by a launcher, a small process the parent starts first thing
# (before it reads or hashes anything); a child's peak RSS is then floored only by the
# launcher's own few MiB, less than any Python child's interpreter.
# ------------------------------------------------------------------------------------------


def _vm_hwm_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# The launcher's whole program: a bare interpreter (-S -I) with a handful of modules, a few MiB.
LAUNCHER = r"""
import json, os, subprocess, sys, time

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0

sys.stdout.write(json.dumps({"launcher_peak_rss_mib": hwm()}) + "\n")
sys.stdout.flush()
for request in sys.stdin:
    req = json.loads(request)
    t0 = time.perf_counter()
    proc = subprocess.Popen(req["cmd"], stdout=subprocess.PIPE, env=req["env"], close_fds=True)
    stdout = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    reply = {
        "exit_code": proc.returncode,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "user_seconds": usage.ru_utime,
        "sys_seconds": usage.ru_stime,
        "process_seconds": time.perf_counter() - t0,
        "stdout": stdout.decode(errors="replace"),
        "launcher_peak_rss_mib": hwm(),
    }
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
"""


class Launcher:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-S", "-I", "-c", LAUNCHER],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.peak_rss_mib = json.loads(self.proc.stdout.readline())["launcher_peak_rss_mib"]

    def spawn(self, child: str, extra: list[str], fsync: bool = False) -> dict[str, Any]:
        """Run this script as `--child CHILD` in a fresh process; its result plus wall/RSS/CPU."""
        assert self.proc.stdout is not None and self.proc.stdin is not None
        cmd = [sys.executable, os.path.abspath(__file__), "--child", child, *extra]
        env = {**os.environ, "BENCH_JSONL_FSYNC": "1" if fsync else "0"}
        self.proc.stdin.write(json.dumps({"cmd": cmd, "env": env}) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            return {"exit_code": -1, "error": "the launcher died"}
        info = json.loads(reply)
        stdout = info.pop("stdout")
        self.peak_rss_mib = max(self.peak_rss_mib, info.pop("launcher_peak_rss_mib"))
        if info["exit_code"] != 0:
            info["error"] = f"exited with {info['exit_code']}"
            return info
        try:
            info.update(json.loads(stdout.strip().splitlines()[-1]))
        except (ValueError, IndexError) as exc:
            info["exit_code"] = -1
            info["error"] = f"unreadable child output: {exc}: {stdout[-500:]!r}"
        return info

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def data_path(data_dir: Path, size_mb: int, unique_keys: int, seed: int) -> Path:
    # The generator's source is part of the name, so a changed generator makes a new file.
    gen = hashlib.sha256(SYNTHETIC.read_bytes()).hexdigest()[:8]
    return data_dir / f"episodes-{size_mb}MiB-{unique_keys}keys-seed{seed}-gen{gen}.jsonl"


def warm_up(path: Path) -> float:
    buf = bytearray(8 << 20)
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass
    return time.perf_counter() - t0


def output_digest(path: Path, input_path: Path, kind: str) -> tuple[str, int]:
    """(hash of the sorted per-line hashes, line count) of a dedup output.

    For `row-indices` outputs (polars-select) the lines are those rows of the input.
    """
    digests: list[bytes] = []
    if kind == "row-indices":
        with open(path) as f:
            rows = {int(x) for x in f}
        with open(input_path, "rb", buffering=1 << 20) as f:
            for i, line in enumerate(f):
                if i in rows:
                    if not line.endswith(b"\n"):
                        line += b"\n"
                    digests.append(hashlib.blake2b(line, digest_size=16).digest())
    else:
        with open(path, "rb", buffering=1 << 20) as f:
            for line in f:
                digests.append(hashlib.blake2b(line, digest_size=16).digest())
    digests.sort()
    return hashlib.blake2b(b"".join(digests), digest_size=16).hexdigest(), len(digests)


def machine_info() -> dict[str, Any]:
    model = "unknown"
    mem = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass

    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    so = sorted((REPO / "python/harness").glob("_fastjsonl*.so"))
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": model,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "orjson": version("orjson"),
        "msgspec": version("msgspec"),
        "polars": version("polars"),
        "fastjsonl_so": (f"{so[0].name} sha256:{hashlib.sha256(so[0].read_bytes()).hexdigest()[:12]} "
                         f"built {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(so[0].stat().st_mtime))} UTC")
        if so else "not found",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=textwrap.fill(__doc__.split("\n\n")[0] + " Times deduplication by /task/id (best /reward "
                                  "wins) on one synthetic rollout file, one fresh subprocess per variant.", 100),
        epilog="variants (kind: dedup = byte-exact output, selection = winners only, reference = no dedup):\n"
        + "\n".join(f"  {n} [{g}]:\n" + textwrap.fill(d, 100, initial_indent="    ", subsequent_indent="    ")
                    for n, (g, d) in VARIANTS.items())
        + "\n\nexit status: 0 whatever the figures (a benchmark, not a test); 1 if a variant crashes.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--size-mb", type=int, default=None,
                   help="size of the generated input in MiB (default 1024; 64 with --quick)")
    p.add_argument("--unique-keys", type=int, default=None,
                   help=f"number of distinct /task/id values (default 100000; {QUICK_UNIQUE_KEYS} with --quick, "
                   "so that keys repeat in the small file)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: {QUICK_SIZE_MB} MiB input and {QUICK_UNIQUE_KEYS} keys unless "
                   "--size-mb/--unique-keys say otherwise")
    p.add_argument("--data-dir", type=Path, default=REPO / "bench" / "out",
                   help="where the input (reused when a file with the same parameters and generator exists) "
                   "and the temporary outputs go; bench/out is git-ignored (default %(default)s)")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help="comma-separated variants to run, in this order (default: all, as listed below)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run every variant this many times (round-robin) and report the fastest run "
                   "and the highest peak RSS (default %(default)s)")
    p.add_argument("--fsync", action="store_true",
                   help="make the Python dedup variants (orjson, msgspec, polars-dedup) fsync their output before "
                   "their clock stops; fastjsonl always does (it syncs a temporary file and renames it into "
                   "place), the Python loops by default do not")
    p.add_argument("--keep-outputs", action="store_true",
                   help="keep each variant's output file in --data-dir instead of deleting it after the check")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write machine info, parameters and every figure to PATH as JSON")
    p.add_argument("--child", choices=[*VARIANTS, "generate"], default=None,
                   help="internal: run one variant (or the generator) in this process and print its result "
                   "as JSON; the parent has each variant started this way by a small launcher process, so "
                   "that a variant's peak RSS is not floored by the parent's")
    p.add_argument("--input", default=None, help="internal, with --child: the input file")
    p.add_argument("--output", default=None, help="internal, with --child: the output file")
    args = p.parse_args(argv)

    if args.size_mb is None:
        args.size_mb = QUICK_SIZE_MB if args.quick else 1024
    if args.unique_keys is None:
        args.unique_keys = QUICK_UNIQUE_KEYS if args.quick else 100_000
    if args.child:
        return run_child(args)

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")

    launcher = Launcher()  # first, while this process is small
    try:
        return _main(args, launcher)
    finally:
        launcher.close()


def _main(args: argparse.Namespace, launcher: Launcher) -> int:
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    info = machine_info()
    print(f"machine: {info['cores']} cores ({info['usable_cores']} usable), {info['cpu_model']}, {info['memory']} RAM, "
          f"Linux {info['kernel']}; load average {info['loadavg_at_start']} (other work skews the figures)")
    print(f"versions: Python {info['python']}, orjson {info['orjson']}, msgspec {info['msgspec']}, "
          f"polars {info['polars']}; fastjsonl {info['fastjsonl_so']}")
    print(f"children are started by a launcher process of {launcher.peak_rss_mib:.0f} MiB peak RSS: the floor of "
          "every peak RSS below (Linux counts the address space a process exec'd from)")

    # 1. Input.
    args.data_dir.mkdir(parents=True, exist_ok=True)
    path = data_path(args.data_dir, args.size_mb, args.unique_keys, args.seed)
    gen: dict[str, Any] | None = None
    if path.exists():
        print(f"input: reusing {path}")
    else:
        print(f"input: generating {path} ({args.size_mb} MiB, {args.unique_keys} keys, seed {args.seed}) ...",
              flush=True)
        gen = launcher.spawn("generate", ["--input", str(path), "--size-mb", str(args.size_mb),
                                 "--unique-keys", str(args.unique_keys), "--seed", str(args.seed)])
        if gen["exit_code"] != 0:
            print(f"generation failed: {gen.get('error')}", file=sys.stderr)
            return 1
        print(f"  {gen['records']} records, {gen['bytes']} bytes in {gen['seconds']:.1f} s")
    size = path.stat().st_size
    with open(path, "rb") as f:
        n_lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(8 << 20), b""))
    print(f"input: {size / 2**20:.0f} MiB, {n_lines} lines, {args.unique_keys} task ids requested")

    # 2. Warm cache, then the variants.
    print(f"warm-up read: {warm_up(path):.2f} s (untimed; nothing is dropped from the page cache afterwards)")
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    checks: dict[str, tuple[str, int]] = {}
    crashed = False
    for round_ in range(args.repeat):
        for v in variants:
            out = args.data_dir / f"out-{v}.jsonl"
            if out.exists():
                out.unlink()
            label = f"[{round_ + 1}/{args.repeat}] " if args.repeat > 1 else ""
            print(f"{label}{v} ...", end=" ", flush=True)
            r = launcher.spawn(v, ["--input", str(path), "--output", str(out)], fsync=args.fsync)
            runs[v].append(r)
            if r["exit_code"] != 0:
                crashed = True
                print(f"CRASHED: {r.get('error')}")
                continue
            print(f"{r['seconds']:.2f} s, {size / r['seconds'] / GB:.2f} GB/s, peak RSS {r['peak_rss_mib']:.0f} MiB, "
                  f"CPU {r['cpu_seconds']:.1f} s", flush=True)
            if v in DEDUP_VARIANTS and v not in checks and out.exists():
                checks[v] = output_digest(out, path, r.get("output_kind", "lines"))
            if out.exists() and not args.keep_outputs:
                out.unlink()

    # 3. Results.
    results: dict[str, dict[str, Any]] = {}
    for v, rs in runs.items():
        ok = [r for r in rs if r["exit_code"] == 0]
        if not ok:
            results[v] = {"crashed": True, "error": rs[0].get("error")}
            continue
        best = min(ok, key=lambda r: r["seconds"])
        results[v] = {
            **{k: best[k] for k in best if k not in ("exit_code",)},
            "peak_rss_mib": max(r["peak_rss_mib"] for r in ok),
            "gb_per_s": size / best["seconds"] / GB,
            "all_seconds": [r["seconds"] for r in ok],
            "crashed": len(ok) < len(rs),
        }

    # Output check: the most common digest is the reference (orjson-dedup's wins a tie).
    if checks:
        counts = Counter(d for d in checks.values())
        top = max(counts.values())
        candidates = [d for d, c in counts.items() if c == top]
        ref = checks["orjson-dedup"] if "orjson-dedup" in checks and checks["orjson-dedup"] in candidates \
            else candidates[0]
        for v, d in checks.items():
            results[v]["output_hash"] = d[0]
            results[v]["output_lines"] = d[1]
            results[v]["output_ok"] = d == ref if len(checks) > 1 else None

    base_name = min((v for v in PYTHON_BASELINES if v in results and not results[v].get("crashed")),
                    key=lambda v: results[v]["seconds"], default=None)
    base = results[base_name]["seconds"] if base_name else None

    headers = ["variant", "kind", "seconds", "GB/s", "peak RSS MiB", "CPU user+sys s", f"x vs {base_name or 'Python'}",
               "output"]
    rows = []
    for v in variants:
        r = results[v]
        if r.get("crashed") and "seconds" not in r:
            rows.append([v, VARIANTS[v][0], "CRASHED", "-", "-", "-", "-", "-"])
            continue
        ok = r.get("output_ok")
        output = {True: "same", False: "DIFFERS", None: "n/a"}[ok] if v in checks else "-"
        if v == "polars-select" and v in checks:
            output += " (selection only, no byte-exact output)"
        rows.append([v, VARIANTS[v][0], fmt(r["seconds"], ".2f"), fmt(r["gb_per_s"], ".2f"),
                     fmt(r["peak_rss_mib"], ".0f"), f"{r['user_seconds']:.2f}+{r['sys_seconds']:.2f}",
                     fmt(base / r["seconds"] if base else None, ".2f"), output])
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    print()
    print(f"input: {path.name}: {size:,} bytes ({size / 2**20:.0f} MiB), {n_lines:,} records; "
          f"best of {args.repeat} run(s) per variant; GB/s = input bytes / seconds / 1e9; "
          f"Python outputs {'fsynced' if args.fsync else 'not fsynced'} (fastjsonl always syncs)")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(x).ljust(w) if i in (0, 1, 7) else str(x).rjust(w) for i, (x, w) in
                        enumerate(zip(row, widths))))
    for v in variants:
        ph = results[v].get("phases")
        if ph:
            print(f"  {v} phases: " + ", ".join(f"{k} {s:.2f} s" for k, s in ph.items()))
    for v in variants:
        if v in checks:
            dedup_info = results[v]
            print(f"  winners: {dedup_info.get('output_lines'):,} lines of {n_lines:,} records "
                  f"({n_lines / max(1, dedup_info.get('output_lines') or 1):.2f} records per key), "
                  f"sorted-line-hash {dedup_info.get('output_hash')}")
            break

    for d, sc in (("fastjsonl-dedup-t1", "fastjsonl-scan-t1"), ("fastjsonl-dedup-t2", "fastjsonl-scan-t2")):
        if "seconds" in results.get(d, {}) and "seconds" in results.get(sc, {}):
            rd, rs = results[d], results[sc]
            print(
                f"  {d} - {sc}: {rd['seconds'] - rs['seconds']:+.2f} s wall, "
                f"{rd['user_seconds'] - rs['user_seconds']:+.2f} s user, "
                f"{rd['sys_seconds'] - rs['sys_seconds']:+.2f} s sys "
                f"(what dedup adds to validating: key/score lookup, the per-key map, copying "
                f"{rd.get('written', 0):,} winning lines and syncing the output)"
            )
    print(f"  load average at the end: {[round(x, 2) for x in os.getloadavg()]}; RSS floor (launcher) "
          f"{launcher.peak_rss_mib:.0f} MiB")

    # 4. Targets.
    print()
    verdicts: list[dict[str, Any]] = []

    def verdict(name: str, ok: bool | None, text: str) -> None:
        tag = "PASS" if ok else "FAIL" if ok is not None else "N/A "
        verdicts.append({"target": name, "pass": ok, "text": text})
        print(f"{tag}  {text}")

    t1 = results.get("fastjsonl-dedup-t1", {})
    t2 = results.get("fastjsonl-dedup-t2", {})
    if "seconds" in t1 and base:
        ratio = base / t1["seconds"]
        verdict("speedup_vs_python", ratio >= 3.0,
                f"fastjsonl dedup threads=1 is {ratio:.2f}x the best of orjson/msgspec ({base_name} {base:.2f} s vs "
                f"{t1['seconds']:.2f} s); target >= 3x")
    else:
        verdict("speedup_vs_python", None, "fastjsonl dedup threads=1 vs orjson/msgspec: not run or crashed")
    if "seconds" in t1:
        verdict(
            "throughput_t1",
            t1["gb_per_s"] >= 1.0,
            f"fastjsonl dedup threads=1 runs at {t1['gb_per_s']:.2f} GB/s ({t1['seconds']:.2f} s); target >= 1 GB/s",
        )
    else:
        verdict("throughput_t1", None, "fastjsonl dedup threads=1: not run or crashed")
    if "seconds" in t1 and "seconds" in t2:
        s = t1["seconds"] / t2["seconds"]
        verdict("thread_scaling", s >= 1.7,
                f"fastjsonl dedup threads=2 vs threads=1: {s:.2f}x ({t1['seconds']:.2f} s -> {t2['seconds']:.2f} s; "
                f"CPU {t1['cpu_seconds']:.1f} s -> {t2['cpu_seconds']:.1f} s on {info['usable_cores']} usable cores); "
                "target near-linear, >= 1.7x")
    else:
        verdict("thread_scaling", None, "fastjsonl dedup threads=2 vs threads=1: not run or crashed")
    mems = [r["peak_rss_mib"] for r in (t1, t2) if "peak_rss_mib" in r]
    if mems:
        full = args.size_mb >= 1024 and args.unique_keys >= 100_000
        note = "" if full else (f" [this input is {args.size_mb} MiB / {args.unique_keys} keys; the target is set for "
                                "1 GiB / 100 000 keys]")
        verdict("memory", max(mems) < 200,
                f"fastjsonl dedup peak RSS {max(mems):.0f} MiB (threads=1 {t1.get('peak_rss_mib', 0):.0f}, "
                f"threads=2 {t2.get('peak_rss_mib', 0):.0f}); target < 200 MB{note}")
    else:
        verdict("memory", None, "fastjsonl dedup peak RSS: not run or crashed")
    if len(checks) > 1:
        bad = [v for v in checks if results[v].get("output_ok") is False]
        verdict("outputs_agree", not bad,
                f"dedup outputs agree ({', '.join(checks)})" if not bad else f"dedup outputs DIFFER: {', '.join(bad)}")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "machine": info,
            "params": {"size_mb": args.size_mb, "unique_keys": args.unique_keys, "seed": args.seed,
                       "fsync": args.fsync,
                       "repeat": args.repeat, "input": str(path), "input_bytes": size, "records": n_lines},
            "generation": gen,
            "baseline": base_name,
            "launcher_peak_rss_mib": launcher.peak_rss_mib,
            "parent_peak_rss_mib": _vm_hwm_mib(),
            "results": results,
            "verdicts": verdicts,
        }, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
