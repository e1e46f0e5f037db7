"""A tiny real environment for the engine tests: guess the task's secret word within a few turns.

Actions containing `FAIL` make `step` raise (an environment bug the engine must record), so
tests can mix failing episodes into a run. Each step notes whether it ran on the event loop's
thread, and `prompt_padding` words make the prompt as long as a test needs.
"""

from __future__ import annotations

import threading
from typing import Any

from harness.environment import Environment, Session, Summary
from harness.episode import Message, Outcome, Step, StepStatus, Task


class GuessSession(Session):
    def transition(self, action: str) -> Step:
        if "FAIL" in action:
            raise RuntimeError(f"tiny env refuses {action!r}")
        secret = self.task.data["secret"]
        won = secret in action
        last = won or len(self.steps) + 1 >= self.env.args.get("max_turns", 3)
        if won:
            self.end_reason = "found"
        elif last:
            self.end_reason = "out_of_turns"
        return Step(
            action=action,
            observation=[] if last else [Message(role="user", content="No, try again.")],
            status=StepStatus(valid=True, label="correct" if won else "incorrect"),
            reward=1.0 if won else 0.0,
            done=last,
            info={"turn": len(self.steps), "main_thread": threading.current_thread() is threading.main_thread()},
        )

    def summary(self) -> Summary:
        won = self.end_reason == "found"
        return Summary(
            reward=1.0 if won else 0.0,
            outcome=Outcome(done=self.done, reason=self.end_reason, success=won if self.done else None),
            reward_components={"found": 1.0 if won else 0.0},
            info={"turns": len(self.steps)},
        )

    def state(self) -> dict[str, Any]:
        return {"turns": len(self.steps)}


class GuessEnv(Environment):
    name = "tiny-guess"
    version = "0.0.1"

    def splits(self) -> list[str]:
        return ["train"]

    def tasks(self, split: str | None = None):
        for i in range(self.args.get("n_tasks", 4)):
            yield Task(id=f"t{i}", split="train", data={"secret": f"word{i}"})

    def new_session(self, task: Task, seed: int) -> GuessSession:
        session = GuessSession(self, task, seed)
        order = ["alpha", "beta", "gamma"]
        session.rng.shuffle(order)
        session.prompt = [
            Message(role="system", content="Guess the secret word."),
            Message(role="user", content=f"Task {task.id}. Hints: {', '.join(order)}."
                    + " pad" * self.args.get("prompt_padding", 0)),
        ]
        return session
