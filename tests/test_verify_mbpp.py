"""MBPP verification on our own MBPP-shaped fixture (the real MBPP is not in any package)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import plugins
from harness.plugins import hookimpl
from harness_code import MBPPVerifier
from harness_code.problems import ProblemFileError

FIXTURE = Path(__file__).parent / "fixtures" / "code" / "mbpp_small.jsonl"


@pytest.fixture(scope="module")
def mbpp() -> MBPPVerifier:
    return MBPPVerifier(FIXTURE, timeout=60.0)


def test_reference_solutions_pass(mbpp):
    ids = [json.loads(line)["task_id"] for line in FIXTURE.read_text().splitlines()]
    results = mbpp.verify_batch([mbpp.problems[str(i)].reference for i in ids], ids)
    assert [r.verdict for r in results] == ["pass"] * len(ids)


def test_task_ids_are_ints_or_their_strings(mbpp):
    code = "def largest(a, b, c):\n    return max(a, b, c)\n"
    assert mbpp.verify(code, task_id=5).success
    assert mbpp.verify(code, task_id="5").success
    assert mbpp.verify(code, task_id=6).error == "No test cases found for task: 6"


def test_challenge_tests_count(mbpp):
    # count_vowels has 3 tests plus one challenge test; this one fails only the challenge.
    code = "def count_vowels(s):\n    return sum(ch in 'aeiou' for ch in s.lower()) if s else None\n"
    result = mbpp.verify(code, 20)
    assert result.verdict == "fail"
    assert (result.details["tests_passed"], result.details["tests_total"]) == (3, 4)


def test_objects_and_types_cross_the_boundary(mbpp):
    chain = (
        "class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n\n"
        "def chain_length(pairs, n):\n    best, end = 0, float('-inf')\n"
        "    for p in sorted(pairs, key=lambda p: p.b):\n        if p.a > end:\n"
        "            best, end = best + 1, p.b\n    return best\n"
    )
    assert mbpp.verify(chain, 610).success
    drop = "def drop_type(items, kind):\n    return [x for x in items if type(x) is not kind]\n"
    assert mbpp.verify(drop, 520).success
    assert not mbpp.verify("def drop_type(items, kind):\n    return list(items)\n", 520).success


def test_partial_credit():
    partial = MBPPVerifier(FIXTURE, timeout=60.0, partial_credit=True)
    result = partial.verify("def largest(a, b, c):\n    return c\n", 5)
    assert result.verdict == "fail" and result.reward == pytest.approx(1 / 3)
    strict = MBPPVerifier(FIXTURE, timeout=60.0)
    assert strict.verify("def largest(a, b, c):\n    return c\n", 5).reward == 0.0


def test_bad_problem_files_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": 1, "text": "x", "code": "def f(): pass", "test_list": []}\n'
                   '{"task_id": 2, "text": "y", "test_list": []}\n')
    with pytest.raises(ProblemFileError, match=r"bad.jsonl:2: missing field 'code' or 'solution'"):
        MBPPVerifier(bad)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(ProblemFileError, match=r"broken.jsonl:1: not valid JSON"):
        MBPPVerifier(broken)


def test_a_reference_that_fails_its_tests_gives_no_verdict(tmp_path):
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"task_id": 700, "text": "t", "code": "def f(x):\n    return x",
                                 "test_list": ["assert f(1) == 2"]}) + "\n")
    result = MBPPVerifier(wrong, timeout=60.0).verify("def f(x):\n    return x + 1\n", 700)
    assert result.verdict == "no_verdict" and result.reward is None
    assert "reference solution of task 700 fails" in result.error


class VerdictRecorder:
    """An in-process plugin implementing the `verdict_made` lifecycle hook."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict, dict]] = []

    @hookimpl
    def verdict_made(self, verdict, subject):
        self.seen.append((verdict, subject))


def test_every_verdict_reaches_the_verdict_made_hook(mbpp):
    recorder = VerdictRecorder()
    registry = plugins.registry()
    registry.add(recorder, plugins.Plugin("recorder", "test-recorder", "0"))
    try:
        good = "def largest(a, b, c):\n    return max(a, b, c)\n"
        bad = "def largest(a, b, c):\n    return a\n"
        results = mbpp.verify_batch([good, bad], [5, 5])
    finally:
        registry.manager.unregister(recorder)
    assert [r.verdict for r in results] == ["pass", "fail"]
    seen = sorted(recorder.seen, key=lambda pair: pair[1]["code"] != good)
    assert [(v["verifier"], v["verdict"], s["task_id"]) for v, s in seen] == [
        ("mbpp", "pass", 5), ("mbpp", "fail", 5)]


def test_packages_a_task_needs_are_declared_on_the_verifier(tmp_path):
    """Sandboxed code imports the standard library only, unless the verifier is given
    `packages=`: then the reference and the candidate may import those (and nothing else)."""
    problems = tmp_path / "numpy_task.jsonl"
    problems.write_text(json.dumps({
        "task_id": 1, "text": "Sum a list with numpy.", "test_list": ["assert total([1, 2]) == 3"],
        "code": "import numpy as np\ndef total(xs):\n    return int(np.sum(xs))\n",
    }) + "\n")
    answer = "import numpy\n\ndef total(xs):\n    return int(numpy.array(xs).sum())\n"
    plain = MBPPVerifier(problems, timeout=60.0).verify(answer, 1)
    assert plain.verdict == "no_verdict" and "packages=" in plain.error, plain
    with_numpy = MBPPVerifier(problems, timeout=60.0, packages=["numpy"])
    assert with_numpy.verify(answer, 1).verdict == "pass"
    assert with_numpy.verify("import pytest\n\ndef total(xs):\n    return 3\n", 1).verdict == "fail"
