"""Guess a secret number between 1 and `high`; the environment answers higher or lower."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from harness.environment import Environment, Session, Summary
from harness.episode import Message, Outcome, Step, StepStatus, Task

GUESS = re.compile(r"<guess>\s*(-?\d{1,9})\s*</guess>")


class GuessNumberSession(Session):
    def __init__(self, env: GuessNumber, task: Task, seed: int) -> None:
        super().__init__(env, task, seed)
        self.high: int = task.data["high"]
        self.secret = self.rng.randint(1, self.high)
        self.max_turns: int = env.args.get("max_turns", 8)
        self.guesses: list[int] = []
        self.prompt = [
            Message(
                role="user",
                content=f"I picked a number from 1 to {self.high}. "
                "Guess it: answer with <guess>N</guess>.",
            )
        ]

    def transition(self, action: str) -> Step:
        found = GUESS.findall(action)
        if not found:
            step = self._step("invalid", "Answer with <guess>N</guess>.", valid=False)
        else:
            guess = int(found[-1])
            self.guesses.append(guess)
            if guess == self.secret:
                step = self._step("correct", "Correct!", done=True, reward=1.0)
            else:
                step = self._step("higher" if guess < self.secret else "lower",
                                  "Higher." if guess < self.secret else "Lower.")
        if not step.done and len(self.steps) + 1 >= self.max_turns:
            step.done = True
            step.info["complete_reason"] = "max_turns_reached"
        return step

    def _step(self, label: str, text: str, *, valid: bool = True, done: bool = False,
              reward: float = 0.0) -> Step:
        info: dict[str, Any] = {"complete_reason": "found"} if done else {}
        return Step(
            action="",
            observation=[Message(role="user", content=text)],
            status=StepStatus(valid=valid, reason=None if valid else "no guess tag", label=label),
            reward=reward,
            done=done,
            info=info,
        )

    def summary(self) -> Summary:
        won = bool(self.guesses) and self.guesses[-1] == self.secret
        return Summary(
            reward=1.0 if won else 0.0,
            outcome=Outcome(done=self.done, reason=self.end_reason, success=won),
            reward_components={"found": 1.0 if won else 0.0},
            info={"secret": self.secret, "guesses": list(self.guesses)},
        )

    def state(self) -> dict[str, Any]:
        # The turn count decides when max_turns ends the game, so it is part of the state.
        return {"secret": self.secret, "guesses": list(self.guesses), "turns": len(self.steps),
                "done": self.done}


class GuessNumber(Environment):
    name = "guess-number"
    version = "1.0.0"

    def splits(self) -> list[str]:
        return ["train", "test"]

    def tasks(self, split: str | None = None) -> Iterable[Task]:
        for high in (10, 100, 1000):
            for task_split in ("train", "test"):
                if split in (None, task_split):
                    yield Task(id=f"{task_split}-{high}", split=task_split, data={"high": high})

    def new_session(self, task: Task, seed: int) -> GuessNumberSession:
        return GuessNumberSession(self, task, seed)
