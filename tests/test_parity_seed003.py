"""Seed 003 parity (issue 12): code extraction as the seed does it (always stripped, inline
fences) with our better fence handling kept; the sanitized MBPP files are the sanitized test
split by default; without network, data preparation goes straight to the local copy and says so.
Inputs are our own; verification runs in the real sandbox, preparation as a real subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.rlvr.prepare import PrepareError, prepare
from harness_code import HumanEvalVerifier, MBPPVerifier, extract_code

FIXTURES = Path(__file__).parent / "fixtures" / "code"
HUMANEVAL = FIXTURES / "humaneval_small.jsonl"
MBPP = FIXTURES / "mbpp_small.jsonl"

# -- extraction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # always stripped (the seed's .strip()), with or without a fence
        ("   def f():\n        return 1\n\n", "def f():\n        return 1"),
        ("```python\n\n  x = 1\n\n```", "x = 1"),
        ("```\n\tx = 1 \n```", "x = 1"),
        ("  \n", ""),
        # an inline fence on one line counts
        ("```f = lambda: 1```", "f = lambda: 1"),
        ("Use ```g = 2``` here.\nThat is all.", "g = 2"),
        ("Answer: ```x = 'é'``` — done", "x = 'é'"),
        # the seed's order: a python block, then a multi-line block, then an inline fence
        ("Run ```pip install x``` first:\n```\ndef f(): pass\n```", "def f(): pass"),
        ("```\nfirst\n```\n```python\nsecond\n```", "second"),
        # kept from our own handling: tags, a space before the tag, CRLF, unclosed fences
        ("```py\na = 1\n```", "a = 1"),
        ("```Python\na = 1\n```", "a = 1"),
        ("``` python3\r\na = 1\r\n```\r\n", "a = 1"),
        ("```js\nlet x;\n```\n```py3\nb = 2\n```", "b = 2"),
        ("```js\nlet x;\n```", "let x;"),
        ("Here:\n```python\nc = 3\n", "c = 3"),
        ("````python\nd = 4\n````", "d = 4"),
        ("plain text", "plain text"),
    ],
)
def test_extract_code(text, code):
    assert extract_code(text) == code


def test_extract_without_strip_keeps_a_function_body_for_prompt_plus_completion():
    assert extract_code("    return a + b\n", strip=False) == "    return a + b\n"
    assert extract_code("```python\n    return a + b\n```", strip=False) == "    return a + b\n"


@pytest.fixture(scope="module")
def humaneval() -> HumanEvalVerifier:
    return HumanEvalVerifier(HUMANEVAL, timeout=60.0)


def test_a_correct_completion_with_leading_spaces_and_no_fence_passes(humaneval):
    result = humaneval.verify("    def add(a, b):\n        return a + b\n", "Fixture/0")
    assert result.verdict == "pass", result.error
    # and so in MBPP
    mbpp = MBPPVerifier(MBPP, timeout=60.0)
    assert (
        mbpp.verify("\n   def unique_words(sentence):\n       return sorted(set(sentence.split()))\n", 611).verdict
        == "pass"
    )


def test_an_inline_fence_is_verified(humaneval):
    assert humaneval.verify("```add = lambda a, b: a + b```", "Fixture/0").verdict == "pass"
    assert humaneval.verify("```add = lambda a, b: a - b```", "Fixture/0").verdict == "fail"


def test_prompt_plus_completion_still_takes_an_indented_body():
    verifier = HumanEvalVerifier(HUMANEVAL, timeout=60.0, prepend_prompt=True)
    assert verifier.verify("```python\n    return a + b\n```", "Fixture/0").verdict == "pass"


# -- the sanitized MBPP files ---------------------------------------------------------------------


def sanitized_task(task_id: int) -> dict:
    name = f"f{task_id}"
    return {"source_file": "ours.py", "task_id": task_id, "prompt": f"Write {name}, returning ñ.",
            "code": f"def {name}():\n    return 'ñ'", "test_imports": [], "test_list": [f"assert {name}() == 'ñ'"]}


BOUNDS = [1, 10, 11, 12, 510, 511, 600, 601, 974]


def ids(path: Path) -> list[int]:
    return [json.loads(line)["task_id"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_sanitized_files_hold_the_sanitized_test_split_by_default(tmp_path):
    sanitized = tmp_path / "sanitized-mbpp.json"
    sanitized.write_text(json.dumps([sanitized_task(i) for i in BOUNDS]), encoding="utf-8")
    summary = prepare(tmp_path / "out", "mbpp", 1, source="local", mbpp_path=str(MBPP),
                      mbpp_sanitized_path=str(sanitized))
    assert ids(tmp_path / "out" / "mbpp_sanitized_full.jsonl") == [11, 12, 510]
    assert ids(tmp_path / "out" / "mbpp_sanitized_prompts.jsonl") == [11, 12, 510]
    assert summary["mbpp"]["sanitized_split"] == "test"
    assert summary["mbpp"]["counts"]["mbpp_sanitized_full"] == 3
    every = prepare(tmp_path / "all", "mbpp", 1, source="local", mbpp_path=str(MBPP),
                    mbpp_sanitized_path=str(sanitized), mbpp_sanitized_split="all")
    assert ids(tmp_path / "all" / "mbpp_sanitized_full.jsonl") == BOUNDS
    assert every["mbpp"]["sanitized_split"] == "all"
    with pytest.raises(PrepareError, match="--mbpp-sanitized-split must be one of"):
        prepare(tmp_path / "x", "mbpp", 1, source="local", mbpp_path=str(MBPP),
                mbpp_sanitized_path=str(sanitized), mbpp_sanitized_split="everything")


def test_the_sanitized_split_option_on_the_command_line(tmp_path):
    sanitized = tmp_path / "sanitized-mbpp.json"
    sanitized.write_text(json.dumps([sanitized_task(i) for i in BOUNDS]), encoding="utf-8")
    done = run_prepare(tmp_path / "out", "--source", "local", "--dataset", "mbpp", "--mbpp-path", str(MBPP),
                       "--mbpp-sanitized-path", str(sanitized), "--mbpp-sanitized-split", "train")
    assert done.returncode == 0, done.stderr
    assert ids(tmp_path / "out" / "mbpp_sanitized_full.jsonl") == [601, 974]
    assert "sanitized (" + str(sanitized) + ", split train)" in done.stdout


# -- no network: straight to the local copy -------------------------------------------------------


def run_prepare(out: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "harness.rlvr.prepare", "--output-dir", str(out), "--validation-size", "2", *args],
        capture_output=True, text=True, env=full_env, timeout=600,
    )


@pytest.fixture
def refusing_port():
    """A loopback port that refuses connections: bound, never listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def test_a_refused_hub_connection_falls_back_to_the_local_files(tmp_path, refusing_port):
    endpoint = f"http://127.0.0.1:{refusing_port}"
    done = run_prepare(tmp_path / "out", "--mbpp-path", str(MBPP), env={"HF_ENDPOINT": endpoint})
    assert done.returncode == 0, done.stderr
    assert (
        f"dataset hub not used: {endpoint} is unreachable (Connection refused); reading the local files" in done.stdout
    )
    summary = json.loads((tmp_path / "out" / "dataset_summary.json").read_text())
    assert summary["hub_skipped"] == f"{endpoint} is unreachable (Connection refused)"
    assert summary["humaneval"]["source"].endswith("HumanEval.jsonl.gz")
    assert summary["mbpp"]["source"] == str(MBPP)
    assert "hub_errors" not in summary  # the hub client was never asked (no retries to wait out)


def test_a_refused_hub_with_source_hub_is_an_error_at_once(tmp_path, refusing_port):
    done = run_prepare(tmp_path / "out", "--source", "hub", "--dataset", "humaneval",
                       env={"HF_ENDPOINT": f"http://127.0.0.1:{refusing_port}"})
    assert done.returncode == 2
    assert "error: the dataset hub cannot be used: http://127.0.0.1:" in done.stderr
    assert "(try --source local)" in done.stderr


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"])
def test_the_offline_switches_are_honoured_without_a_connection(tmp_path, listener, variable):
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"
    done = run_prepare(tmp_path / "out", "--dataset", "humaneval", env={"HF_ENDPOINT": endpoint, variable: "1"})
    assert done.returncode == 0, done.stderr
    assert f"dataset hub not used: {variable} is set; reading the local files" in done.stdout
    with pytest.raises(BlockingIOError):  # nothing ever connected to the endpoint
        listener.accept()
