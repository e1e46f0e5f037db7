"""Seed 000 formats: data-analysis episodes → `sft-standard`, `sft-interleaved` and `prm` rows.

The formatters (`SftStandard`, `SftInterleaved`, `Prm`) read episodes: those of the
`data-analysis` environment and seed 000 records imported with `harness import seed000`. Each
episode is seen as the seed 000 record it stands for (`harness.formats.data_analysis_record`),
and the seed's functions below make the rows from it, with the episode's own prompt (for an
imported record that is the seed's prompt, so the rows are the seed's).

The seed 000 record (one per JSONL line of the seed's files; see docs/formats.md) is
`{episode_id, csv_source, question {question_text, hint, ...}, gold_trace {turns, final_answer,
final_answer_hash, success}, consistency_traces, verified, triangulation, ...}`, where a turn is
`{turn_index, reasoning, code, execution {success, stdout, stderr, hooks, submitted_answer}}`
and a hook `{variable_name, code_line, value, value_hash, depends_on, description}`. The trace
is `gold_trace`, or the legacy `teacher_gold_trace` when `gold_trace` is absent, null or empty
(the seed's `gold_trace or teacher_gold_trace`).

`to_sft_standard`, `to_sft_interleaved` and `to_prm_samples` reproduce the seed's rows exactly
(parity); the options beyond it (`merge_assistant`, `label_mode="first-error"`) are off by
default. The prompts are our own wording with the seed's structure. Which episodes are
formatted (the seed's "verified only") is the run's success filter: `harness.formats.run`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from harness.episode import Episode
from harness.formats.base import Formatter, RecordError, optional_objects, optional_text, require
from harness.formats.data_analysis_record import seed_record

__all__ = [
    "INTERLEAVED_INSTRUCTION",
    "LABEL_MODES",
    "SYSTEM_PROMPT",
    "Prm",
    "SftInterleaved",
    "SftStandard",
    "execution_of",
    "gold_trace",
    "output_text",
    "prompt_messages",
    "question_message",
    "system_prompt",
    "to_prm_samples",
    "to_sft_interleaved",
    "to_sft_standard",
    "turn_text",
]

SYSTEM_PROMPT = (
    "You are a data analysis assistant. A pandas DataFrame named `df` has been loaded from "
    "{csv_source}. Answer the user's question by writing Python code. Two functions are "
    "available:\n"
    "- submit(answer): submit your final answer; this ends the task.\n"
    '- hook(value, name="..."): record an intermediate value you computed, under a name.\n'
    "Put your code in a ```python block and always call submit() with your answer."
)
INTERLEAVED_INSTRUCTION = (
    "After writing code, predict the values it will compute before you see the real output."
)
PREDICT_HOOKS = "Predict the intermediate values:"
PREDICT_ANSWER = "Predict the submitted answer:"
SUBMIT_CODE_LINE = "submit(...)"
"""The `code_line` of every submit sample: the seed's literal, whatever the code."""

LABEL_MODES = ("episode", "first-error", "mc")
LabelMode = Literal["episode", "first-error", "mc"]

Message = dict[str, str]


# -- reading the record -------------------------------------------------------------------


def gold_trace(ep: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`(pointer, trace)` of the gold trace: `gold_trace or teacher_gold_trace`, as the seed read
    it, so a null or empty `gold_trace` falls back to the legacy key. A present but null or empty
    trace has no turns; a record with neither key is no seed 000 episode and is an error."""
    if "gold_trace" not in ep and "teacher_gold_trace" not in ep:
        raise RecordError("/gold_trace", "required field is missing (nor is the legacy teacher_gold_trace there)")
    key = "gold_trace" if ep.get("gold_trace") or "teacher_gold_trace" not in ep else "teacher_gold_trace"
    if ep[key] is None:
        return f"/{key}", {}
    return f"/{key}", require(ep, key, dict, "")


def execution_of(turn: dict[str, Any], pointer: str) -> dict[str, Any]:
    """A turn's `execution` object; absent or null reads as empty."""
    execution = turn.get("execution")
    if execution is None:
        return {}
    if not isinstance(execution, dict):
        raise RecordError(f"{pointer}/execution", f"expected an object, got {type(execution).__name__}")
    return execution


# -- prompts ------------------------------------------------------------------------------


def system_prompt(ep: dict[str, Any], *, interleaved: bool = False) -> str:
    csv_source = ep.get("csv_source") or "data.csv"
    text = SYSTEM_PROMPT.format(csv_source=csv_source)
    return f"{text}\n{INTERLEAVED_INSTRUCTION}" if interleaved else text


def question_message(ep: dict[str, Any], *, with_hint: bool = True) -> Message:
    """The first user message: the question, then a blank line and `Hint: …` when there is one.
    A record without `question` (or with a null one) has an empty question text, as in the seed."""
    question = ep.get("question")
    if question is None:
        question = {}
    elif not isinstance(question, dict):
        raise RecordError("/question", f"expected an object, got {type(question).__name__}")
    text = optional_text(question, "question_text", "/question")
    hint = optional_text(question, "hint", "/question") if with_hint else ""
    return {"role": "user", "content": f"{text}\n\nHint: {hint}" if hint else text}


def _code_block(code: str) -> str:
    return f"```python\n{code}\n```"


def turn_text(turn: dict[str, Any], pointer: str) -> str:
    """The turn as its assistant message: reasoning, a blank line, the fenced code, stripped
    (empty when the turn has neither); sft-standard and sft-interleaved share it."""
    reasoning, code = optional_text(turn, "reasoning", pointer), optional_text(turn, "code", pointer)
    content = ""
    if reasoning:
        content += reasoning + "\n\n"
    if code:
        content += _code_block(code)
    return content.strip()


def output_text(execution: dict[str, Any], pointer: str) -> str:
    """What a turn printed, as sft-standard shows it: `[stdout]:\n…` and/or `[stderr]:\n…`
    joined by a newline, the whole stripped (stdout `"1\n"` reads `[stdout]:\n1`); empty when
    the turn printed nothing."""
    output = []
    stdout = optional_text(execution, "stdout", pointer)
    stderr = optional_text(execution, "stderr", pointer)
    if stdout:
        output.append(f"[stdout]:\n{stdout}")
    if stderr:
        output.append(f"[stderr]:\n{stderr}")
    return "\n".join(output).strip()


def prompt_messages(episode: Episode) -> list[Message]:
    """The episode's prompt as plain `{role, content}` messages."""
    return [{"role": m.role, "content": m.content} for m in episode.prompt]


def _start(ep: dict[str, Any], prompt: list[Message] | None, *, interleaved: bool = False) -> list[Message]:
    """The messages before the first turn: the episode's prompt when given (with the interleaved
    instruction added to its system message), else the seed's system prompt and question."""
    if prompt is None:
        return [{"role": "system", "content": system_prompt(ep, interleaved=interleaved)}, question_message(ep)]
    messages = [dict(m) for m in prompt]
    if interleaved:
        if messages and messages[0]["role"] == "system":
            messages[0]["content"] = f"{messages[0]['content']}\n{INTERLEAVED_INSTRUCTION}"
        else:
            messages.insert(0, {"role": "system", "content": INTERLEAVED_INSTRUCTION})
    return messages


def _drop_trailing_user(messages: list[Message]) -> list[Message]:
    # One trailing user message (output nobody answers) is removed, as the seed did.
    if messages and messages[-1]["role"] == "user":
        messages.pop()
    return messages


# -- sft-standard -------------------------------------------------------------------------


def to_sft_standard(ep: dict[str, Any], *, merge_assistant: bool = False,
                    prompt: list[Message] | None = None) -> dict[str, Any] | None:
    """`{"messages": [...]}` of the gold trace, or None when it has no turns.

    Each turn gives an assistant message (reasoning, a blank line, the fenced code, stripped)
    and, when the code printed anything, a user message with `[stdout]:\n…` and/or
    `[stderr]:\n…` joined by a newline, the whole message stripped (stdout `"1\n"` reads
    `[stdout]:\n1`). A turn with no output therefore leaves two assistant messages in a row
    (parity); `merge_assistant` joins such runs with a blank line instead. `prompt` replaces
    the seed's system prompt and question (an episode's own prompt).
    """
    pointer, trace = gold_trace(ep)
    turns = optional_objects(trace, "turns", pointer)
    if not turns:
        return None
    messages = _start(ep, prompt)
    for i, turn in enumerate(turns):
        at = f"{pointer}/turns/{i}"
        content = turn_text(turn, at)
        if merge_assistant and messages[-1]["role"] == "assistant":
            messages[-1] = {"role": "assistant", "content": f"{messages[-1]['content']}\n\n{content}"}
        else:
            messages.append({"role": "assistant", "content": content})
        output = output_text(execution_of(turn, at), f"{at}/execution")
        if output:  # never empty when something was printed: it starts with the stream's label
            messages.append({"role": "user", "content": output})
    return {"messages": _drop_trailing_user(messages)}


# -- sft-interleaved ----------------------------------------------------------------------


def _hook_line(hook: dict[str, Any]) -> str:
    # The seed's rule: a hook without the key is named `result`; a present null prints `None`.
    return f"{hook.get('variable_name', 'result')} = {json.dumps(hook.get('value'))}"


def to_sft_interleaved(ep: dict[str, Any], *, prompt: list[Message] | None = None) -> dict[str, Any] | None:
    """`{"messages": [...]}` teaching the model to predict what its code computes.

    Per turn: the same assistant message as sft-standard (reasoning, blank line, fenced code;
    emitted even when the turn has no code); if the turn hooked values, a user request to
    predict them and an assistant answer with one `name = <JSON value>` line per hook; if it
    submitted an answer, a request to predict it and the answer's JSON; if it printed to
    stdout, `[actual output]:\n` with it, not stripped (stderr is never shown). None when the
    trace has no turns. `prompt` replaces the seed's system prompt and question.
    """
    pointer, trace = gold_trace(ep)
    turns = optional_objects(trace, "turns", pointer)
    if not turns:
        return None
    messages = _start(ep, prompt, interleaved=True)
    for i, turn in enumerate(turns):
        at = f"{pointer}/turns/{i}"
        messages.append({"role": "assistant", "content": turn_text(turn, at)})
        execution = execution_of(turn, at)
        hooks = optional_objects(execution, "hooks", at + "/execution")
        if hooks:
            messages.append({"role": "user", "content": PREDICT_HOOKS})
            messages.append({"role": "assistant", "content": "\n".join(map(_hook_line, hooks))})
        if execution.get("submitted_answer") is not None:
            messages.append({"role": "user", "content": PREDICT_ANSWER})
            messages.append({"role": "assistant", "content": json.dumps(execution["submitted_answer"])})
        stdout = optional_text(execution, "stdout", f"{at}/execution")
        if stdout:
            messages.append({"role": "user", "content": f"[actual output]:\n{stdout}"})
    return {"messages": _drop_trailing_user(messages)}


# -- prm ----------------------------------------------------------------------------------


def _gold_hashes(trace: dict[str, Any], pointer: str) -> dict[str, set[str | None]]:
    """Hook name -> every value hash the gold trace recorded under that name (None: a hook
    without one)."""
    hashes: dict[str, set[str | None]] = {}
    for i, turn in enumerate(optional_objects(trace, "turns", pointer)):
        at = f"{pointer}/turns/{i}"
        for hook in optional_objects(execution_of(turn, at), "hooks", at + "/execution"):
            hashes.setdefault(str(hook.get("variable_name")), set()).add(hook.get("value_hash"))
    return hashes


def _trace_samples(
    ep: dict[str, Any],
    trace: dict[str, Any],
    pointer: str,
    *,
    start: list[Message],
    labels: Iterator[float] | None,
    episode_label: float,
    extra: dict[str, Any],
) -> list[dict[str, Any]]:
    """PRM samples of one trace; `labels` yields one label per step in order (None: episode label)."""
    prefix = [dict(m) for m in start]
    samples: list[dict[str, Any]] = []
    for i, turn in enumerate(optional_objects(trace, "turns", pointer)):
        at = f"{pointer}/turns/{i}"
        code = optional_text(turn, "code", at)
        execution = execution_of(turn, at)
        prefix_json = json.dumps(prefix)  # the turn's own code is not part of its samples' prefix
        steps: list[dict[str, Any]] = [
            {
                "step_type": "hook",
                "code_line": hook.get("code_line", ""),  # the seed's default: "" only when absent
                "variable_name": hook.get("variable_name"),
                "value": hook.get("value"),
                "value_hash": hook.get("value_hash"),
            }
            for hook in optional_objects(execution, "hooks", at + "/execution")
        ]
        if execution.get("submitted_answer") is not None:
            steps.append({
                "step_type": "submit",
                "code_line": SUBMIT_CODE_LINE,
                "variable_name": "answer",
                "value": execution["submitted_answer"],
                "value_hash": trace.get("final_answer_hash"),
            })
        for step in steps:
            samples.append({
                "prefix": prefix_json,
                "turn_index": i,  # the turn's position, not the record's own turn_index
                **step,
                "label": next(labels) if labels is not None else episode_label,
                "episode_id": ep.get("episode_id"),
                **extra,
            })
        # Then the turn's code joins the prefix: fenced without reasoning, even when empty, and
        # its stdout unstripped (the seed's prefix, unlike its sft-standard messages).
        prefix.append({"role": "assistant", "content": _code_block(code)})
        stdout = optional_text(execution, "stdout", f"{at}/execution")
        if stdout:
            prefix.append({"role": "user", "content": f"[stdout]:\n{stdout}"})
    return samples


def _first_error_labels(trace: dict[str, Any], pointer: str, gold: dict[str, set[str | None]],
                        gold_answer_hash: Any) -> Iterator[float]:
    """1.0 for each step up to the first one that disagrees with the gold trace, 0.0 from it on.

    A hook disagrees when the gold trace hooked the same name but never with this value hash
    (a name the gold trace never hooked cannot be judged and keeps the running label); the
    submit step disagrees when the trace's final answer hash differs from the gold one.
    """
    correct = True
    for i, turn in enumerate(optional_objects(trace, "turns", pointer)):
        at = f"{pointer}/turns/{i}"
        execution = execution_of(turn, at)
        for hook in optional_objects(execution, "hooks", at + "/execution"):
            name = str(hook.get("variable_name"))
            if name in gold and hook.get("value_hash") not in gold[name]:
                correct = False
            yield 1.0 if correct else 0.0
        if execution.get("submitted_answer") is not None:
            if trace.get("final_answer_hash") != gold_answer_hash:
                correct = False
            yield 1.0 if correct else 0.0


def to_prm_samples(ep: dict[str, Any], *, label_mode: LabelMode = "episode",
                   prompt: list[Message] | None = None) -> list[dict[str, Any]]:
    """One sample per hooked value and per submitted answer of the gold trace.

    `prefix` is the JSON text of the conversation before the step's turn (system, question and
    hint, then each earlier turn's fenced code, even empty, and its unstripped `[stdout]`);
    `turn_index` is the turn's position (0-based); a hook without `code_line` gives `""`; a
    submit sample's `code_line` is `submit(...)`. Labels:

    - `episode` (parity): every sample gets 1.0 when the episode is verified, else 0.0;
    - `first-error`: the samples of the gold trace and of every consistency trace (marked by a
      `trace` field: `gold`, `consistency/0`, …), each step labelled against the gold trace by
      `_first_error_labels`. Unverified episodes have no trusted reference: all 0.0.
    - `mc` needs continuations from a model: see `harness.labels.prm_mc`; here it is an error.

    `prompt` replaces the seed's system prompt and question in the gold trace's prefixes (an
    episode's own prompt); consistency traces keep the seed's, without the hint.
    """
    if label_mode not in LABEL_MODES:
        raise ValueError(f"label_mode must be one of {', '.join(LABEL_MODES)}, not {label_mode!r}")
    if label_mode == "mc":
        raise ValueError("label_mode 'mc' needs a backend: use harness.labels.prm_mc.mc_labels")
    pointer, trace = gold_trace(ep)
    episode_label = 1.0 if ep.get("verified") else 0.0
    if label_mode == "episode":
        return _trace_samples(ep, trace, pointer, start=_start(ep, prompt), labels=None,
                              episode_label=episode_label, extra={})
    gold = _gold_hashes(trace, pointer)
    gold_answer = trace.get("final_answer_hash")
    trusted = bool(ep.get("verified"))

    def labels_of(t: dict[str, Any], at: str) -> Iterator[float] | None:
        return _first_error_labels(t, at, gold, gold_answer) if trusted else None

    samples = _trace_samples(ep, trace, pointer, start=_start(ep, prompt), labels=labels_of(trace, pointer),
                             episode_label=0.0, extra={"trace": "gold"})
    others = ep.get("consistency_traces") or []
    if not isinstance(others, list):
        raise RecordError("/consistency_traces", f"expected an array, got {type(others).__name__}")
    for k, other in enumerate(others):
        at = f"/consistency_traces/{k}"
        if not isinstance(other, dict):
            raise RecordError(at, f"expected an object, got {type(other).__name__}")
        # Consistency runs were produced without the hint, so their prefixes show none.
        no_hint = [{"role": "system", "content": system_prompt(ep)}, question_message(ep, with_hint=False)]
        samples += _trace_samples(ep, other, at, start=no_hint, labels=labels_of(other, at),
                                  episode_label=0.0, extra={"trace": f"consistency/{k}"})
    return samples


# -- formatters ---------------------------------------------------------------------------


class _DataAnalysisFormatter(Formatter):
    """Reads `data-analysis` episodes (imported seed 000 records among them)."""

    env: ClassVar[str] = "data-analysis"
    non_finite: ClassVar[Literal["error", "allow"]] = "allow"  # imported seed values may be NaN

    def applies(self, episode: Episode) -> str | None:
        return "failed with an error" if episode.error is not None else None


class SftStandard(_DataAnalysisFormatter):
    name: ClassVar[str] = "sft-standard"
    description: ClassVar[str] = "data-analysis episode → {messages}: reasoning + code, [stdout]/[stderr]"

    def __init__(self, *, merge_assistant: bool = False):
        self.merge_assistant = merge_assistant

    def format(self, episode: Episode) -> list[dict[str, Any]]:
        row = to_sft_standard(seed_record(episode), merge_assistant=self.merge_assistant,
                              prompt=prompt_messages(episode))
        return [row] if row is not None else []


class SftInterleaved(_DataAnalysisFormatter):
    name: ClassVar[str] = "sft-interleaved"
    description: ClassVar[str] = "data-analysis episode → {messages} with value-prediction turns"

    def format(self, episode: Episode) -> list[dict[str, Any]]:
        row = to_sft_interleaved(seed_record(episode), prompt=prompt_messages(episode))
        return [row] if row is not None else []


class Prm(_DataAnalysisFormatter):
    name: ClassVar[str] = "prm"
    description: ClassVar[str] = "data-analysis episode → one PRM sample per hooked value / submit"
    json_columns: ClassVar[tuple[str, ...]] = ("value",)

    def __init__(self, *, label_mode: LabelMode = "episode"):
        if label_mode not in ("episode", "first-error"):
            raise ValueError(
                f"the prm formatter labels by 'episode' or 'first-error', not {label_mode!r} "
                "('mc' needs a backend: harness format prm-mc)"
            )
        self.label_mode = label_mode

    def parquet_schema(self) -> Any:
        # Declared, not inferred: a first row group may hold only null code lines or names, and
        # episode ids may be integers in some records and strings in others (Parquet then
        # stores them as text: 7 reads "7").
        import pyarrow as pa

        columns = [("prefix", pa.string()), ("turn_index", pa.int64()), ("step_type", pa.string()),
                   ("code_line", pa.string()), ("variable_name", pa.string()), ("value", pa.string()),
                   ("value_hash", pa.string()), ("label", pa.float64()), ("episode_id", pa.string())]
        if self.label_mode == "first-error":
            columns.append(("trace", pa.string()))
        return pa.schema(columns)

    def format(self, episode: Episode) -> list[dict[str, Any]]:
        return to_prm_samples(seed_record(episode), label_mode=self.label_mode, prompt=prompt_messages(episode))
