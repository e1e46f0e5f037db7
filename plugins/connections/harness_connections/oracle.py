"""The `connections-oracle` backend: a player that knows every puzzle's solution.

    harness rollouts generate --env connections --split train --backend connections-oracle \\
        --backend-arg 'env_args={"groups": 3}' --env-arg groups=3 -o data/oracle

It plays the games the environment can play perfectly itself: each turn it names one group it
has not found yet, as an assistant would — a short sentence giving the group's theme, then the
guess tag — so its episodes are training data that teach a model the game's format (the main
job's first stage, docs/main_job.md):

    NAVY, TEAL, COBALT and AZURE share a theme: SHADES OF BLUE.
    <guess>[`NAVY`, `TEAL`, `COBALT`, `AZURE`]</guess>

It reads everything from the conversation, like any backend: the board is the first user
message whose backticked words are exactly one puzzle's words, and a group is found when an
earlier assistant message guessed exactly its words. It finds the puzzles by building the
environment from `env_args` (the environment's own arguments: give the run's `env_args`), so it
plays a conversation continued from any point, a doctored one included. A board that is no
puzzle of that environment is a `BackendError`, which the engine records on its episode.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from harness.backends.base import Backend, BackendError, Completion, Request
from harness.episode import Message
from harness_connections.environment import ConnectionsEnv
from harness_connections.guess import format_guess, parse_guess
from harness_connections.puzzles import Category, parse_categories

_BACKTICKED = re.compile(r"`([^`]*)`")


def _key(words: Sequence[str]) -> frozenset[str]:
    return frozenset(w.casefold() for w in words)


def _backticked(text: str) -> list[str]:
    """The backticked words of a message (what the board message lists)."""
    return [w.strip() for w in _BACKTICKED.findall(text) if w.strip()]


def oracle_message(category: Category) -> str:
    """The oracle's turn for `category`: the theme in one sentence, then the guess tag."""
    words = list(category.members)
    listed = ", ".join(words[:-1]) + f" and {words[-1]}"
    return f"{listed} share a theme: {category.group}.\n{format_guess(words)}"


class ConnectionsOracle(Backend):
    """Args: `env_args` (the `connections` environment's arguments, to know its puzzles) and
    `model` (the name episode records carry, `connections-oracle`)."""

    name = "connections-oracle"
    content_args = ("model", "env_args")

    def __init__(self, model: str = "connections-oracle", *, env_args: dict[str, Any] | None = None) -> None:
        self._model = model
        self._solutions: dict[frozenset[str], tuple[Category, ...]] = {}
        for task in ConnectionsEnv(**(env_args or {})).tasks():
            categories = parse_categories(task.data["categories"], f"connections-oracle: task {task.id!r}")
            self._solutions[_key([w for c in categories for w in c.members])] = categories

    @property
    def model_name(self) -> str:
        return self._model

    async def generate(self, requests: Sequence[Request]) -> list[list[Completion]]:
        return [[self.respond(r.messages)] * (r.sampling.n or 1) for r in requests]

    def respond(self, messages: Sequence[Message]) -> Completion:
        categories = self.solution(messages)
        found = {_key(parse_guess(m.content) or []) for m in messages if m.role == "assistant"}
        left = [c for c in categories if _key(c.members) not in found]
        if not left:
            raise BackendError("connections-oracle: every group of this board is already found")
        return Completion(text=oracle_message(left[0]), finish_reason="stop")

    def solution(self, messages: Sequence[Message]) -> tuple[Category, ...]:
        """The categories of the puzzle whose board the conversation shows."""
        for message in messages:
            if message.role == "user":
                found = self._solutions.get(_key(_backticked(message.content)))
                if found is not None:
                    return found
        raise BackendError("connections-oracle: no puzzle of its environment has the board of this "
                           "conversation (give the run's env_args as the backend's env_args)")
