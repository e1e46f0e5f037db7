"""Training files → the rows TRL's SFTTrainer trains on, with the loss where it belongs.

Every training file the harness's formatters write is read (JSONL, Parquet, or a JSON array as
the seed-004 files are), and each row is turned into one of three kinds; one file set must give
one kind:

- `messages`: a conversation `{"messages": [...]}` (trl-messages, sft-standard, openai-finetune,
  …), or a seed-002 multi-turn row whose `prompt` is the whole conversation (it ends with an
  assistant message). Loss on every assistant message: its content and the end-of-turn token.
- `prompt-completion`: `{"prompt": [messages], "completion": [messages]}` (trl-prompt-completion),
  or a seed-002 split / summary row `{data_source, prompt, ability, extra_info: {question,
  answer}}`: the prompt is one user turn (`extra_info.question`, rendered with the generation
  prompt) and the response `extra_info.answer` (or the row's top-level `answer`) the one
  assistant message. Loss on the assistant messages of the completion.
- `tokens`: text prompt/completion pairs, as the student-code formatter writes them (or raw
  seed-004 `{INPUT, OUTPUT}` rows, given the template `variant`), tokenised here exactly as seed
  004 did: prompt and completion each on their own, no special tokens, no EOS unless `text_eos`;
  loss on the completion. (TRL would append an EOS to every text completion; seed 004 stops at
  `</code>`.) rl-tokens rows `{input_ids, loss_mask}` are of this kind too.

TRL tokenises the first two kinds itself (`assistant_only_loss`, `completion_only_loss`, with a
chat template that marks the assistant tokens: `harness.train.templates`); for the third it
builds the labels from our `completion_mask`. In all cases TRL builds the `labels` (-100 where no
loss), which a test compares with `harness.formats.masks` on the same rows.

A row that cannot be trained on is an error naming the file, the line (the row number for
Parquet and JSON arrays) and the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.errors import LocatedError

__all__ = [
    "Kind",
    "TrainDataError",
    "TrainingRows",
    "read_records",
    "read_training_rows",
    "to_training_row",
    "tokenize_text_pair",
]

Kind = Literal["messages", "prompt-completion", "tokens"]
_ROLES = {"system", "user", "assistant", "tool"}


class TrainDataError(LocatedError):
    """A training row that cannot be trained on, located in its file."""

    what = "row"


class _RowError(ValueError):
    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


# -- reading files ----------------------------------------------------------------------------


def read_records(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """`(line, record)` of a JSONL, Parquet or JSON-array file (line = row number for the last two)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TrainDataError(path, None, "", "no such file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".parquet":
        yield from _parquet(path)
    elif ext == ".json":
        yield from _json_array(path)
    elif ext in (".jsonl", ".ndjson"):
        yield from _jsonl(path)
    else:
        raise TrainDataError(path, None, "", f"unknown training file type {ext or '(none)'!r}: "
                             "expected .jsonl, .parquet or .json")


def _jsonl(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise TrainDataError(path, number, "", f"not valid JSON: {err.msg}") from None
            yield number, _object(record, path, number)


def _json_array(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise TrainDataError(path, err.lineno, "", f"not valid JSON: {err.msg}") from None
    if not isinstance(data, list):
        raise TrainDataError(path, None, "", "expected a JSON array of rows")
    for number, record in enumerate(data, 1):
        yield number, _object(record, path, number)


def _parquet(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1000):
        for record in batch.to_pylist():
            number += 1
            yield number, record


def _object(record: Any, path: str, number: int) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise TrainDataError(path, number, "", f"expected a JSON object, got {type(record).__name__}")
    return record


# -- one row ----------------------------------------------------------------------------------


def _messages(value: Any, pointer: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise _RowError(pointer, "expected a non-empty array of messages")
    out = []
    for i, m in enumerate(value):
        at = f"{pointer}/{i}"
        if not isinstance(m, dict):
            raise _RowError(at, f"expected a message object, got {type(m).__name__}")
        role, content = m.get("role"), m.get("content")
        if role not in _ROLES:
            raise _RowError(f"{at}/role", f"expected one of {', '.join(sorted(_ROLES))}, got {role!r}")
        if not isinstance(content, str):
            raise _RowError(f"{at}/content", f"expected a string, got {type(content).__name__}")
        if role == "assistant" and m.get("weight", 1) == 0:
            raise _RowError(f"{at}/weight", "weight 0 (an assistant turn not to train on) is not supported: "
                            "format the episodes with trl-messages or trl-prompt-completion instead")
        out.append({"role": role, "content": content})
    return out


def _has_assistant(messages: list[dict[str, str]], pointer: str) -> None:
    if not any(m["role"] == "assistant" for m in messages):
        raise _RowError(pointer, "no assistant message: nothing to train on")


def _text(value: Any, pointer: str) -> str:
    if not isinstance(value, str):
        raise _RowError(pointer, f"expected a string, got {type(value).__name__}")
    return value


def to_training_row(record: dict[str, Any], *, variant: str | None = None) -> tuple[Kind, dict[str, Any]]:
    """The kind of a record and its row in TRL's shape (text pairs stay `{prompt, completion}`
    strings until `tokenize_text_pair`). Raises `_RowError(field, reason)`."""
    if "messages" in record:
        messages = _messages(record["messages"], "/messages")
        _has_assistant(messages, "/messages")
        return "messages", {"messages": messages}
    if "INPUT" in record and "OUTPUT" in record:
        if variant is None:
            raise _RowError("/INPUT", "a raw seed-004 row: give the template variant (--variant) or "
                            "format the file with the student-code formatter first")
        from harness.formats.base import RecordError
        from harness.formats.student_code import to_prompt_completion

        try:
            return "tokens", to_prompt_completion(record, variant)
        except RecordError as err:
            raise _RowError(err.field, err.reason) from None
    if "input_ids" in record:
        ids, mask = record["input_ids"], record.get("loss_mask", record.get("completion_mask"))
        if not isinstance(ids, list) or not all(isinstance(t, int) for t in ids):
            raise _RowError("/input_ids", "expected an array of token ids")
        if not isinstance(mask, list) or len(mask) != len(ids):
            raise _RowError("/loss_mask", "expected an array of 0/1 as long as input_ids")
        return "tokens", {"input_ids": ids, "completion_mask": [1 if m else 0 for m in mask]}
    if "prompt" in record and "completion" in record:
        prompt, completion = record["prompt"], record["completion"]
        if isinstance(prompt, str) or isinstance(completion, str):
            return "tokens", {"prompt": _text(prompt, "/prompt"), "completion": _text(completion, "/completion")}
        p, c = _messages(prompt, "/prompt"), _messages(completion, "/completion")
        _has_assistant(c, "/completion")
        return "prompt-completion", {"prompt": p, "completion": c}
    if "prompt" in record:
        prompt = _messages(record["prompt"], "/prompt")
        if prompt[-1]["role"] == "assistant":  # seed 002 multi-turn: the prompt is the conversation
            return "messages", {"messages": prompt}
        extra = record.get("extra_info")
        info: dict[str, Any] = extra if isinstance(extra, dict) else {}
        if isinstance(info.get("answer"), str):
            answer, pointer = info["answer"], "/extra_info/answer"
        elif "answer" in record:
            answer, pointer = record["answer"], "/answer"
        else:
            raise _RowError("/extra_info/answer", "no response to train on (an RL prompt row has none)")
        answer = _text(answer, pointer)
        question = info.get("question")
        user = [{"role": "user", "content": question}] if isinstance(question, str) else prompt
        return "prompt-completion", {"prompt": user, "completion": [{"role": "assistant", "content": answer}]}
    raise _RowError("", "no training fields: expected messages, prompt + completion, a seed-002 row "
                    "(prompt + extra_info.answer), a seed-004 row (INPUT + OUTPUT) or input_ids + loss_mask; "
                    f"found {', '.join(sorted(record)) or 'nothing'}")


def tokenize_text_pair(tokenizer: Any, prompt: str, completion: str, *, eos: bool = False) -> dict[str, list[int]]:
    """Seed 004's tokenisation: prompt and completion each on their own, no special tokens, the
    completion's tokens trained; with `eos`, the EOS token after the completion (trained too)."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    if eos:
        completion_ids = [*completion_ids, tokenizer.eos_token_id]
    return {"input_ids": prompt_ids + completion_ids,
            "completion_mask": [0] * len(prompt_ids) + [1] * len(completion_ids)}


# -- whole files ------------------------------------------------------------------------------


@dataclass
class TrainingRows:
    kind: Kind
    rows: list[dict[str, Any]]
    sources: list[tuple[str, int]]
    """(file, line) of each row, for messages about it."""


def read_training_rows(paths: Sequence[str | os.PathLike[str]], *, tokenizer: Any = None,
                       variant: str | None = None, text_eos: bool = False,
                       limit: int | None = None) -> TrainingRows:
    """The rows of `paths` in TRL's shape, one kind for all (text pairs tokenised with
    `tokenizer`). No rows at all is an error."""
    kind: Kind | None = None
    first: tuple[str, int] | None = None
    rows: list[dict[str, Any]] = []
    sources: list[tuple[str, int]] = []
    for path in (os.fspath(p) for p in paths):
        for number, record in read_records(path):
            if limit is not None and len(rows) >= limit:
                break
            try:
                row_kind, row = to_training_row(record, variant=variant)
            except _RowError as err:
                raise TrainDataError(path, number, err.field, err.reason) from None
            if kind is None:
                kind, first = row_kind, (path, number)
            elif row_kind != kind:
                assert first is not None  # set with kind
                raise TrainDataError(path, number, "", f"a {row_kind} row among {kind} rows "
                                     f"(the first at {first[0]}:{first[1]}); train one kind at a time")
            if row_kind == "tokens" and "prompt" in row:
                if tokenizer is None:
                    raise ValueError("text rows need the tokenizer")
                row = tokenize_text_pair(tokenizer, row["prompt"], row["completion"], eos=text_eos)
            rows.append(row)
            sources.append((path, number))
    if kind is None:
        raise TrainDataError(", ".join(os.fspath(p) for p in paths) or "(no files)", None, "",
                             "no training rows")
    return TrainingRows(kind, rows, sources)
