"""The `data-analysis` environment (seed 000): answer a question about `df` by running Python.

    env = DataAnalysisEnvironment(csvs=["iris"], hint=True)
    task = env.task("iris-group_mean-00")
    session = env.start(task, seed=0)
    step = session.step("Group, then average.\\n```python\\nsubmit(df.groupby('species')...)\\n```")

Each assistant message is reasoning plus a ```python block. The code runs in the session's
persistent interpreter (`harness_data_analysis.interpreter`); the observation is a user message
`[stdout]:\\n…` and/or `[stderr]:\\n…` (long output cut in the middle). `submit(answer)` ends
the episode; the reward is 1.0 when the answer matches the ground truth (same hash, or within
the numeric tolerance of `values.answers_match`), else 0.0. Each step's `info` is the seed's
turn: `{turn_index, reasoning, code, execution: {success, stdout, stderr, hooks,
submitted_answer}}` plus `elapsed_s`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable
from typing import Any

import pandas as pd

from harness.environment import EnvError, Environment, Session, Summary, derive_seed
from harness.episode import Message, Outcome, Step, StepStatus, Task
from harness.sandbox.levels import IsolationLevel
from harness.sandbox.limits import Limits
from harness_data_analysis import __version__
from harness_data_analysis.actions import parse_action
from harness_data_analysis.datasets import DEFAULT_SOURCES, load_frame, resolve_source
from harness_data_analysis.interpreter import Execution, Interpreter, InterpreterError, SessionLimits
from harness_data_analysis.templates import TEMPLATES, make_questions
from harness_data_analysis.values import answers_match, value_hash

SPLITS = ("train", "test")
TEST_SHARE = 5  # one task in five (by a hash of its id) is in the test split

# name -> (accepted types, default)
ARGS: dict[str, tuple[tuple[type, ...], Any]] = {
    "csvs": ((list,), list(DEFAULT_SOURCES)),
    "questions_per_template": ((int,), 2),
    "templates": ((list, type(None)), None),
    "hint": ((bool,), True),
    "max_turns": ((int,), 8),
    "exec_timeout_s": ((int, float), 30),
    "cpu_s": ((int, float, type(None)), None),  # None: the same as exec_timeout_s
    "memory_mb": ((int,), 2048),
    "max_action_chars": ((int,), 20_000),
    "max_observation_chars": ((int,), 4_000),
    "isolation": ((str, type(None)), None),  # None: harness.sandbox's default level
}


class DataAnalysisEnvironment(Environment):
    """Template questions over CSV files (see the module docstring and docs/data_analysis.md)."""

    name = "data-analysis"
    version = __version__

    def __init__(self, **args: Any) -> None:
        super().__init__(**args)
        unknown = sorted(set(args) - set(ARGS))
        if unknown:
            raise EnvError(
                f"{self.name}: unknown argument(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(ARGS))})"
            )
        self.options: dict[str, Any] = {}
        for key, (types, default) in ARGS.items():
            value = args.get(key, default)
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise EnvError(f"{self.name}: argument {key}={value!r} has the wrong type")
            self.options[key] = value
        known = {t.name for t in TEMPLATES}
        wanted = self.options["templates"]
        if wanted is not None and set(wanted) - known:
            raise EnvError(
                f"{self.name}: unknown template(s) {', '.join(sorted(set(wanted) - known))} "
                f"(known: {', '.join(sorted(known))})"
            )
        if self.options["max_turns"] < 1 or self.options["questions_per_template"] < 1:
            raise EnvError(f"{self.name}: max_turns and questions_per_template must be >= 1")
        if self.options["isolation"] is not None:
            try:
                IsolationLevel.parse(self.options["isolation"])
            except ValueError as exc:
                raise EnvError(f"{self.name}: argument isolation: {exc}") from None
        timeout = float(self.options["exec_timeout_s"])
        cpu = float(self.options["cpu_s"] if self.options["cpu_s"] is not None else timeout)
        self.limits = SessionLimits(
            run=Limits(wall_seconds=timeout, cpu_seconds=math.ceil(cpu),
                       memory_bytes=self.options["memory_mb"] << 20),
            cpu_total_seconds=math.ceil(cpu * self.options["max_turns"] + 10),
        )
        self.sources = [resolve_source(str(s)) for s in self.options["csvs"]]
        self._lock = threading.Lock()
        self._frames: dict[str, pd.DataFrame] = {}
        self._tasks: list[Task] | None = None

    # -- tasks -------------------------------------------------------------------------------------

    def splits(self) -> list[str]:
        return list(SPLITS)

    def tasks(self, split: str | None = None) -> Iterable[Task]:
        if split is not None and split not in SPLITS:
            raise EnvError(f"{self.name}: no split {split!r} (splits: {', '.join(SPLITS)})")
        return [t for t in self._all_tasks() if split is None or t.split == split]

    def frame(self, csv_source: str) -> pd.DataFrame:
        """The DataFrame of a source (loaded once per environment)."""
        with self._lock:
            if csv_source not in self._frames:
                self._frames[csv_source] = load_frame(csv_source)
            return self._frames[csv_source]

    def _all_tasks(self) -> list[Task]:
        if self._tasks is not None:
            return self._tasks
        wanted = self.options["templates"]
        templates = tuple(t for t in TEMPLATES if wanted is None or t.name in wanted)
        tasks: list[Task] = []
        owner: dict[str, str] = {}
        for source in self.sources:
            questions = make_questions(
                self.frame(source), source, self.options["questions_per_template"], templates
            )
            for q in questions:
                task_id = q.data["id"]
                if task_id in owner:
                    raise EnvError(
                        f"{self.name}: {source} and {owner[task_id]} give the same task id "
                        f"{task_id!r}; rename one of the files"
                    )
                owner[task_id] = source
                test = derive_seed(self.name, task_id) % TEST_SHARE == 0
                tasks.append(
                    Task(
                        id=task_id,
                        split="test" if test else "train",
                        data={
                            "csv_source": source,
                            "question": q.data,
                            "gold_program": q.gold_program,
                        },
                    )
                )
        with self._lock:
            self._tasks = tasks
        return tasks

    # -- sessions ----------------------------------------------------------------------------------

    def new_session(self, task: Task, seed: int) -> DataAnalysisSession:
        return DataAnalysisSession(self, task, seed)

    def prompt(self, task: Task) -> list[Message]:
        """The system prompt (the data and the two functions) and the question, with its hint."""
        source = task.data["csv_source"]
        frame = self.frame(source)
        columns = ", ".join(f"`{c}` ({frame[c].dtype})" for c in frame.columns)
        system = (
            f"You are a data analyst. A pandas DataFrame `df` has been loaded from {source}: "
            f"{len(frame)} rows, columns {columns}.\n"
            "Answer the user's question by running Python. In each reply, explain briefly what "
            "you will do, then give one ```python code block. The code runs in a persistent "
            "interpreter (variables stay defined between replies; `pd` and `np` are imported) "
            "and you are shown what it prints.\n"
            "Two functions are available:\n"
            "- submit(answer): submit your final answer, in the form the question asks for; "
            "this ends the conversation.\n"
            '- hook(value, name="..."): record an intermediate value you computed.\n'
            "Always finish by calling submit()."
        )
        question = task.data["question"]
        user = question["question_text"]
        if self.options["hint"] and question.get("hint"):
            user += f"\n\nHint: {question['hint']}"
        return [Message(role="system", content=system), Message(role="user", content=user)]


class DataAnalysisSession(Session):
    env: DataAnalysisEnvironment

    def __init__(self, env: DataAnalysisEnvironment, task: Task, seed: int) -> None:
        super().__init__(env, task, seed)
        self.question: dict[str, Any] = task.data["question"]
        self.prompt = env.prompt(task)
        # Refuses (SandboxUnavailable) when the machine cannot isolate model code well enough.
        self.interpreter = Interpreter(
            task.data["csv_source"], seed, env.limits, isolation=env.options["isolation"]
        )
        self.turns: list[dict[str, Any]] = []  # executed turns, in the seed's shape
        self.submitted = False
        self.answer: Any = None
        self.correct = False
        self.hash_match = False

    # -- one step ----------------------------------------------------------------------------------

    def transition(self, action: str) -> Step:
        options = self.env.options
        last_turn = len(self.steps) + 1 >= options["max_turns"]
        parsed = parse_action(action, options["max_action_chars"])
        if parsed.invalid is not None:
            step = Step(
                action=action,
                observation=[Message(role="user", content=parsed.feedback)],
                status=StepStatus(valid=False, reason=parsed.invalid, label="invalid"),
            )
            return self._finish(step, "max_turns_reached") if last_turn else step

        turn_index = len(self.turns)
        started = time.monotonic()
        lost = None
        try:
            execution = self.interpreter.run(parsed.code, f"<turn {turn_index}>")
        except InterpreterError as exc:  # the interpreter could not be (re)started
            execution = Execution(success=False, stderr=f"{exc}\n", killed="interpreter_lost")
            lost = "interpreter_lost"
        turn = {
            "turn_index": turn_index,
            "reasoning": parsed.reasoning,
            "code": parsed.code,
            "execution": {
                "success": execution.success,
                "stdout": execution.stdout,
                "stderr": execution.stderr,
                "hooks": execution.hooks,
                "submitted_answer": execution.submitted_answer,
            },
        }
        self.turns.append(turn)
        info = {**turn, "elapsed_s": round(time.monotonic() - started, 3)}
        if execution.submitted:
            self.submitted, self.answer = True, execution.submitted_answer
            self.hash_match = value_hash(self.answer) == self.question["ground_truth_hash"]
            decimals = self.question["template_params"].get("decimals")
            self.correct = self.hash_match or answers_match(
                self.answer, self.question["ground_truth"], decimals
            )
            step = Step(
                action=action,
                status=StepStatus(valid=True, label="submitted"),
                reward=1.0 if self.correct else 0.0,
                info=info,
            )
            return self._finish(step, "submitted")
        step = Step(
            action=action,
            observation=[
                Message(role="user", content=self._observation(execution.stdout, execution.stderr))
            ],
            status=StepStatus(
                valid=True,
                reason=execution.killed,
                label="executed" if execution.success else "execution_error",
            ),
            info=info,
        )
        if lost or last_turn:
            return self._finish(step, lost or "max_turns_reached")
        return step

    def _finish(self, step: Step, reason: str) -> Step:
        step.done = True
        step.observation = []  # nobody reads an answer to the last turn
        if step.reward is None:
            step.reward = 1.0 if self.correct else 0.0
        self.end_reason = reason
        self.interpreter.close()
        return step

    def _observation(self, stdout: str, stderr: str) -> str:
        limit = self.env.options["max_observation_chars"]
        streams = (("stdout", stdout), ("stderr", stderr))
        parts = [f"[{name}]:\n{_cut(text, limit)}" for name, text in streams if text]
        return "\n".join(parts) or "[no output]"

    # -- the episode -------------------------------------------------------------------------------

    def summary(self) -> Summary:
        answer_hash = value_hash(self.answer) if self.submitted else None
        return Summary(
            reward=(1.0 if self.correct else 0.0) if self.done else None,
            outcome=Outcome(
                done=self.done,
                reason=self.end_reason,
                success=self.correct if self.done else None,
            ),
            reward_components={
                "answer_correct": float(self.correct),
                "hash_match": float(self.hash_match),
                "submitted": float(self.submitted),
            },
            info={
                "final_answer": self.answer,
                "final_answer_hash": answer_hash,
                "ground_truth_hash": self.question["ground_truth_hash"],
                "turns": len(self.turns),
                "interpreter_restarts": self.interpreter.restarts,
                "isolation": self.interpreter.level.label,
                "hint_shown": bool(self.env.options["hint"]),
            },
        )

    def state(self) -> dict[str, Any]:
        return {
            "turn_count": len(self.turns),
            "steps": len(self.steps),
            "hooks": [h for t in self.turns for h in t["execution"]["hooks"]],
            "outputs": [
                {k: t["execution"][k] for k in ("success", "stdout", "stderr")} for t in self.turns
            ],
            "submitted": self.submitted,
            "submitted_answer": self.answer,
            "done": self.done,
            "end_reason": self.end_reason,
        }

    def end(self, reason: str) -> None:
        super().end(reason)
        self.interpreter.close()

    def close(self) -> None:
        self.interpreter.close()


def _cut(text: str, limit: int) -> str:
    """Text of at most about `limit` characters: the head and the tail, the middle cut out."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit // 2], text[len(text) - limit // 2 :]
    return f"{head}\n... [{len(text) - len(head) - len(tail)} characters cut] ...\n{tail}"
