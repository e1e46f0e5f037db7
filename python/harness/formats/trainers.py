"""Exports of the harness's own episode records into the formats popular trainers load as is.

- `trl-messages`: `{"messages": [...]}` — TRL's conversational language-modelling format
  (SFTTrainer trains on the whole chat, or on assistant turns with `assistant_only_loss`).
- `trl-prompt-completion`: `{"prompt": [...], "completion": [...]}` — TRL's conversational
  prompt-completion format: the episode's prompt, and the messages generated during the
  episode (SFTTrainer's default loss is on the completion only).
- `openai-finetune`: `{"messages": [{role, content, weight?}]}` — OpenAI's chat fine-tuning
  JSONL. Every assistant message carries a `weight`: 1 for a valid step of this episode, 0 for
  an invalid one (a broken guess is not worth learning) and for assistant turns of the prompt
  (the kept turns of a doctored episode were trained on with their parent). `tool` messages
  become `user` messages, since the format ties tool messages to tool calls.
- `verl`: VERL's RL dataset row `{data_source, prompt, ability, reward_model {style,
  ground_truth}, extra_info}`; the ground truth is the task's data as JSON text, which the
  environment's reward function reads.

Episodes that failed with an error (`error` set), and episodes without steps, give no row of
the chat exports: they are not training data (counted by the run). Which episodes count as
successful is the run's success filter (`harness.formats.run`): by default the chat exports
format only episodes that succeeded; `verl` keeps every episode, since an RL prompt is a task,
solved or not.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from harness.episode import Episode
from harness.formats.base import Formatter

__all__ = ["OpenAIFinetune", "TrlMessages", "TrlPromptCompletion", "Verl", "played"]


def played(episode: Episode) -> str | None:
    """Why an episode holds no conversation to train on (an error, no steps), or None."""
    if episode.error is not None:
        return "failed with an error"
    if not episode.steps:
        return "has no steps"
    return None


def _plain(messages: list[Any]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


class _EpisodeFormatter(Formatter):
    def applies(self, episode: Episode) -> str | None:
        return played(episode)

    def format(self, episode: Episode) -> list[dict[str, Any]]:
        return [self.row(episode)]

    def row(self, episode: Episode) -> dict[str, Any]:
        raise NotImplementedError


class TrlMessages(_EpisodeFormatter):
    name: ClassVar[str] = "trl-messages"
    description: ClassVar[str] = "episode → {messages}: TRL conversational language modelling"

    def row(self, episode: Episode) -> dict[str, Any]:
        return {"messages": _plain(episode.messages())}


class TrlPromptCompletion(_EpisodeFormatter):
    name: ClassVar[str] = "trl-prompt-completion"
    description: ClassVar[str] = "episode → {prompt, completion}: TRL conversational prompt-completion"

    def row(self, episode: Episode) -> dict[str, Any]:
        completion = _plain(episode.completion())
        while completion and completion[-1]["role"] != "assistant":
            completion.pop()  # feedback after the last action trains nothing
        return {"prompt": _plain(episode.prompt), "completion": completion}


class OpenAIFinetune(_EpisodeFormatter):
    name: ClassVar[str] = "openai-finetune"
    description: ClassVar[str] = "episode → OpenAI fine-tuning {messages} with a weight per assistant turn"

    def row(self, episode: Episode) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        for m in episode.prompt:
            messages.append(self._message(m.role, m.content, weight=0))
        for step in episode.steps:
            messages.append(self._message("assistant", step.action, weight=1 if step.status.valid else 0))
            for m in step.observation:
                messages.append(self._message(m.role, m.content, weight=0))
        while messages and messages[-1]["role"] != "assistant":
            messages.pop()
        return {"messages": messages}

    @staticmethod
    def _message(role: str, content: str, *, weight: int) -> dict[str, Any]:
        if role == "tool":
            role = "user"
        out: dict[str, Any] = {"role": role, "content": content}
        if role == "assistant":
            out["weight"] = weight
        return out


class Verl(_EpisodeFormatter):
    name: ClassVar[str] = "verl"
    description: ClassVar[str] = "episode → VERL RL dataset row (prompt, reward_model, extra_info)"
    success_only: ClassVar[bool] = False

    def __init__(self, *, split: str | None = None):
        self.split = split
        self.index = 0

    def applies(self, episode: Episode) -> str | None:
        return None  # unlike the chat exports, an RL prompt needs no steps: every task is a prompt

    def format(self, episode: Episode) -> list[dict[str, Any]]:
        row = self.row(episode)
        self.index += 1
        return [row]

    def row(self, episode: Episode) -> dict[str, Any]:
        return {
            "data_source": episode.env.name,
            "prompt": _plain(episode.prompt),
            "ability": episode.env.name,
            "reward_model": {"style": "rule",
                             "ground_truth": json.dumps(episode.task.data, ensure_ascii=False, sort_keys=True)},
            "extra_info": {
                "split": self.split or episode.task.split or "train",
                "index": self.index,
                "task_id": str(episode.task.id),
                "episode_id": episode.episode_id,
            },
        }
