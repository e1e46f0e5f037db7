"""Deciding a verdict outside the candidate's process.

For a problem, a judge process first runs the test with the reference solution (`record`): that
fixes the calls the test makes and checks the reference passes. The plan recorded is kept for the
process: every `Judge` on the same judges' sandbox uses it. The candidate's process is then
given only those calls (`run_calls`) and returns plain data. If every result equals the
reference's, the test would behave exactly as in the record run: pass. Otherwise a fresh judge
process replays the test on the candidate's results (`replay`) and its assertions decide,
statement by statement (the share passed is the partial-credit score).

Judges run inside their own sandbox workers without a fork per call (`fork=False`): the code
they run is the dataset's reference and tests, and what comes from the candidate is plain data
(`harness_code.values`), never code. They never share a worker with candidates.
"""

from __future__ import annotations

import functools
import json
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.sandbox import Limits, RunResult, Sandbox
from harness_code.problems import Problem

RUNNER = "harness_code.runner"
TIMEOUT_MESSAGE = "Test execution timed out"


@dataclass
class Outcome:
    """What the judge concluded: `verdict` pass/fail/no_verdict, a score, an error and details."""

    verdict: Literal["pass", "fail", "no_verdict"]
    score: float | None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    calls: list[Any]
    outcomes: list[Any]
    tests_total: int
    error: str | None = None

    @functools.cached_property
    def canonical_outcomes(self) -> str:
        """The reference's results as canonical JSON, to compare each candidate's with."""
        return _canonical(self.outcomes)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _tail(text: str, n: int = 1000) -> str:
    return text[-n:]


def _load(run: RunResult) -> Any:
    try:
        return json.loads(run.result)
    except (ValueError, RecursionError):
        return None


class _Plans:
    """The plans recorded on one judges' sandbox, shared by every `Judge` on it: the code
    environment's verifier (during generation) and the verify stage's then judge the same
    problems, and each reference is recorded once per process, not once per verifier."""

    def __init__(self) -> None:
        self.plans: dict[tuple[str, int], Plan] = {}
        self.recording: dict[tuple[str, int], threading.Lock] = {}
        self.lock = threading.Lock()


_plans_by_sandbox: weakref.WeakKeyDictionary[Sandbox, _Plans] = weakref.WeakKeyDictionary()
_plans_lock = threading.Lock()


class Judge:
    def __init__(self, candidates: Sandbox, judges: Sandbox, limits: Limits, judge_limits: Limits) -> None:
        self.candidates, self.judges = candidates, judges
        self.limits, self.judge_limits = limits, judge_limits
        with _plans_lock:
            shared = _plans_by_sandbox.setdefault(judges, _Plans())
        self._plans, self._recording, self._lock = shared.plans, shared.recording, shared.lock

    def _payload(self, problem: Problem, mode: str) -> dict[str, Any]:
        return {"program": problem.reference, "test": problem.tests, "mode": mode,
                "function": problem.test_function, "params": problem.params,
                "proxied": [] if problem.params else problem.tested_names()}

    def plan(self, problem: Problem) -> Plan:
        # Everything the record run depends on (tested_names() derives from the reference and tests).
        key = (str(problem.task_id), hash((problem.reference, problem.tests, problem.test_function,
                                           tuple(sorted(problem.params.items())))))
        with self._lock:
            if key in self._plans:
                return self._plans[key]
            # Samples of one problem tend to arrive together: one thread records, the rest wait.
            recording = self._recording.setdefault(key, threading.Lock())
        with recording:
            with self._lock:
                if key in self._plans:
                    return self._plans[key]
            return self._record(problem, key)

    def _record(self, problem: Problem, key: tuple[str, int]) -> Plan:
        run = self.judges.run(f"{RUNNER}:run_tests", self._payload(problem, "record"),
                              limits=self.judge_limits, fork=False)
        data = _load(run)
        error: str | None
        if run.infrastructure_failure or data is None:
            error = f"recording the reference failed ({run.status}): {run.error or _tail(run.stderr, 500)}"
            if "ModuleNotFoundError" in run.stderr:
                error += (" (sandboxed code imports the standard library and the verifier's "
                          "packages= only)")
            return Plan([], [], 0, error)  # not cached: the next sample retries
        failed = [s for s in data["statements"] if not s["ok"]]
        total = sum(s["test"] for s in data["statements"]) or 1
        error = None
        if failed:
            error = (f"the reference solution of task {problem.task_id} fails its own test at "
                     f"line {failed[0]['line']}: {failed[0]['error']}")
        plan = Plan(data["calls"], data["outcomes"], total, error)
        with self._lock:
            self._plans[key] = plan
        return plan

    @staticmethod
    def _failed(failure: str | None, details: dict[str, Any]) -> Outcome:
        return Outcome("fail", 0.0, failure, {**details, "tests_passed": 0})

    def check(self, code: str, problem: Problem) -> Outcome:
        plan = self.plan(problem)
        if plan.error:
            return Outcome("no_verdict", None, plan.error)
        run = self.candidates.run(f"{RUNNER}:run_calls", {"code": code, "calls": plan.calls},
                                  limits=self.limits)
        details: dict[str, Any] = {
            "isolation": run.level, "status": run.status, "exit_code": run.exit_code,
            "stdout": _tail(run.stdout), "stderr": _tail(run.stderr),
            "wall_seconds": round(run.wall_seconds, 4), "tests_total": plan.tests_total,
        }
        if run.infrastructure_failure:
            return Outcome("no_verdict", None, f"sandbox failure: {run.error}", details)
        failure = self._candidate_failure(run)
        data = _load(run) if failure is None else None
        if failure is None and not (isinstance(data, dict) and ("outcomes" in data or "load_error" in data)):
            failure = f"the program exited before its results were complete (exit code {run.exit_code})"
        if failure is not None or not isinstance(data, dict):
            return self._failed(failure, details)
        if "load_error" in data:
            return self._failed(str(data["load_error"])[:1000], details)
        if not isinstance(data["outcomes"], list) or len(data["outcomes"]) != len(plan.calls):
            return self._failed("the program returned a malformed set of results", details)
        outcomes = data["outcomes"]
        if _canonical(outcomes) == plan.canonical_outcomes:
            return Outcome("pass", 1.0, None, {**details, "tests_passed": plan.tests_total})
        return self._replay(problem, plan, outcomes, details)

    @staticmethod
    def _candidate_failure(run: RunResult) -> str | None:
        if run.status == "timeout":
            return TIMEOUT_MESSAGE
        if run.status == "output_limit":
            return "the program exceeded the output limit"
        if run.status == "signaled":
            return f"the program was killed by signal {run.signal}"
        if run.exit_code != 0:
            return f"the program exited with code {run.exit_code}: {_tail(run.stderr, 500)}"
        return None

    def _replay(self, problem: Problem, plan: Plan, outcomes: list[Any], details: dict[str, Any]) -> Outcome:
        payload = {**self._payload(problem, "replay"), "calls": plan.calls, "outcomes": outcomes}
        run = self.judges.run(f"{RUNNER}:run_tests", payload, limits=self.judge_limits, fork=False)
        if run.status == "timeout":
            return Outcome("fail", 0.0, "the tests timed out on the program's results",
                           {**details, "tests_passed": 0})
        data = _load(run)
        if run.infrastructure_failure or run.exit_code != 0 or not isinstance(data, dict):
            return Outcome("no_verdict", None,
                           f"judge failure ({run.status}): {run.error or _tail(run.stderr, 500)}",
                           details)
        statements = data["statements"]
        tests = [s for s in statements if s["test"]] or statements
        passed = sum(s["ok"] for s in tests)
        failed = [s for s in statements if not s["ok"]]
        score = passed / len(tests)
        details = {**details, "tests_passed": passed, "tests_total": len(tests)}
        if failed:
            error = f"test at line {failed[0]['line']} failed: {failed[0]['error']}"
            return Outcome("fail", score, error, details)
        return Outcome("pass", 1.0, None, details)
