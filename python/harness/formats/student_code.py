"""Seed 004 formats: student-code rows → prompt/completion text for completion-only training.

A row is `{"INPUT": {...}, "OUTPUT": str}` (see docs/formats.md). Experiment 1 rows carry the
submission's position as `stage` (`submission_first|mid|last`) — real data calls it `quantile`
with values `submission_q0|q1|q2`; both keys and both value styles are read — and past problems
as `{question_name, submission}`. Experiment 2 rows carry `curr_problem_prior_submissions`
(k attempts, `"None"` placeholders kept as they are) and past problems as
`{question_name, submissions: [...]}`.

Four template variants: `exp1_without_context`, `exp1_with_context`, `exp2_without_context`,
`exp2_with_context` (the "with context" ones put the student's past problems first). The
wording of the headings is ours; the structure is the seed's: instructions stripped with runs
of newlines collapsed, every code field stripped inside its `<code>…</code>`, consecutive code
blocks joined with nothing between them, sections separated by blank lines, the exp1 stage as
a last line `SUBMISSION FIRST:` and the prompt ending in one newline. The completion is
`<code>{OUTPUT stripped}</code>`; no end-of-sequence token is added, `</code>` is the stop
marker. `completion_labels` tokenises a pair with the prompt masked out (-100).

Why a row formatter (it reads the rows themselves, `reads = "rows"`), not an import adapter to
episodes like seeds 000-002: a row is a student's submission, not a rollout. It has no model
that acted, no environment, no turns, no outcome and nothing a verifier could judge; an episode
made of it would be invented fields around one prompt/completion pair, and no stage before or
after formatting reads it. The success filter and `--verdict` do not apply to it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from harness.formats.base import Formatter, RecordError, require

__all__ = ["VARIANTS", "StudentCode", "completion_labels", "input_text", "output_text", "to_prompt_completion"]

VARIANTS = ("exp1_without_context", "exp1_with_context", "exp2_without_context", "exp2_with_context")
IGNORE_INDEX = -100


def _code(text: str) -> str:
    return f"<code>{text.strip()}</code>"


def _codes(texts: list[str]) -> str:
    # Consecutive code blocks touch: `<code>a</code><code>b</code>`, as the seed wrote them.
    return "".join(map(_code, texts))


def _check_variant(variant: str) -> tuple[str, bool]:
    if variant not in VARIANTS:
        raise ValueError(f"unknown template variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return variant[:4], variant.endswith("_with_context")


def _stage_label(inp: dict[str, Any]) -> str:
    if "stage" not in inp and "quantile" not in inp:
        raise RecordError("/INPUT/stage", "required field is missing (nor is quantile there)")
    value = require(inp, "stage" if "stage" in inp else "quantile", str, "/INPUT")
    # submission_first -> SUBMISSION FIRST, submission_q0 -> SUBMISSION Q0
    return value.replace("_", " ").upper()


def _strings(value: Any, pointer: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(pointer, "expected an array of strings")
    return value


def _past_block(inp: dict[str, Any], experiment: str) -> str:
    """`PROBLEM NAME: …` and its code per past problem, blank-line separated, the whole block
    stripped (so a last problem without submissions ends on its name)."""
    past = require(inp, "past_problem_submissions", list, "/INPUT")
    blocks = []
    for i, item in enumerate(past):
        at = f"/INPUT/past_problem_submissions/{i}"
        name = require(item, "question_name", str, at)
        if experiment == "exp1":
            codes = [require(item, "submission", str, at)]
        else:
            codes = _strings(require(item, "submissions", list, at), f"{at}/submissions")
        blocks.append(f"PROBLEM NAME: {name}\n" + _codes(codes))
    return "\n\n".join(blocks).strip()


def input_text(row: dict[str, Any], variant: str) -> str:
    """The prompt text of a row for a template variant."""
    experiment, with_context = _check_variant(variant)
    inp = require(row, "INPUT", dict, "")
    parts = []
    if with_context:  # the heading stays even when there is no past problem, as in the seed
        parts.append("PAST PROBLEMS:\n" + _past_block(inp, experiment))
    instructions = re.sub(r"\n+", "\n", require(inp, "instructions", str, "/INPUT")).strip()
    parts.append(f"PROBLEM INSTRUCTIONS:\n{instructions}")
    parts.append(f"FIXED CODE:\n{_code(require(inp, 'skeleton_code_fixed', str, '/INPUT'))}")
    parts.append(f"TODO CODE:\n{_code(require(inp, 'skeleton_code_todo', str, '/INPUT'))}")
    if experiment == "exp1":
        parts.append(_stage_label(inp) + ":")
    else:
        prior = _strings(require(inp, "curr_problem_prior_submissions", list, "/INPUT"),
                         "/INPUT/curr_problem_prior_submissions")
        parts.append("SUBMISSIONS:\n" + _codes(prior))
    return "\n\n".join(parts) + "\n"


def output_text(row: dict[str, Any]) -> str:
    return _code(require(row, "OUTPUT", str, ""))


def to_prompt_completion(row: dict[str, Any], variant: str) -> dict[str, str]:
    """`{"prompt", "completion"}`: TRL's prompt-completion format (loss on the completion)."""
    return {"prompt": input_text(row, variant), "completion": output_text(row)}


def completion_labels(tokenizer: Any, prompt: str, completion: str) -> dict[str, list[int]]:
    """`input_ids` = prompt tokens + completion tokens (each tokenised on its own, no special
    tokens, no EOS), `labels` = -100 over the prompt and the completion's ids after it."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    return {
        "input_ids": prompt_ids + completion_ids,
        "attention_mask": [1] * (len(prompt_ids) + len(completion_ids)),
        "labels": [IGNORE_INDEX] * len(prompt_ids) + completion_ids,
    }


class StudentCode(Formatter):
    name: ClassVar[str] = "student-code"
    description: ClassVar[str] = "seed 004 student-code row → {prompt, completion} for a template variant"
    reads: ClassVar[Literal["episodes", "rows"]] = "rows"
    success_only: ClassVar[bool] = False

    def __init__(self, *, variant: str = "exp1_without_context"):
        _check_variant(variant)
        self.variant = variant

    def format(self, record: dict[str, Any]) -> list[dict[str, str]]:
        return [to_prompt_completion(record, self.variant)]
