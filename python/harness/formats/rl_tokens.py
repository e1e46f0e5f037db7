"""`rl-tokens`: episodes → token-level RL data (token ids, loss mask, logprobs), never re-tokenised.

The rollout engine keeps, per step, the token ids the backend actually read and generated
(`step.tokens.prompt_ids`, `completion_ids`, `completion_logprobs`). One row per episode joins
them into the sequence the model saw:

    step 0 prompt ids | step 0 completion ids | step 1's new prompt ids | step 1 completion ids | ...

where "step k's new prompt ids" are the ids of step k's prompt after the previous prompt and
completion (the observation and the chat template's markers). That only works when each step's
prompt ids start with the previous step's prompt and completion ids; when they do not (a chat
template that rewrites history), the episode cannot be exported without re-tokenising, and it
is an error naming the step. `loss_mask` is 1 on generated tokens, 0 elsewhere; `logprobs`
holds the sampler's logprob on generated tokens and 0.0 elsewhere, or is null when a step has
none. Episodes without token ids are an error naming the missing field: they came from a
backend that does not return token ids.
"""

from __future__ import annotations

from typing import Any, ClassVar

from harness.episode import Episode
from harness.formats.base import Formatter, RecordError
from harness.formats.trainers import played

__all__ = ["RlTokens"]


class RlTokens(Formatter):
    name: ClassVar[str] = "rl-tokens"
    description: ClassVar[str] = "episode with token ids → {input_ids, loss_mask, logprobs} without re-tokenising"
    success_only: ClassVar[bool] = False  # RL learns from the failed episodes too, by their reward

    def parquet_schema(self) -> Any:
        # Declared, not inferred: `reward` and `logprobs` may be null in the first row group.
        import pyarrow as pa

        return pa.schema([
            ("episode_id", pa.string()),
            ("task_id", pa.string()),
            ("reward", pa.float64()),
            ("input_ids", pa.list_(pa.int64())),
            ("loss_mask", pa.list_(pa.int8())),
            ("logprobs", pa.list_(pa.float64())),
            ("prompt_length", pa.int64()),
        ])

    def applies(self, episode: Episode) -> str | None:
        return played(episode)

    def format(self, episode: Episode) -> list[dict[str, Any]]:
        ids: list[int] = []
        mask: list[int] = []
        logprobs: list[float] | None = []
        prompt_length = 0
        for k, step in enumerate(episode.steps):
            tokens = step.tokens
            at = f"/steps/{k}/tokens"
            if tokens is None or tokens.prompt_ids is None or tokens.completion_ids is None:
                missing = (
                    "tokens" if tokens is None else "prompt_ids" if tokens.prompt_ids is None else "completion_ids"
                )
                raise RecordError(at if missing == "tokens" else f"{at}/{missing}",
                                  "no token ids: the backend did not return them; rl-tokens never "
                                  "re-tokenises text, so generate with a backend that keeps token ids")
            prompt = tokens.prompt_ids
            if prompt[: len(ids)] != ids:
                raise RecordError(f"{at}/prompt_ids",
                                  f"does not start with step {k - 1}'s prompt and completion ids (the chat "
                                  "template rewrote history); the episode cannot be one token sequence "
                                  "without re-tokenising")
            new = prompt[len(ids):]
            if k == 0:
                prompt_length = len(new)
            ids += new + tokens.completion_ids
            mask += [0] * len(new) + [1] * len(tokens.completion_ids)
            if logprobs is not None and tokens.completion_logprobs is not None:
                logprobs += [0.0] * len(new) + list(tokens.completion_logprobs)
            else:
                logprobs = None
        return [{
            "episode_id": episode.episode_id,
            "task_id": str(episode.task.id),
            "reward": episode.reward,
            "input_ids": ids,
            "loss_mask": mask,
            "logprobs": logprobs,
            "prompt_length": prompt_length,
        }]
