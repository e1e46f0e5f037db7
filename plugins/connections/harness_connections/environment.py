"""The `connections` environment: the Connections game (seed 001) behind the harness's API.

    env = ConnectionsEnv()                                # puzzles generated from the bank
    env = ConnectionsEnv(puzzles="nyt-connections.json")  # or read from files
    session = env.start(env.task(task_id), seed=0)
    step = session.step("... <guess>[`A`, `B`, `C`, `D`]</guess>")

A task carries its puzzle in `task.data["categories"]`, so a session needs nothing but the task.
Optional task data, all as in the seed's rollout records:

- `all_words`: the board order (else the words shuffled by the puzzle id);
- `prompt`: the conversation to continue, used verbatim as the session's prompt (a truncated
  example's own prompt: what the model sees is that prompt, byte for byte);
- `resumed_from_guess_history`: an earlier episode's guesses, replayed into a fresh game
  (doctoring). Without a `prompt`, the kept turns are rebuilt into ours from
  `resumed_from_actions` (the assistant texts of those guesses; without it, each is written as a
  bare guess tag) and the records' feedback.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from typing import Any

from harness.environment import EnvError, Environment, Session, Summary
from harness.episode import Episode, Message, Outcome, Step, StepStatus, Task
from harness_connections import bank, doctoring, prompts
from harness_connections.game import FOUND, Game, RestoreError
from harness_connections.guess import format_guess, parse_guess
from harness_connections.puzzles import (
    Puzzle,
    PuzzleError,
    assign_split,
    board_order,
    load_puzzles,
    parse_categories,
    parse_prompt,
    shown_words,
)
from harness_connections.reward import reward_components, total_reward

VERSION = "1.0.0"  # the distribution's version; rules may change between versions


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EnvError(f"connections: {name} must be a positive integer, got {value!r}")
    return value


class ConnectionsEnv(Environment):
    """Args (all JSON, all recorded in `env.args`):

    - `puzzles`: a path or list of paths of puzzle files; absent → puzzles from the bank;
    - `count`, `generator_seed`, `groups`, `group_size`: what the bank generates (200, 0, 4, 4);
    - `test_fraction`: share of puzzles in `test` when a puzzle has no `split` of its own (0.2);
    - `max_mistakes` (4), `max_turns` (10);
    - `skip_invalid`: leave bad puzzles of the files out (listed in `skipped`, with a warning)
      instead of failing on the first one (False); a row that continues a game (a seed
      truncated example) is bad too when its recorded history does not fit its puzzle.
    """

    name = "connections"
    version = VERSION

    def __init__(
        self,
        puzzles: str | list[str] | None = None,
        count: int = 200,
        generator_seed: int = 0,
        groups: int = 4,
        group_size: int = 4,
        test_fraction: float = 0.2,
        max_mistakes: int = 4,
        max_turns: int = 10,
        skip_invalid: bool = False,
    ) -> None:
        self.skipped: list[PuzzleError] = []  # puzzles left out by skip_invalid, with why
        self.max_mistakes = _positive_int("max_mistakes", max_mistakes)
        self.max_turns = _positive_int("max_turns", max_turns)
        if (
            isinstance(test_fraction, bool)
            or not isinstance(test_fraction, (int, float))
            or not 0 <= test_fraction <= 1
        ):
            raise EnvError(f"connections: test_fraction must be in [0, 1], got {test_fraction!r}")
        args: dict[str, Any] = {"test_fraction": test_fraction, "max_mistakes": max_mistakes, "max_turns": max_turns}
        try:
            if puzzles is not None:
                if isinstance(puzzles, (str, os.PathLike)):
                    puzzles = os.fspath(puzzles)
                elif isinstance(puzzles, list):
                    puzzles = [os.fspath(p) for p in puzzles]
                else:
                    raise EnvError(f"connections: puzzles must be a path or a list of paths, got {puzzles!r}")
                args["puzzles"] = puzzles
                if skip_invalid:
                    args["skip_invalid"] = True
                loaded = load_puzzles(puzzles, self.skipped if skip_invalid else None)
            else:
                args.update(count=count, generator_seed=generator_seed, groups=groups, group_size=group_size)
                loaded = bank.generate_puzzles(
                    _positive_int("count", count),
                    generator_seed,
                    groups=_positive_int("groups", groups),
                    group_size=_positive_int("group_size", group_size),
                )
        except (PuzzleError, bank.BankError) as exc:
            raise EnvError(f"connections: {exc}") from None
        super().__init__(**args)
        self._tasks = [self._task(p, test_fraction) for p in loaded]
        self._check_continued_tasks(skip_invalid)
        if self.skipped:
            warnings.warn(
                f"connections: left out {len(self.skipped)} invalid puzzle(s), the first: "
                f"{self.skipped[0]}",
                stacklevel=2,
            )

    def _check_continued_tasks(self, skip_invalid: bool) -> None:
        """Tasks that continue an earlier game (a recorded prompt or history) are started once
        here, so a history that does not fit its puzzle is an error at load, not per episode."""
        kept = []
        for task in self._tasks:
            if any(key in task.data for key in ("prompt", "resumed_from_guess_history")):
                try:
                    self.new_session(task, 0)
                except EnvError as exc:
                    if not skip_invalid:
                        raise
                    detail = str(exc).removeprefix(f"connections: task {task.id!r}: ")
                    field, _, reason = detail.partition(": ") if detail.startswith("/") else ("", "", detail)
                    self.skipped.append(PuzzleError(f"task {task.id!r}", field, reason))
                    continue
            kept.append(task)
        self._tasks = kept

    @staticmethod
    def _task(puzzle: Puzzle, test_fraction: float) -> Task:
        split = puzzle.split or assign_split(puzzle.puzzle_id, test_fraction)
        data = {"categories": [c.to_dict() for c in puzzle.categories], **puzzle.extra}
        return Task(id=puzzle.puzzle_id, split=split, data=data)

    def splits(self) -> list[str]:
        found = dict.fromkeys(["train", "test"])
        found.update(dict.fromkeys(t.split for t in self._tasks if t.split))
        return list(found)

    def tasks(self, split: str | None = None) -> Iterable[Task]:
        return [t for t in self._tasks if split is None or t.split == split]

    def new_session(self, task: Task, seed: int) -> ConnectionsSession:
        return ConnectionsSession(self, task, seed)

    # -- doctoring: seed 001's truncation and salvage quality (harness_connections.doctoring) --

    def salvage(self, episode: Episode) -> int | None:
        return doctoring.salvage(episode, self.max_mistakes)

    def salvage_quality(self, episode: Episode) -> float:
        return doctoring.salvage_quality(episode)

    def continuation(self, episode: Episode, kept: int) -> tuple[Task, tuple[str, ...]]:
        task = doctoring.seed_continuation(episode, self.max_mistakes)
        if task is None:
            return super().continuation(episode, kept)
        return self._task(task, self.args["test_fraction"]), ()


class ConnectionsSession(Session):
    env: ConnectionsEnv

    def __init__(self, env: ConnectionsEnv, task: Task, seed: int) -> None:
        super().__init__(env, task, seed)
        where = f"connections: task {task.id!r}"
        try:
            self.categories = parse_categories(task.data.get("categories"), where, "/data/categories")
            all_words = task.data.get("all_words")
            self.shown = (
                shown_words(task.id, self.categories)
                if all_words is None
                else board_order(all_words, self.categories, where, "/data/all_words")
            )
            own_prompt = task.data.get("prompt")
            if own_prompt is not None:
                own_prompt = parse_prompt(own_prompt, where, "/data/prompt")
        except PuzzleError as exc:
            raise EnvError(str(exc)) from None
        self.game = Game(self.categories, self.shown, env.max_mistakes)
        if own_prompt is not None:
            self.prompt = [Message.model_validate({"role": m["role"], "content": m["content"]}) for m in own_prompt]
        else:
            self.prompt = [
                Message(
                    role="system",
                    content=prompts.system_prompt(
                        len(self.categories), self.game.group_size, env.max_mistakes, env.max_turns
                    ),
                ),
                Message(role="user", content=prompts.board_message(self.shown)),
            ]
        self.resumed = len(task.data.get("resumed_from_guess_history") or [])
        if own_prompt is not None and task.data.get("resumed_from_actions") is not None:
            raise EnvError(
                f"{where}: /data/resumed_from_actions: rebuilds the prompt, but the task has its "
                "own /data/prompt (continued verbatim); give one of the two"
            )
        if self.resumed:
            self._resume(where, rebuild_turns=own_prompt is None)

    def _resume(self, where: str, rebuild_turns: bool) -> None:
        """Replay an earlier episode's guess history into the game; with `rebuild_turns`, its
        turns join our prompt (a task with its own prompt already holds them)."""
        history = self.task.data["resumed_from_guess_history"]
        actions = self.task.data.get("resumed_from_actions")
        if not isinstance(history, list):
            raise EnvError(f"{where}: /data/resumed_from_guess_history: expected a list of guess records")
        turns = sum(not (isinstance(r, dict) and r.get("status") == "auto") for r in history)
        if actions is not None and (
            not isinstance(actions, list)
            or len(actions) != turns
            or not all(isinstance(a, str) for a in actions)
        ):
            raise EnvError(
                f"{where}: /data/resumed_from_actions: expected {turns} strings, one per "
                "record of resumed_from_guess_history that is not `auto`"
            )
        actions = iter(actions) if actions is not None else None
        for i, record in enumerate(history):
            if self.game.over:
                raise EnvError(
                    f"{where}: /data/resumed_from_guess_history/{i}: the game already ended "
                    "before this record; nothing is left to play"
                )
            try:
                self.game.restore(record)
            except RestoreError as exc:
                raise EnvError(f"{where}: /data/resumed_from_guess_history/{i}{exc.field}: {exc.reason}") from None
            if not rebuild_turns or record["status"] == "auto":
                continue  # auto: completed by the game, not said by the model: no turn of its own
            text = next(actions) if actions is not None else format_guess([str(x) for x in record.get("items") or []])
            message = record.get("result_message")
            if not isinstance(message, str) or not message:
                message = self._default_message(record)
            self.prompt.append(Message(role="assistant", content=text))
            self.prompt.append(Message(role="user", content=f"{message}\n\n{self.game.status_line()}"))
        if self.game.over:
            raise EnvError(f"{where}: /data/resumed_from_guess_history: the game is already over after it")

    def _default_message(self, record: dict[str, Any]) -> str:
        """Feedback for a resumed record that carries none (records written by other tools)."""
        status = record["status"]
        if status in FOUND:
            category = self.categories[record["category_idx"]]
            return f"Correct! {category.group}: {', '.join(category.members)}"
        if status == "one_away":
            size = self.game.group_size
            return f"One away! {size - 1} of your {size} words belong to one group. This counts as a mistake."
        if status == "incorrect":
            return "Incorrect. This counts as a mistake."
        return "Invalid guess. This does not count as a mistake."

    # -- the API -------------------------------------------------------------------------------

    def transition(self, action: str) -> Step:
        records = self.game.guess(parse_guess(action))
        guess = records[0]
        info: dict[str, Any] = dict(guess)
        if len(records) > 1:
            info["auto_completed"] = records[1]
        reason = self._complete_reason(turns=len(self.steps) + 1)
        done = reason is not None
        if done:
            info["complete_reason"] = reason
        feedback = guess["result_message"]
        observation = [] if done else [Message(role="user", content=f"{feedback}\n\n{self.game.status_line()}")]
        return Step(
            action=action,
            observation=observation,
            status=StepStatus(
                valid=guess["status"] != "invalid", reason=guess.get("invalid_reason"), label=guess["status"]
            ),
            done=done,
            info=info,
        )

    def _complete_reason(self, turns: int) -> str | None:
        # The game's own ending wins over the turn limit: a last-turn win is a win.
        if self.game.won:
            return "all_categories_found"
        if self.game.lost:
            return "max_mistakes"
        if turns >= self.env.max_turns:
            return "max_turns_reached"
        return None

    def complete_reason(self) -> str | None:
        """Why the episode ended (also when the engine ended it, e.g. `prompt_too_long`)."""
        return self.end_reason if self.done else None

    def summary(self) -> Summary:
        history = self.game.history
        components = reward_components(history, len(self.categories))
        reason = self.complete_reason()
        info: dict[str, Any] = {
            "puzzle_id": self.task.id,
            "categories": [c.to_dict() for c in self.categories],
            "all_words": list(self.shown),
            "guess_history": [dict(r) for r in history],
            "complete_reason": reason,
            "mistakes": self.game.mistakes,
        }
        if self.resumed:
            info["resumed_from_guess_history"] = list(self.task.data["resumed_from_guess_history"])
        return Summary(
            reward=total_reward(components),
            outcome=Outcome(
                done=self.done, reason=reason, success=(reason == "all_categories_found") if self.done else None
            ),
            reward_components=components,
            info=info,
        )

    def state(self) -> dict[str, Any]:
        return {
            "puzzle_id": self.task.id,
            "found": list(self.game.found),
            "mistakes": self.game.mistakes,
            "turns": len(self.steps),
            "remaining_words": self.game.remaining_words(),
            "guess_history": [dict(r) for r in self.game.history],
            "done": self.done,
            "end_reason": self.end_reason,
        }
