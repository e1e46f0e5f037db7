"""Token reduction (seed 001's step 5) and collation (step 6): the limits and both phases, the
acceptance rule, the drop counts, bounded concurrency, retries, resume; the final rows."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import pytest

from harness.backends.base import Backend, BackendError, Completion
from harness.doctor.collate import CollateError, collate_files
from harness.doctor.reduce import ReduceConfig, accept, phase_two, reduce_rows, targets, total_limit

GUESS = "<guess>[`ANT`, `BEE`, `CAT`, `DOG`]</guess>"


class Shortener(Backend):
    """Answers each rewrite request with `<think>` + `target` words + `</think>` and the reply's
    guess: what a model that follows the instructions does. `broken` answers lose the guess;
    `fail_first` requests fail once before answering. Tracks how many requests run at once."""

    name = "shortener"

    def __init__(self, broken: bool = False, fail_first: int = 0, fail_always: bool = False) -> None:
        self.broken, self.fail_first, self.fail_always = broken, fail_first, fail_always
        self.calls = self.live = self.most_live = 0

    @property
    def model_name(self) -> str:
        return "shortener"

    async def generate(self, requests):
        self.calls += 1
        self.live += 1
        self.most_live = max(self.most_live, self.live)
        try:
            await asyncio.sleep(0)  # let the other requests in: concurrency shows
            if self.fail_always or self.fail_first > 0:
                self.fail_first -= 1
                raise BackendError("server busy")
            out = []
            for request in requests:
                text = request.messages[-1].content
                target = int(re.search(r"about (\d+) tokens", text).group(1))
                guess = "" if self.broken else text[text.find("<guess>"):]
                out.append([Completion(text=f"<think>{'w ' * (target - 5)}</think>\n\n{guess}")])
            return out
        finally:
            self.live -= 1


def example(puzzle_id: str, sizes: list[int], words: int = 16, **extra) -> dict:
    completion = []
    for n in sizes:
        completion += [{"role": "assistant", "content": f"<think>{puzzle_id} {'x ' * (n - 6)}</think>\n\n{GUESS}"},
                       {"role": "user", "content": "feedback " * 50}]
    return {
        "prompt": [{"role": "user", "content": "board"}],
        "completion": completion,
        "info": {"puzzle_id": puzzle_id, "all_words": [f"W{i}" for i in range(words)]},
        "reward": 1.0,
        "guess_history": [{"status": "correct"}] * 3 + [{"status": "auto"}],
        "complete_reason": "all_categories_found",
        "tags": ["good example"],
        **extra,
    }


def sizes(row: dict) -> list[int]:
    return [len(m["content"].split()) for m in row["completion"] if m["role"] == "assistant"]


def test_the_limits_and_the_two_phases():
    assert (total_limit(16), total_limit(12), total_limit(20), total_limit(25)) == (2048, 2048, 2560, 3072)
    assert targets([1500, 300, 1025, 1024], 2048) == {0: 819, 2: 819}
    # phase 2: largest first, each cut by min(still needed, 30 % of it), one pass
    assert phase_two([1000, 1000, 1000], 2048) == {0: 700, 1: 700, 2: 700}  # still 462 over: one pass only
    assert phase_two([900, 400, 800], 2048) == {0: 630, 2: 608}  # needed 462: 270, then the other 192


@pytest.mark.parametrize(("answer", "ok"), [
    (f"<think>short</think>\n\n{GUESS}", True),
    (f"<think>short</think>{GUESS}", True),
    (f"<think>a</think><think>b</think>{GUESS}", False),
    (f"short</think>{GUESS}", False),
    (f"</think>x<think>{GUESS}", False),
    ("<think>short</think>\n\n<guess>[`ANT`, `BEE`, `CAT`, `DOGS`]</guess>", False),
    ("<think>short</think>\n\n<guess>[`ANT`,`BEE`, `CAT`, `DOG`]</guess>", False),
    ("<think>short</think>", False),
])
def test_the_acceptance_rule(answer, ok):
    assert accept(f"<think>long reasoning</think>\n\n{GUESS}", answer) is ok


def test_rows_are_reduced_and_still_too_long_ones_dropped(tmp_path):
    rows = [example("small", [100, 200]), example("one-long", [1500, 300]), example("total", [1000, 1000, 1000]),
            example("big-board", [1000, 1000, 500], words=25)]
    backend = Shortener()
    report = reduce_rows(rows, tmp_path / "reduced.jsonl", ReduceConfig(), backend=backend)
    out = {r["info"]["puzzle_id"]: r for r in map(json.loads, (tmp_path / "reduced.jsonl").read_text().splitlines())}
    assert out["small"] == rows[0]  # under both limits: as it was
    assert sizes(out["one-long"]) == [819, 300]
    assert "total" not in out  # one pass of phase 2 is not enough: dropped
    assert out["big-board"] == rows[3]  # 2500 <= 3072 for 25 words
    assert (report.over, report.token_limit_total, report.token_limit_generation, report.written) == (2, 1, 0, 3)
    assert "Token Limit (Total): 1, Token Limit (Generation): 0" in report.summary()
    assert report.accepted == report.asked == 4


def test_a_rewrite_that_breaks_the_rule_keeps_the_original_and_the_example_drops(tmp_path):
    rows = [example("one-long", [1500, 300])]
    report = reduce_rows(rows, tmp_path / "r.jsonl", ReduceConfig(), backend=Shortener(broken=True))
    assert (report.rejected, report.token_limit_generation, report.written) == (1, 1, 0)


def test_retries_then_the_original(tmp_path):
    rows = [example("one-long", [1500, 300])]
    flaky = Shortener(fail_first=2)
    report = reduce_rows(rows, tmp_path / "a.jsonl", ReduceConfig(retries=2), backend=flaky)
    assert flaky.calls == 3 and report.accepted == 1
    down = Shortener(fail_always=True)
    report = reduce_rows(rows, tmp_path / "b.jsonl", ReduceConfig(retries=1), backend=down)
    assert down.calls == 2 and report.failed == 1 and report.token_limit_generation == 1


def test_concurrency_is_bounded(tmp_path):
    rows = [example(f"p{i}", [1500]) for i in range(12)]
    backend = Shortener()
    reduce_rows(rows, tmp_path / "r.jsonl", ReduceConfig(concurrency=3), backend=backend)
    assert backend.calls == 12 and backend.most_live == 3


def test_a_rerun_asks_only_what_is_missing(tmp_path):
    rows = [example(f"p{i}", [1500]) for i in range(4)]
    out = tmp_path / "r.jsonl"
    first = Shortener()
    reduce_rows(rows, out, ReduceConfig(), backend=first)
    done = out.read_bytes()
    cache = tmp_path / ".r.jsonl.reduce-cache.jsonl"
    lines = cache.read_bytes().splitlines(keepends=True)
    cache.write_bytes(lines[0] + lines[1][:20])  # what a kill leaves
    out.unlink()
    again = Shortener()
    reduce_rows(rows, out, ReduceConfig(), backend=again)
    assert again.calls == 3 and out.read_bytes() == done
    other = Shortener()
    reduce_rows(rows, out, ReduceConfig(temperature=0.5), backend=other)  # other settings: asked anew
    assert other.calls == 4


def test_the_embedded_model_through_the_same_path(tmp_path):
    """A real model rewriting one message: whatever it answers, the rule decides, and the answer
    is cached."""
    from harness.backends.transformers_backend import TransformersBackend
    from harness.doctor.reduce import ReduceReport, _Rewriter

    text = f"<think>The animals go together, I am sure of it, all four of them.</think>\n\n{GUESS}"
    report = ReduceReport()
    rewriter = _Rewriter(TransformersBackend(), ReduceConfig(max_tokens=16), tmp_path / "cache.jsonl", report)
    try:
        answer = asyncio.run(rewriter.rewrite(text, 8))
    finally:
        rewriter.close()
    assert report.asked == 1 and report.accepted + report.rejected == 1
    assert answer == text if report.rejected else accept(text, answer)
    [cached] = [json.loads(line) for line in (tmp_path / "cache.jsonl").read_text().splitlines()]
    assert isinstance(cached["answer"], str)


# -- collate ---------------------------------------------------------------------------------------


def test_final_rows_and_the_figures(tmp_path):
    good = example("p1", [10])
    doctored = example("p2", [10])
    doctored["info"]["resumed_from_guess_history"] = [{"status": "correct"}]
    perfect = example(
        "p3", [10], guess_history=[{"status": "correct"}] * 4, reward=0.5, complete_reason="max_turns_reached"
    )
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (good, doctored, perfect)))
    report = collate_files([path], tmp_path / "sft.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert list(rows[0]) == ["puzzle_id", "prompt", "completion", "reward", "accuracy", "guess_history", "categories",
                             "tags", "complete_reason", "solved"]
    assert [(r["tags"], r["accuracy"], r["solved"]) for r in rows] == [
        (["good example"], 0.75, True), (["doctored"], 0.75, True), (["good example"], 1.0, False)]
    assert report.lines() == ["Examples: 3 (1 doctored)", "Mean reward: 0.8333", "Mean accuracy: 0.8333",
                              "Accuracy 1.0: 33.3%", "Solved: 66.7%"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r.pop("reward"), r"in.jsonl:2: /reward: expected a number"),
    (lambda r: r.update(completion=[]), r"in.jsonl:2: /completion: empty"),
    (lambda r: r["info"].update(puzzle_id="p1"), r"in.jsonl:2: /info/puzzle_id: puzzle 'p1' already at .*in.jsonl:1"),
    (lambda r: r.pop("guess_history"), r"in.jsonl:2: /guess_history: expected a list"),
])
def test_bad_examples_are_named(tmp_path, change, message):
    second = example("p2", [10])
    change(second)
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(example("p1", [10])) + "\n" + json.dumps(second) + "\n")
    with pytest.raises(CollateError, match=message):
        collate_files([path], tmp_path / "sft.jsonl")
    assert not (tmp_path / "sft.jsonl").exists()


def test_the_reduce_and_collate_commands(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(example("p1", [10])) + "\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "doctor",
            "reduce",
            str(path),
            "-o",
            str(tmp_path / "r.jsonl"),
            "--backend",
            "scripted",
            "--backend-arg",
            "responses=[]",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "reduce: 1 examples, 0 over a limit" in done.stderr
    done = subprocess.run([sys.executable, "-m", "harness", "doctor", "collate", str(tmp_path / "r.jsonl"), "-o",
                           str(tmp_path / "sft.jsonl")], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.splitlines()[0] == "Examples: 1 (0 doctored)"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "harness", "doctor", "collate", str(empty), "-o", str(tmp_path / "e.jsonl")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "nothing to collate" in done.stderr
