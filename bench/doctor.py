#!/usr/bin/env python3
"""Doctoring benchmark: selection across loops, the full selection against the seed's loop, and
doctoring on the embedded model against regenerating from scratch.

Part `selection` (seed-shaped results files written as seed 001 writes them: `json.dumps`, so
ASCII escapes for every non-ASCII character, and `\\n` and `\\"` all through the reasoning):

- `cold`: `harness.doctor.results.analyze` over the first FILES files with no index: the full
  selection (best rollout per puzzle, good or bad, salvage facts), what loop 1 does;
- `cold+1`: the same over FILES + 1 files, still without indexes: what every loop would cost
  without them (a full re-read);
- `warm+1`: FILES + 1 files after `cold` over the first FILES left their indexes and its choices
  (harness.doctor.choices) behind: loop 2 after one new file. The target: `warm+1` ≤ a tenth of
  `cold+1`. Its choices are checked against `cold+1`'s, puzzle by puzzle;
- `orjson-seed-loop`: the seed's own selection in a Python loop over the first FILES files:
  `orjson.loads` every line, `str(info.puzzle_id)`, validity, won, mean assistant tokens
  (whitespace words, the plugin's default), group, sort each group by (reward desc, mean
  tokens asc), first valid-and-won else the top one, salvage quality of the bad ones. It keeps
  a small tuple per record (not the record), which favours it. The target: `cold` at least 3×
  faster. Its choices are checked against `cold`'s, puzzle by puzzle;
- references on the same files: `fastjsonl-columns` (the fields the index reads, through
  `harness.jsonl.columns`, on every core), `fastjsonl-dedup-t1` (`harness.jsonl.dedup` by `/info/puzzle_id`,
  score `/reward`, one thread), `fastjsonl-scan-t1`.

Each variant runs in a fresh process on files already in the page cache; the time is measured
inside it, around the work only.

Part `model`: Connections puzzles from the bank (3 groups of 2, so that a 135M model can win
some) and a results directory in the seed's shape where the first puzzle was won and every other
one lost after a correct first guess and then replies without a guess tag (salvageable). (Left to
itself, SmolLM2-135M writes no `<guess>` tag at all: every fresh game is invalid from its first
turn, and nothing of it can be kept.) The whole pipeline runs on the embedded model
(`TransformersBackend()`, small limits): `harness.doctor.pipeline.connections_sft`, the loops then
reduction and collation. Arm A is the loop: per loop, the share of the doctored puzzles that
turned good and the completion tokens the doctoring spent per puzzle it turned good. Arm B
regenerates the puzzles each loop doctored from scratch, sample after sample, until it has spent
the same tokens, and counts the ones that turned good.

    .venv/bin/python bench/doctor.py                         # small: 20 × 2.5 MB, a 4-puzzle model run (slow on a CPU)
    .venv/bin/python bench/doctor.py --file-mb 50            # 20 × 50 MB ≈ 200 000 rollouts
    .venv/bin/python bench/doctor.py --parts model --model-puzzles 12 --model-loops 4
    .venv/bin/python bench/doctor.py --json bench/out/doctor.json

A benchmark, not a test: it exits 0 whatever the figures, 1 only when a variant crashes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
RECORD_BYTES = 5000  # about 200 000 rollouts in 20 files of 50 MB

# -- the input --------------------------------------------------------------------------------

PHRASES = ["Let's", "think", "about", "\"this\"", "group:", "café", "naïve", "words\n", "maybe", "the", "—",
           "seems", "like", "a", "pattern", "→", "but", "not", "quite", "¿qué?", "\"sure\"", "fish\n\n"]


def _record(rng: random.Random, puzzle: int) -> dict[str, Any]:
    """A seed-shaped rollout record of a 4 × 4 puzzle, about RECORD_BYTES long."""
    words = [f"WORD{puzzle}_{i}" for i in range(16)]
    completion, history, found, mistakes = [], [], 0, 0
    for _ in range(10):
        reasoning = " ".join(rng.choice(PHRASES) for _ in range(rng.randint(25, 75)))
        r = rng.random()
        status = "invalid" if r < 0.06 else "correct" if r < 0.5 else "one_away" if r < 0.65 else "incorrect"
        items = words[found * 4:found * 4 + 4]
        guess = "<guess>[" + ", ".join(f"`{w}`" for w in items) + "]</guess>"
        completion.append({"role": "assistant", "content": reasoning + "\n" + guess})
        replies = {"correct": "Correct! Théme", "invalid": "Invalid guess.", "one_away": "One away!"}
        message = replies.get(status, "Incorrect.")
        history.append({"items": items, "status": status, "category_idx": found if status == "correct" else None,
                        "result_message": message})
        found += status == "correct"
        mistakes += status in ("incorrect", "one_away")
        if found == 3:
            history.append({"items": words[12:], "status": "auto", "category_idx": 3, "result_message": "auto"})
            found = 4
            break
        if mistakes >= 4:
            break
        completion.append({"role": "user", "content": f"{message}\n\nRemaining words: " + ", ".join(words[found * 4:])})
    reason = "all_categories_found" if found == 4 else "max_mistakes" if mistakes >= 4 else "max_turns_reached"
    guesses = [s for s in history if s["status"] != "auto"]
    valid = sum(s["status"] != "invalid" for s in guesses) / max(1, len(guesses))
    reward = round((found / 4 + 0.25 * valid + 0.25 * (found / max(1, len(history)))) / 1.5, 4)
    return {"prompt": [{"role": "system", "content": "Let's play Connections — find the four groups. " * 8},
                       {"role": "user", "content": "The words: " + ", ".join(words)}],
            "completion": completion,
            "info": {"puzzle_id": puzzle,
                     "categories": [{"group": f"GROUP {g} ✓", "members": words[g * 4:g * 4 + 4]} for g in range(4)],
                     "all_words": words},
            "reward": reward if rng.random() > 0.02 else None, "guess_history": history, "complete_reason": reason}


def write_results(directory: Path, files: int, file_mb: float, seed: int) -> list[Path]:
    """FILES + 1 results files (the last is "the new one"), made once and reused."""
    import inspect

    source = inspect.getsource(_record) + repr((PHRASES, RECORD_BYTES)) + inspect.getsource(write_results)
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]  # a changed generator makes new files
    where = directory / f"doctor-results-{files}x{file_mb:g}MB-seed{seed}-gen{digest}"
    paths = [where / f"results_{n}.jsonl" for n in range(1, files + 2)]
    if all(p.exists() for p in paths):
        return paths
    where.mkdir(parents=True, exist_ok=True)
    per_file = int(file_mb * 1e6 / RECORD_BYTES)
    puzzles = max(1, per_file * files // 10)  # about ten rollouts per puzzle: ties happen
    rng = random.Random(seed)
    for path in paths:
        size = 0
        with open(path.with_suffix(".tmp"), "w", encoding="ascii") as f:
            while size < file_mb * 1e6:
                line = json.dumps(_record(rng, rng.randrange(puzzles))) + "\n"
                f.write(line)
                size += len(line)
        os.replace(path.with_suffix(".tmp"), path)
    return paths


# -- children: one variant each, in its own process ------------------------------------------------


def child(variant: str, files: list[str], index_dir: str) -> dict[str, Any]:
    import harness_connections.truncation  # noqa: F401  imported before the clock, by every variant

    if variant in ("cold", "cold+1", "warm+1"):
        from harness.doctor.results import analyze

        t0 = time.perf_counter()
        analysis = analyze(files, index_dir=index_dir)
        seconds = time.perf_counter() - t0
        chosen = {k: [Path(analysis.files[c.file]).name, c.row, c.good, c.salvageable]
                  for k, c in analysis.chosen.items()}
        return {"seconds": seconds, "parsed": analysis.parsed, "reused": analysis.reused, "chosen": chosen}
    if variant == "orjson-seed-loop":
        return seed_loop(files)
    from harness import jsonl

    t0 = time.perf_counter()
    if variant == "fastjsonl-columns":
        from harness.doctor.results import FIELDS

        jsonl.columns(files, FIELDS)
    elif variant == "fastjsonl-dedup-t1":
        jsonl.dedup(files, os.path.join(index_dir, "dedup.jsonl"), "/info/puzzle_id", score="/reward", missing="keep",
                    threads=1)
    elif variant == "fastjsonl-scan-t1":
        jsonl.scan(files, threads=1)
    return {"seconds": time.perf_counter() - t0}


def seed_loop(files: list[str]) -> dict[str, Any]:
    """Seed 001's grouping and sorting, in Python with orjson (see the module docstring)."""
    from orjson import loads

    t0 = time.perf_counter()
    groups: dict[str, list[tuple]] = {}
    position = 0
    for path in files:
        name = Path(path).name
        with open(path, "rb", buffering=1 << 20) as f:
            for row, line in enumerate(f):
                rec = loads(line)
                info = rec.get("info")
                puzzle_id = info.get("puzzle_id") if isinstance(info, dict) else None
                if puzzle_id is None or puzzle_id == "":
                    continue
                history = rec.get("guess_history")
                statuses = [g.get("status") for g in history] if history is not None else None
                sizes = [len(m["content"].split()) for m in rec.get("completion") or [] if m.get("role") == "assistant"]
                reward = rec.get("reward")
                won = rec.get("complete_reason") == "all_categories_found"
                good = statuses is not None and "invalid" not in statuses and won
                groups.setdefault(str(puzzle_id), []).append(
                    (-(0.0 if reward is None else reward), sum(sizes) / len(sizes) if sizes else 0.0, good, name, row,
                     statuses))
                position += 1
    chosen = {}
    for key in sorted(groups):
        ranked = sorted(groups[key], key=lambda t: (t[0], t[1]))  # stable: input order breaks the last ties
        top = next((t for t in ranked if t[2]), None) or ranked[0]
        chosen[key] = [top[3], top[4], top[2], _salvageable(top[5]) if not top[2] else False]
    return {"seconds": time.perf_counter() - t0, "chosen": chosen}


def _salvageable(statuses: list[str] | None) -> bool:
    """The seed's truncation and salvage quality on a bad rollout's statuses."""
    from harness_connections.predicates import salvage_quality
    from harness_connections.truncation import ends_the_game, kept_history

    history = [{"status": s} for s in statuses or []]
    kept = kept_history(history)
    return bool(kept) and not ends_the_game(kept, 4) and salvage_quality(history) >= 0.0


def run_child(variant: str, files: list[Path], index_dir: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", variant, "--index-dir", str(index_dir),
                           *map(str, files)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def selection(args: argparse.Namespace) -> dict[str, Any]:
    paths = write_results(Path(args.data_dir), args.files, args.file_mb, args.seed)
    first, all_ = paths[:-1], paths
    size = sum(p.stat().st_size for p in first)
    for p in all_:  # into the page cache, untimed
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass
    rollouts = 0
    for p in first:
        with open(p, "rb") as f:
            rollouts += sum(1 for _ in f)
    new_mb = paths[-1].stat().st_size / 1e6
    print(f"selection: {len(first)} files, {size / 1e6:.0f} MB, {rollouts:,} rollouts (+1 file of {new_mb:.0f} MB)")
    scratch = Path(tempfile.mkdtemp(prefix="doctor-bench-", dir=args.data_dir))
    figures: dict[str, Any] = {"files": len(first), "bytes": size, "rollouts": rollouts, "variants": {}}
    try:
        best: dict[str, dict[str, Any]] = {}
        for _ in range(args.repeat):
            for variant, files in [("cold", first), ("cold+1", all_), ("warm+1", all_), ("orjson-seed-loop", first),
                                   ("fastjsonl-columns", first), ("fastjsonl-dedup-t1", first),
                                   ("fastjsonl-scan-t1", first)]:
                index = scratch / variant
                shutil.rmtree(index, ignore_errors=True)
                index.mkdir()
                if variant == "warm+1":  # the first FILES files indexed, as the loops before left them
                    run_child("cold", first, index)
                result = run_child(variant, files, index)
                if variant not in best or result["seconds"] < best[variant]["seconds"]:
                    best[variant] = result
        same = best["cold"]["chosen"] == best["orjson-seed-loop"]["chosen"]
        same_warm = best["warm+1"]["chosen"] == best["cold+1"]["chosen"]
        for variant, result in best.items():
            seconds = result["seconds"]
            nbytes = size if variant not in ("cold+1", "warm+1") else size + paths[-1].stat().st_size
            figures["variants"][variant] = {"seconds": seconds, "MB/s": nbytes / seconds / 1e6,
                                            "parsed_files": result.get("parsed"), "reused_files": result.get("reused")}
            print(f"  {variant:20s} {seconds:8.3f} s  {nbytes / seconds / 1e6:8.1f} MB/s"
                  + (f"  (files parsed: {result['parsed']}, choices reused over: {result['reused']})"
                     if "parsed" in result else ""))
        v = figures["variants"]
        figures["warm_over_full"] = v["warm+1"]["seconds"] / v["cold+1"]["seconds"]
        figures["orjson_over_cold"] = v["orjson-seed-loop"]["seconds"] / v["cold"]["seconds"]
        figures["same_choices"] = same
        figures["warm_same_choices"] = same_warm
        print(f"  loop 2 after one new file / full re-read: {figures['warm_over_full']:.3f} "
              f"({'PASS' if figures['warm_over_full'] <= 0.1 else 'FAIL'}: at most 0.1); "
              f"same choices as the full re-read: {'yes' if same_warm else 'NO: DIFFERS'}")
        print(f"  orjson seed loop / full selection: {figures['orjson_over_cold']:.2f}x "
              f"({'PASS' if figures['orjson_over_cold'] >= 3 else 'FAIL'}: at least 3x); "
              f"same choices: {'yes' if same else 'NO: DIFFERS'}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return figures


# -- the embedded model ----------------------------------------------------------------------------


def seed_made_results(directory: Path, env_args: dict[str, Any]) -> Path:
    """results_1.jsonl in the seed's shape: the first puzzle won, every other one lost after a
    correct first guess and then replies without a guess (salvageable: one group found)."""
    from harness import plugins
    from harness.backends.scripted import ScriptedBackend
    from harness.engine import RolloutConfig, generate
    from harness.episode import load_episodes
    from harness_connections.guess import format_guess
    from harness_connections.rollout_record import to_rollout_record

    env = plugins.get("environment", "connections")(**env_args)
    lines = []
    for i, task in enumerate(env.tasks()):
        groups = [c["members"] for c in task.data["categories"]]
        answers = [format_guess(g) for g in groups] if i == 0 else [format_guess(groups[0])] + ["I am not sure."] * 9
        config = RolloutConfig(env="connections", backend="scripted", env_args=env_args, task_ids=[str(task.id)])
        out = directory / f".seed-{i}"
        manifests = generate(config, out, backend=ScriptedBackend(responses=answers), progress=False)
        [episode] = load_episodes(out / manifests[0]["shard"]["path"])
        lines.append(json.dumps(to_rollout_record(episode)) + "\n")
        shutil.rmtree(out)
    path = directory / "results_1.jsonl"
    path.write_text("".join(lines), encoding="ascii")
    return path


def model(args: argparse.Namespace) -> dict[str, Any]:
    from harness.backends.transformers_backend import TransformersBackend
    from harness.doctor.collate import CollateError
    from harness.doctor.loop import LoopConfig
    from harness.doctor.pipeline import connections_sft
    from harness.doctor.reduce import ReduceConfig

    env_args = {"count": args.model_puzzles, "groups": 3, "group_size": 2, "generator_seed": 1, "max_turns": 4}
    config = LoopConfig(loops=args.model_loops, env_args=env_args, split=None, backend="transformers",
                        max_tokens=args.max_tokens, temperature=0.7, seed=args.seed, concurrency=16,
                        min_salvage_quality=args.min_salvage_quality)
    results = Path(tempfile.mkdtemp(prefix="doctor-model-", dir=args.data_dir))
    seed_made_results(results, env_args)
    t0 = time.perf_counter()
    backend = TransformersBackend(max_batch=16)
    print(f"model: loaded in {time.perf_counter() - t0:.0f} s; {args.model_puzzles} puzzles (3 groups of 2; "
          f"the seed-made results: 1 won, {args.model_puzzles - 1} lost after one group), {args.model_loops} loops, "
          f"{args.max_tokens} tokens a turn")
    figures: dict[str, Any] = {"puzzles": args.model_puzzles, "loops": []}
    try:
        t0 = time.perf_counter()
        try:
            manifest = connections_sft(results, results / "sft", config, ReduceConfig(backend="transformers"),
                                       backend=backend, say=lambda line: print("  " + line), progress=False)
            figures["sft_rows"] = manifest["collate"]["rows"]
        except CollateError as exc:  # no good example at all: said, not hidden
            print(f"  collate: {exc}")
            figures["sft_rows"] = 0
        figures["pipeline_seconds"] = time.perf_counter() - t0
        from harness.doctor.loop import _read_journal

        journal = _read_journal(results / "loops.json")
        stats = json.loads((results / "stats.json").read_text())
        after_all = [*journal[1:], _stats_of(stats["final"])]
        for before, after in zip(journal, after_all):
            if not before.doctored:
                continue
            row = {"loop": before.loop, "doctored": before.doctored, "doctored_good": after.converted_doctored or 0,
                   "doctor_tokens": before.tokens_doctored or 0, "fresh": before.fresh,
                   "fresh_good": after.converted_fresh, "fresh_tokens": before.tokens_fresh}
            row.update(regenerate(before.queue["doctored"], row["doctor_tokens"], backend, config, results,
                                  before.loop))
            figures["loops"].append(row)
            per = lambda tokens, good: f"{tokens / good:.0f}" if good else "n/a"  # noqa: E731
            print(f"  loop {row['loop']}: doctored {row['doctored']} bad puzzles -> {row['doctored_good']} good "
                  f"({100 * row['doctored_good'] / row['doctored']:.0f} %), {row['doctor_tokens']} tokens, "
                  f"{per(row['doctor_tokens'], row['doctored_good'])} per conversion; regenerated from scratch with "
                  f"{row['regen_tokens']} tokens ({row['regen_samples']} samples) -> {row['regen_good']} good "
                  f"({100 * row['regen_good'] / row['doctored']:.0f} %), {per(row['regen_tokens'], row['regen_good'])} "
                  "per conversion")
    finally:
        import asyncio

        asyncio.run(backend.aclose())
        shutil.rmtree(results, ignore_errors=True)
    return figures


def _stats_of(entry: dict[str, Any]) -> Any:
    from harness.doctor.loop import LoopStats

    return LoopStats(**{k: v for k, v in entry.items() if k in LoopStats.__dataclass_fields__})


def regenerate(keys: list[str], budget: int, backend: Any, config: Any, scratch: Path, loop: int) -> dict[str, Any]:
    """Fresh samples of `keys` (round after round, each with a new seed) until `budget`
    completion tokens are spent; how many turned good."""
    from harness.engine import RolloutConfig, generate
    from harness.episode import load_episodes
    from harness_connections.predicates import is_valid, is_won
    from harness_connections.rollout_record import to_rollout_record

    spent, samples, good, round_ = 0, 0, set(), 0
    while spent < budget and len(good) < len(keys):
        todo = [k for k in keys if k not in good]
        rollout = RolloutConfig(env="connections", backend="transformers", env_args=dict(config.env_args),
                                task_ids=todo, max_tokens=config.max_tokens, temperature=config.temperature,
                                seed=10_000 * loop + round_)
        out = scratch / f"regen-{loop}-{round_}"
        manifests = generate(rollout, out, backend=backend, concurrency=16, progress=False)
        for episode in load_episodes([out / m["shard"]["path"] for m in manifests]):
            if spent >= budget:
                break
            spent += episode.usage.completion_tokens or 0
            samples += 1
            record = to_rollout_record(episode)
            if is_valid(record) and is_won(record):
                good.add(str(episode.task.id))
        round_ += 1
    return {"regen_good": len(good), "regen_tokens": spent, "regen_samples": samples}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="selection,model", help="selection, model or both (default)")
    parser.add_argument("--files", type=int, default=20, help="results files before the new one (20)")
    parser.add_argument("--file-mb", type=float, default=2.5,
                        help="size of each results file in MB (2.5; 50 for the full size)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each selection variant; the fastest counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-puzzles", type=int, default=4, help="puzzles of the model part (4)")
    parser.add_argument("--model-loops", type=int, default=3, help="loops of the model part (3)")
    parser.add_argument("--max-tokens", type=int, default=48, help="tokens per turn of the model part (48)")
    parser.add_argument("--min-salvage-quality", type=float, default=0.0, help="the model part's loop setting")
    parser.add_argument("--data-dir", default=str(OUT))
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", help=argparse.SUPPRESS)
    parser.add_argument("inputs", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.inputs, args.index_dir)))
        return 0
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "load": os.getloadavg()}}
    parts = args.parts.split(",")
    try:
        if "selection" in parts:
            figures["selection"] = selection(args)
        if "model" in parts:
            figures["model"] = model(args)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
