"""The `search` environment: answer a question by searching a local BM25 index.

Each turn the assistant reasons in `<think>…</think>` and then searches (`<search>query</search>`,
answered by a user message `<information>…</information>` with the top documents) or answers
(`<answer>…</answer>`, which ends the episode and is scored by exact match and token F1 against
the gold answers). The episode also ends after `max_turns` turns without an answer.

Arguments (all optional, recorded in every episode's `env.args`):

    corpus        path of a JSONL corpus, one `{id, title, content}` per line (default: shipped)
    questions     path of a JSONL question file, `{id, question, answers, split?}` (default: shipped)
    top_k         documents per search (3)
    max_turns     turns before the episode ends unanswered (8)
    max_searches  searches allowed; one more is an invalid step (5)
    reward        the reward component the reward is: `exact_match` (default) or `f1`
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.environment import EnvError, Environment, Session, Summary
from harness.episode import Message, Outcome, Step, StepStatus, Task
from harness_search.actions import Action, Invalid, parse_action
from harness_search.data_files import Question, read_documents, read_questions
from harness_search.prompts import feedback, task_prompt
from harness_search.rendering import render_information
from harness_search.retrieval import Bm25Index
from harness_search.scoring import exact_match, token_f1

SHIPPED = Path(__file__).parent / "data"
REWARDS = ("exact_match", "f1")
DEFAULTS: dict[str, Any] = {"top_k": 3, "max_turns": 8, "max_searches": 5, "reward": "exact_match"}


class SearchEnvironment(Environment):
    name = "search"
    version = importlib.metadata.version("harness-search")

    def __init__(self, **args: Any) -> None:
        unknown = sorted(set(args) - {"corpus", "questions", *DEFAULTS})
        if unknown:
            known = ", ".join(["corpus", "questions", *DEFAULTS])
            raise EnvError(f"search: unknown argument(s) {', '.join(unknown)} (known: {known})")
        settings = {**DEFAULTS, **{k: v for k, v in args.items() if k in DEFAULTS}}
        for key in ("top_k", "max_turns", "max_searches"):
            value = settings[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EnvError(f"search: {key} must be a positive integer, got {value!r}")
        if settings["reward"] not in REWARDS:
            raise EnvError(f"search: reward must be one of {', '.join(REWARDS)}, got {settings['reward']!r}")
        # paths are recorded as strings so env.args stays JSON; the shipped files are not recorded
        paths = {k: str(args[k]) for k in ("corpus", "questions") if args.get(k) is not None}
        super().__init__(**paths, **settings)
        self.top_k: int = settings["top_k"]
        self.max_turns: int = settings["max_turns"]
        self.max_searches: int = settings["max_searches"]
        self.reward_name: str = settings["reward"]
        self.documents = read_documents(paths.get("corpus", SHIPPED / "corpus.jsonl"))
        self.questions = read_questions(paths.get("questions", SHIPPED / "questions.jsonl"))
        # built once: the engine looks tasks up by id, and a user's file may hold many thousands
        self._tasks = [_task(q) for q in self.questions]
        self._by_id = {str(t.id): t for t in self._tasks}
        self._index: Bm25Index | None = None
        self._index_lock = threading.Lock()

    def index(self) -> Bm25Index:
        """The BM25 index of the corpus, built on first use and shared by every session."""
        with self._index_lock:
            if self._index is None:
                self._index = Bm25Index(self.documents)
            return self._index

    def splits(self) -> list[str]:
        return list(dict.fromkeys(q.split for q in self.questions))

    def tasks(self, split: str | None = None) -> Iterable[Task]:
        if split is not None and split not in self.splits():
            raise EnvError(f"search: no split {split!r} (splits: {', '.join(self.splits())})")
        return [t for t in self._tasks if split is None or t.split == split]

    def task(self, task_id: str | int) -> Task:
        try:
            return self._by_id[str(task_id)]
        except KeyError:
            raise EnvError(f"search: no task with id {task_id!r}") from None

    def new_session(self, task: Task, seed: int) -> SearchSession:
        return SearchSession(self, task, seed)


def _task(question: Question) -> Task:
    data = {"question": question.question, "answers": question.answers, **question.extra}
    return Task(id=question.id, split=question.split, data=data)


class SearchSession(Session):
    env: SearchEnvironment

    def __init__(self, env: SearchEnvironment, task: Task, seed: int) -> None:
        super().__init__(env, task, seed)
        question, answers = task.data.get("question"), task.data.get("answers")
        if not isinstance(question, str) or not isinstance(answers, list):
            raise EnvError(
                f"search: task {task.id!r} needs data.question (a string) and data.answers (a list)"
            )
        self.question: str = question
        self.answers: list[str] = answers
        self.prompt = [
            Message(
                role="user",
                content=task_prompt(
                    question,
                    top_k=env.top_k,
                    max_searches=env.max_searches,
                    max_turns=env.max_turns,
                ),
            )
        ]
        self.queries: list[str] = []
        self.retrieved: list[list[str | int]] = []
        self.invalid_steps = 0
        self.answer: str | None = None

    def transition(self, action: str) -> Step:
        parsed = parse_action(action)
        last_turn = len(self.steps) + 1 >= self.env.max_turns
        if isinstance(parsed, Action) and parsed.kind == "search" and len(self.queries) >= self.env.max_searches:
            parsed = Invalid("max_searches_reached", parsed.reasoning)
        info: dict[str, Any] = {"reasoning": parsed.reasoning} if parsed.reasoning else {}

        if isinstance(parsed, Invalid):
            self.invalid_steps += 1
            step = Step(
                action=action,
                status=StepStatus(valid=False, reason=parsed.reason, label="invalid"),
                observation=[] if last_turn else [Message(role="user", content=feedback(parsed.reason))],
                info=info,
            )
        elif parsed.kind == "answer":
            self.answer = parsed.text
            components = self._components()
            info.update(answer=parsed.text, complete_reason="answered")
            return Step(
                action=action,
                status=StepStatus(label="answer"),
                reward=components[self.env.reward_name],
                done=True,
                info=info,
            )
        elif last_turn:
            # the episode ends here, so the search is recorded but not run: nobody would read it
            info["search"] = {"query": parsed.text}
            step = Step(action=action, status=StepStatus(label="search", reason="max_turns_reached"), info=info)
        else:
            documents = [d.as_dict() for d in self.env.index().search(parsed.text, self.env.top_k)]
            self.queries.append(parsed.text)
            self.retrieved.append([d["id"] for d in documents])
            info.update(search={"query": parsed.text}, documents=documents)
            step = Step(
                action=action,
                status=StepStatus(label="search", reason=None if documents else "no_documents_matched"),
                observation=[Message(role="user", content=render_information(documents))],
                info=info,
            )

        if last_turn:
            step.done = True
            step.reward = 0.0
            step.info["complete_reason"] = "max_turns_reached"
        return step

    def _components(self) -> dict[str, float]:
        if self.answer is None:
            return {"exact_match": 0.0, "f1": 0.0}
        return {
            "exact_match": exact_match(self.answer, self.answers),
            "f1": token_f1(self.answer, self.answers),
        }

    def summary(self) -> Summary:
        info = {"answer": self.answer, "searches": len(self.queries), "invalid_steps": self.invalid_steps}
        if not self.done:
            return Summary(reward=None, outcome=Outcome(done=False), info=info)
        components = self._components()
        return Summary(
            reward=components[self.env.reward_name],
            outcome=Outcome(done=True, reason=self.end_reason, success=components["exact_match"] == 1.0),
            reward_components=components,
            info=info,
        )

    def state(self) -> dict[str, Any]:
        return {
            "task_id": self.task.id,
            "seed": self.seed,
            "turns": len(self.steps),
            "queries": list(self.queries),
            "retrieved": [list(ids) for ids in self.retrieved],
            "invalid_steps": self.invalid_steps,
            "answer": self.answer,
            "done": self.done,
            "end_reason": self.end_reason,
        }
