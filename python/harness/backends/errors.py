"""Backend errors the engine treats specially (every other failure is a plain `BackendError`)."""

from __future__ import annotations

from harness.backends.base import BackendError


class PromptTooLong(BackendError):
    """The conversation no longer fits the model's context: the engine ends the episode with
    outcome `prompt_too_long` instead of recording an error."""
