"""Seed 004 parity: the template structure of the four variants, pinned on rows written for
these tests (tests/fixtures/formats/parity/seed004_rows.jsonl): instructions with leading,
trailing and repeated newlines (and CRLF, unicode, whitespace only), code fields with
surrounding blank lines and spaces, an empty and a whitespace-only fixed code, an empty to-do
code, stages `submission_first|mid|last` and the real data's `quantile: submission_q2`, past
problems none, one, two and without submissions, prior attempts none, one (`"None"`) and
three, a student id as int and as string.

golden/parity_seed004_pairs.json is our output; it was checked against the seed's public
templates and formatting functions run side by side (our heading `PAST PROBLEMS:` standing for
its wording) and agrees exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.formats import format_file, get_formatter
from harness.formats.student_code import VARIANTS, input_text, output_text, to_prompt_completion

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
ROWS = FIXTURES / "parity" / "seed004_rows.jsonl"


def rows() -> list[dict]:
    return [json.loads(line) for line in ROWS.read_text(encoding="utf-8").splitlines()]


def for_variant(variant: str) -> list[dict]:
    return [r for r in rows() if ("curr_problem_prior_submissions" in r["INPUT"]) == variant.startswith("exp2")]


def test_golden_pairs():
    golden = json.loads((FIXTURES / "golden" / "parity_seed004_pairs.json").read_text(encoding="utf-8"))
    assert {v: [to_prompt_completion(r, v) for r in for_variant(v)] for v in VARIANTS} == golden


def test_exp1_without_context_whole_prompt():
    assert input_text(rows()[0], "exp1_without_context") == (
        "PROBLEM INSTRUCTIONS:\n"
        "Write count_vowels(s).\nIt returns how many vowels s has.\n\n"   # stripped, runs collapsed
        "FIXED CODE:\n<code>VOWELS = 'aeiou'</code>\n\n"                # stripped inside the tags
        "TODO CODE:\n<code>def count_vowels(s):\n    \"*** YOUR CODE HERE ***\"</code>\n\n"
        "SUBMISSION FIRST:\n"                                             # the stage line; one final newline
    )


def test_exp1_with_context_past_problems_and_stages():
    first, mid, quantile, last = for_variant("exp1_with_context")
    assert input_text(first, "exp1_with_context").startswith(
        "PAST PROBLEMS:\n"
        "PROBLEM NAME: count_digits\n<code>def count_digits(n):\n    return len(str(n))</code>\n\n"
        "PROBLEM NAME: sum_digits\n<code>def sum_digits(n):\n    return sum(map(int, str(n)))</code>\n\n"
        "PROBLEM INSTRUCTIONS:\n")
    # no past problem: the heading stays, followed by nothing
    assert input_text(mid, "exp1_with_context").startswith("PAST PROBLEMS:\n\n\nPROBLEM INSTRUCTIONS:\n")
    assert input_text(mid, "exp1_without_context") == (
        "PROBLEM INSTRUCTIONS:\nÜbung: zähle die Vokale — ✓\r\n\r\nsonst nichts\n\n"  # only \n runs collapse
        "FIXED CODE:\n<code></code>\n\nTODO CODE:\n<code>def count_vowels(s):\n    \"*** YOUR CODE HERE ***\"</code>"
        "\n\nSUBMISSION MID:\n")
    assert "\n\nFIXED CODE:\n<code></code>\n\n" in input_text(quantile, "exp1_without_context")  # whitespace only
    assert input_text(quantile, "exp1_without_context").endswith("\n\nSUBMISSION Q2:\n")  # the `quantile` key
    assert input_text(last, "exp1_without_context") == (
        "PROBLEM INSTRUCTIONS:\n\n\nFIXED CODE:\n<code>VOWELS = 'aeiou'</code>\n\n"
        "TODO CODE:\n<code></code>\n\nSUBMISSION LAST:\n")


def test_exp2_consecutive_code_blocks_touch():
    one, three, empty = for_variant("exp2_with_context")
    assert input_text(one, "exp2_without_context") == (
        "PROBLEM INSTRUCTIONS:\nWrite double(x).\nReturn 2 * x.\n\n"
        "FIXED CODE:\n<code>F</code>\n\n"
        "TODO CODE:\n<code>def double(x):\n    pass</code>\n\n"
        "SUBMISSIONS:\n<code>None</code>\n")
    assert input_text(three, "exp2_with_context") == (
        "PAST PROBLEMS:\n"
        "PROBLEM NAME: square\n<code>def square(x): pass</code><code>def square(x):\n    return x*x</code>"
        "<code></code>\n\n"
        "PROBLEM NAME: cube\n\n"  # no submissions: the block, stripped, ends on the name
        "PROBLEM INSTRUCTIONS:\nWrite double(x).\nReturn 2 * x.\n\n"
        "FIXED CODE:\n<code>F</code>\n\n"
        "TODO CODE:\n<code>def double(x):\n    pass</code>\n\n"
        "SUBMISSIONS:\n<code>None</code><code>def double(x):\n    return x</code>"
        "<code>def double(x):\n    return 2*x</code>\n"
    )
    assert input_text(empty, "exp2_with_context").startswith("PAST PROBLEMS:\nPROBLEM NAME: noop\n\nPROBLEM")
    assert input_text(empty, "exp2_with_context").endswith("\n\nSUBMISSIONS:\n\n")
    assert "<code>None</code><code>def triple(x):\n    return 3 * x</code>\n\n" in input_text(one, "exp2_with_context")


def test_output_is_the_stripped_submission_in_code_tags():
    assert output_text(rows()[0]) == "<code>def count_vowels(s):\n    return sum(c in VOWELS for c in s)</code>"
    assert output_text(rows()[4]) == "<code>def double(x):\n    return x + x\n<SUBMIT></code>"


def test_four_variants_only():
    for variant in ("exp1", "exp3_with_context", "exp1_with_context ", "EXP1_WITH_CONTEXT", ""):
        with pytest.raises(ValueError, match="unknown template variant"):
            input_text(rows()[0], variant)
        with pytest.raises(ValueError, match="unknown template variant"):
            get_formatter("student-code", variant=variant)


def test_files_load_with_pyarrow_and_datasets(tmp_path):
    import datasets
    import pyarrow.parquet as pq

    for variant in VARIANTS:
        wanted = for_variant(variant)
        source = tmp_path / f"{variant}.in.jsonl"
        source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in wanted), encoding="utf-8")
        out = tmp_path / f"{variant}.parquet"
        report = format_file(get_formatter("student-code", variant=variant), source, out)
        assert pq.read_table(out).to_pylist() == [to_prompt_completion(r, variant) for r in wanted]
        loaded = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "c"))
        assert loaded.num_rows == report.rows == len(wanted)
