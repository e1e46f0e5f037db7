#!/usr/bin/env python3
"""Formats benchmark: seed 000 episodes → sft-standard in one streaming pass.

Writes a file of realistic seed 000 data-analysis episode records (the fixture episodes with
long code strings, stdout and hooks, each given its own id and padded to 2-12 KB), imports it
as episodes (`harness.importers`, untimed), then runs `harness.formats.format_file(SftStandard(),
…)` on the episodes in a fresh subprocess per input size, so
the peak RSS (from `os.wait4`) is the run's own; the wall time is measured in the child around
the formatting only. The same run on inputs of different sizes shows whether memory depends on
the input's size (it must not: one record is in memory at a time, plus the writer's buffer).

    .venv/bin/python bench/formats.py --quick       # 64 MB and 256 MB
    .venv/bin/python bench/formats.py               # 128 MB and 1 GB (decimal)

Figures go to docs/benchmarks.md ("Formats"). A benchmark, not a test: it exits 0 whatever the
figures, 1 only when a run crashes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from harness.importers.run import ImportConfig, import_files

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "formats" / "episodes_seed000.jsonl"
OUT = REPO / "bench" / "out"


def make_input(path: Path, target_bytes: int, seed: int = 0) -> int:
    """Seed 000 records until the file holds `target_bytes`; returns how many."""
    rng = random.Random(seed)
    templates = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
    templates = [t for t in templates if t.get("verified")]
    filler = "# pandas step: select, group, aggregate\n"
    n = written = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < target_bytes:
            record = json.loads(json.dumps(templates[n % len(templates)]))
            record["episode_id"] = f"bench-{n:09d}"
            trace = record.get("gold_trace") or record.get("teacher_gold_trace")
            for turn in trace["turns"]:
                pad = filler * rng.randint(20, 120)  # long code strings, as real episodes have
                turn["code"] = pad + (turn.get("code") or "")
                turn["execution"]["stdout"] = (turn["execution"].get("stdout") or "") + "0.5 " * rng.randint(0, 200)
            line = json.dumps(record, ensure_ascii=False) + "\n"
            f.write(line)
            written += len(line.encode("utf-8"))
            n += 1
    return n


CHILD = textwrap.dedent("""
    import json, sys, time
    from harness.formats import format_file
    from harness.formats.data_analysis import SftStandard
    src, dst = sys.argv[1], sys.argv[2]
    t = time.perf_counter()
    report = format_file(SftStandard(), src, dst)
    print(json.dumps({"records": report.records, "rows": report.rows, "seconds": time.perf_counter() - t}))
""")


def run_child(src: Path, dst: Path) -> dict:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(src), str(dst)], stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read()
    proc.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"child failed with status {status}")
    result = json.loads(out)
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="64 MB and 256 MB inputs")
    parser.add_argument("--sizes-mb", type=int, nargs="+", help="input sizes in MB (decimal)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files in bench/out/")
    args = parser.parse_args()
    sizes = args.sizes_mb or ([64, 256] if args.quick else [128, 1000])
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    print("| input | records | seconds | records/s | MB/s | peak RSS |")
    print("|---|---|---|---|---|---|")
    status = 0
    for mb in sizes:
        src, dst = OUT / f"seed000_{mb}mb.jsonl", OUT / f"seed000_{mb}mb_sft.jsonl"
        n = make_input(src, mb * 1_000_000)
        size = src.stat().st_size
        episodes = OUT / f"seed000_{mb}mb_episodes"
        import_files([src], episodes, ImportConfig(importer="seed000"))
        try:
            r = run_child(episodes / src.name, dst)
        except RuntimeError as err:
            print(f"| {mb} MB | crashed: {err} |")
            status = 1
            continue
        finally:
            if not args.keep:
                src.unlink(missing_ok=True)
                shutil.rmtree(episodes, ignore_errors=True)
        if not args.keep:
            dst.unlink(missing_ok=True)
        assert r["records"] == n
        print(f"| {size / 1e6:,.0f} MB | {n:,} | {r['seconds']:.1f} | {n / r['seconds']:,.0f} | "
              f"{size / 1e6 / r['seconds']:,.0f} | {r['peak_rss_mib']:,.0f} MiB |", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
