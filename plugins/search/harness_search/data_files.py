"""Reading the corpus and question files (JSONL), with errors that name file, line and field.

Corpus lines are `{id, title, content}`; question lines are `{id, question, answers: [...],
split?}`. Blank lines are skipped. Other keys are allowed: on a question they travel into the
task's data (e.g. `hops`, `supporting`), on a document they are ignored.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.environment import EnvError
from harness.errors import LocatedError

DEFAULT_SPLIT = "train"
"""The split of a question line without a `split` key."""


class DataFileError(LocatedError, EnvError):
    """A corpus or question file that cannot be used. The message reads `path:line: field: reason`."""


@dataclass(frozen=True)
class Document:
    id: str | int
    title: str
    content: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "content": self.content}


@dataclass(frozen=True)
class Question:
    id: str | int
    question: str
    answers: list[str]
    split: str
    extra: dict[str, Any] = field(default_factory=dict)


def read_documents(path: str | os.PathLike[str]) -> list[Document]:
    """The documents of a corpus file, in file order."""
    path = os.fspath(path)
    documents: list[Document] = []
    first_line: dict[str | int, int] = {}
    for line, record in _records(path):
        doc_id = _id(path, line, record, first_line)
        documents.append(
            Document(
                id=doc_id,
                title=_text(path, line, record, "title"),
                content=_text(path, line, record, "content"),
            )
        )
    if not documents:
        raise DataFileError(path, None, "", "no documents (the file is empty)")
    return documents


def read_questions(path: str | os.PathLike[str]) -> list[Question]:
    """The questions of a question file, in file order."""
    path = os.fspath(path)
    questions: list[Question] = []
    first_line: dict[str | int, int] = {}
    for line, record in _records(path):
        question_id = _id(path, line, record, first_line)
        text = _text(path, line, record, "question")
        answers = _answers(path, line, record)
        split = _text(path, line, record, "split") if "split" in record else DEFAULT_SPLIT
        extra = {k: v for k, v in record.items() if k not in ("id", "question", "answers", "split")}
        questions.append(Question(question_id, text, answers, split, extra))
    if not questions:
        raise DataFileError(path, None, "", "no questions (the file is empty)")
    return questions


# -- one line at a time ----------------------------------------------------------------------


def _records(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the `with f` below; only opening is guarded
    except OSError as exc:
        raise DataFileError(path, None, "", f"cannot open: {exc.strerror or exc}") from None
    with f:
        for line, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataFileError(path, line, "", f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataFileError(path, line, "", f"not valid JSON: {exc.msg} (column {exc.colno})") from None
            if not isinstance(record, dict):
                raise DataFileError(path, line, "", f"expected a JSON object, got {_json_type(record)}")
            yield line, record


def _missing(path: str, line: int, record: dict[str, Any], key: str) -> DataFileError:
    reason = "required field is missing"
    close = difflib.get_close_matches(key, list(record), n=1)
    if close:
        reason += f" (found {close[0]!r}: did you mean {key!r}?)"
    return DataFileError(path, line, f"/{key}", reason)


def _id(path: str, line: int, record: dict[str, Any], first_line: dict[str | int, int]) -> str | int:
    if "id" not in record:
        raise _missing(path, line, record, "id")
    value = record["id"]
    # bool is an int subclass; an id of `true` is a mistake, not the task 1
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise DataFileError(path, line, "/id", f"expected a non-empty string or an integer, got {_show(value)}")
    # ids compare as strings (the environment API looks tasks up that way), so 7 and "7" clash
    key = str(value)
    if key in first_line:
        raise DataFileError(path, line, "/id", f"duplicate id {value!r} (first on line {first_line[key]})")
    first_line[key] = line
    return value


def _text(path: str, line: int, record: dict[str, Any], key: str) -> str:
    if key not in record:
        raise _missing(path, line, record, key)
    value = record[key]
    if not isinstance(value, str) or not value.strip():
        raise DataFileError(path, line, f"/{key}", f"expected a non-empty string, got {_show(value)}")
    return value


def _answers(path: str, line: int, record: dict[str, Any]) -> list[str]:
    if "answers" not in record:
        raise _missing(path, line, record, "answers")
    value = record["answers"]
    if isinstance(value, str):
        raise DataFileError(
            path, line, "/answers", f"expected a list of strings, got a string (write [{_show(value)}])"
        )
    if not isinstance(value, list) or not value:
        raise DataFileError(path, line, "/answers", f"expected a non-empty list of strings, got {_show(value)}")
    for i, answer in enumerate(value):
        if not isinstance(answer, str) or not answer.strip():
            raise DataFileError(path, line, f"/answers/{i}", f"expected a non-empty string, got {_show(answer)}")
    return list(value)


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
