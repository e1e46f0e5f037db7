"""Environments for the conformance tests: `Tally`, which keeps every rule, and one subclass per
way of breaking one. Each broken one changes as little as it can, so that a test can say which
rule the check must name. They live in a module of their own so that the check can import them
again in another process (its determinism-across-processes rule)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

from harness.environment import Environment, Session, Summary
from harness.episode import Message, Outcome, Step, StepStatus, Task

ADD = re.compile(r"<add>\s*([0-9]{1,3})\s*</add>")


class TallySession(Session):
    """Add 1, 2 or 3 to a total, starting from a seeded offset, until it reaches the target."""

    def __init__(self, env: Tally, task: Task, seed: int) -> None:
        super().__init__(env, task, seed)
        self.target: int = task.data["target"]
        self.total = self.rng.randint(0, 2)
        self.max_turns: int = env.args.get("max_turns", 6)
        self.prompt = [Message(role="user", content=(
            f"The total is {self.total}. Add 1, 2 or 3 with <add>K</add> until it is exactly "
            f"{self.target}."))]

    def transition(self, action: str) -> Step:
        found = ADD.findall(action)
        amount = int(found[-1]) if found else 0
        info: dict[str, Any] = {}
        if not 1 <= amount <= 3:
            step = self.make_step("Add 1, 2 or 3: <add>K</add>.", valid=False, label="invalid")
        else:
            self.total += amount
            step = self.make_step(f"The total is {self.total}.", label="added")
            if self.total >= self.target:
                step.done = True
                step.reward = 1.0 if self.total == self.target else 0.0
                info["complete_reason"] = "reached" if self.total == self.target else "overshot"
        if not step.done and len(self.steps) + 1 >= self.max_turns:
            step.done = True
            info["complete_reason"] = "max_turns_reached"
        step.info.update(info)
        return step

    def make_step(self, text: str, *, valid: bool = True, label: str) -> Step:
        return Step(action="", observation=[Message(role="user", content=text)],
                    status=StepStatus(valid=valid, reason=None if valid else "no <add>K</add>", label=label),
                    reward=0.0, info={"total": self.total})

    def summary(self) -> Summary:
        won = self.total == self.target
        return Summary(reward=1.0 if won else 0.0,
                       outcome=Outcome(done=self.done, reason=self.end_reason, success=won),
                       reward_components={"reached": 1.0 if won else 0.0},
                       info={"total": self.total})

    def state(self) -> dict[str, Any]:
        return {"total": self.total, "turns": len(self.steps), "done": self.done}


class Tally(Environment):
    name = "tally"
    version = "1.0"
    session_class: type[TallySession] = TallySession

    def splits(self) -> list[str]:
        return ["train", "test"]

    def tasks(self, split: str | None = None) -> Iterable[Task]:
        for target in (5, 7, 9):
            for task_split in ("train", "test"):
                if split in (None, task_split):
                    yield Task(id=f"{task_split}-{target}", split=task_split, data={"target": target})

    def new_session(self, task: Task, seed: int) -> TallySession:
        return self.session_class(self, task, seed)


# -- identity, arguments, tasks, splits --------------------------------------------------------


class NoVersion(Tally):
    version = ""


class ArgsNotKept(Tally):
    def __init__(self, max_turns: int = 6) -> None:
        super().__init__()  # forgets to pass max_turns on: episodes would not record it
        self.max_turns = max_turns


class DuplicateIds(Tally):
    def tasks(self, split: str | None = None) -> Iterable[Task]:
        for task in super().tasks(split):
            yield task.model_copy(update={"id": f"t-{task.data['target']}"})


class UnstableOrder(Tally):
    def tasks(self, split: str | None = None) -> Iterable[Task]:
        tasks = list(super().tasks(split))
        random.shuffle(tasks)  # the process's random generator: another order on each call
        return tasks


class NoTasks(Tally):
    def tasks(self, split: str | None = None) -> Iterable[Task]:
        return []


class TupleData(Tally):
    def tasks(self, split: str | None = None) -> Iterable[Task]:
        for task in super().tasks(split):
            yield task.model_copy(update={"data": {**task.data, "range": (1, 3)}})


class UnnamedSplit(Tally):
    def splits(self) -> list[str]:
        return ["train"]


class SplitIgnored(Tally):
    def tasks(self, split: str | None = None) -> Iterable[Task]:
        return super().tasks(None)  # lists every task whatever the split


# -- prompt, json -----------------------------------------------------------------------------


class EmptyPromptSession(TallySession):
    def __init__(self, env: Tally, task: Task, seed: int) -> None:
        super().__init__(env, task, seed)
        self.prompt = []


class EmptyPrompt(Tally):
    session_class = EmptyPromptSession


class SetInfoSession(TallySession):
    def transition(self, action: str) -> Step:
        step = super().transition(action)
        step.info["seen"] = {self.total}
        return step


class SetInInfo(Tally):
    session_class = SetInfoSession


class TupleStateSession(TallySession):
    def state(self) -> dict[str, Any]:
        return {**super().state(), "history": tuple(s.action[:5] for s in self.steps)}


class TupleState(Tally):
    session_class = TupleStateSession


# -- determinism, replay, state ------------------------------------------------------------------


class GlobalRandomSession(TallySession):
    def transition(self, action: str) -> Step:
        step = super().transition(action)
        step.observation[0].content += f" (lucky number {random.randint(0, 10**9)})"  # not self.rng
        return step


class GlobalRandom(Tally):
    session_class = GlobalRandomSession


FRUITS = ("apple", "pear", "plum", "fig", "kiwi", "lime", "date", "sloe", "yuzu", "quince")


class HashOrderSession(TallySession):
    def transition(self, action: str) -> Step:
        step = super().transition(action)
        # a set of strings iterates in an order that changes with the process's hash seed
        step.observation[0].content += " Fruits: " + ", ".join(set(FRUITS))
        return step


class HashOrder(Tally):
    session_class = HashOrderSession


class DropsLastAction(Tally):
    def start(self, task: Task, seed: int, actions: Sequence[str] = ()) -> Session:
        return super().start(task, seed, actions[:-1])  # an off-by-one in a hand-written replay


class ForgetsTurnsSession(TallySession):
    def state(self) -> dict[str, Any]:
        return {"total": self.total, "done": self.done}  # the turn count decides the end, too


class ForgetsTurns(Tally):
    session_class = ForgetsTurnsSession


# -- robustness, complete_reason, engine ---------------------------------------------------------


class RaisesOnGarbageSession(TallySession):
    def transition(self, action: str) -> Step:
        if len(action) > 50_000:
            raise ValueError("message too long")
        return super().transition(action)


class RaisesOnGarbage(Tally):
    session_class = RaisesOnGarbageSession


class AcceptsAnythingSession(TallySession):
    def transition(self, action: str) -> Step:
        step = super().transition(action)
        step.status = StepStatus(valid=True, label="noted")
        return step


class AcceptsAnything(Tally):
    session_class = AcceptsAnythingSession


class NoReasonSession(TallySession):
    def transition(self, action: str) -> Step:
        step = super().transition(action)
        step.info.pop("complete_reason", None)
        return step


class NoReason(Tally):
    session_class = NoReasonSession


class ConstantOutcomeSession(TallySession):
    def summary(self) -> Summary:
        summary = super().summary()
        summary.outcome = Outcome(done=self.done, reason="over" if self.done else None,
                                  success=summary.outcome.success)
        return summary


class ConstantOutcome(Tally):
    session_class = ConstantOutcomeSession


class NeverEndsSession(TallySession):
    def __init__(self, env: Tally, task: Task, seed: int) -> None:
        super().__init__(env, task, seed)
        self.max_turns = 10**9  # leaves the end to the engine's safety cap


class NeverEnds(Tally):
    session_class = NeverEndsSession


class NanRewardSession(TallySession):
    def summary(self) -> Summary:
        summary = super().summary()
        summary.reward = float("nan") if self.done else summary.reward
        return summary


class NanReward(Tally):
    session_class = NanRewardSession


class BadAstepSession(TallySession):
    async def astep(self, action: str) -> Step:
        return self.transition(action)  # native async, but skips step(): nothing is recorded


class BadAstep(Tally):
    session_class = BadAstepSession
