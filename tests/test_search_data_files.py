"""The search environment over a user's own corpus and questions, the errors bad files and bad
arguments give (file, line, field), and the quality of the shipped data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness_search
from harness.environment import EnvError
from harness.episode import Task
from harness_search import SearchEnvironment
from harness_search.data_files import DataFileError, read_documents, read_questions
from harness_search.scoring import normalize_answer

SHIPPED = Path(harness_search.__file__).parent / "data"


def write_jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines), encoding="utf-8"
    )
    return path


CORPUS = [
    {"id": "a", "title": "Zorbin", "content": "Zorbin is a purple moon of the planet Quelt."},
    {"id": "b", "title": "Quelt", "content": "Quelt is a gas giant with three moons.", "url": "ignored"},
    {"id": 3, "title": "Moon", "content": "A moon orbits a planet."},
]
QUESTIONS = [
    {"id": "z1", "question": "What colour is Zorbin?", "answers": ["purple"], "split": "dev", "level": "easy"},
    {"id": 2, "question": "How many moons does Quelt have?", "answers": ["three", "3"]},
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return write_jsonl(tmp_path / "corpus.jsonl", CORPUS), write_jsonl(tmp_path / "questions.jsonl", QUESTIONS)


def test_own_corpus_and_questions(files):
    corpus, questions = files
    env = SearchEnvironment(corpus=corpus, questions=str(questions), top_k=1)
    assert env.args == {
        "corpus": str(corpus), "questions": str(questions),
        "top_k": 1, "max_turns": 8, "max_searches": 5, "reward": "exact_match",
    }
    json.dumps(env.args)  # recorded in every episode: must be JSON
    assert env.splits() == ["dev", "train"]  # a line without a split is a training question
    [dev] = env.tasks("dev")
    assert dev.id == "z1" and dev.split == "dev"
    assert dev.data == {"question": "What colour is Zorbin?", "answers": ["purple"], "level": "easy"}
    assert env.task(2).data["answers"] == ["three", "3"]  # integer ids work, looked up as strings
    assert env.task("2") is env.task(2)
    with pytest.raises(EnvError, match="no task with id 'z2'"):
        env.task("z2")
    session = env.start(env.task("2"), seed=0)
    step = session.step("<search>Quelt moons</search>")
    assert [d["id"] for d in step.info["documents"]] == ["b"]
    assert step.info["documents"][0] == {
        "id": "b",
        "title": "Quelt",
        "content": "Quelt is a gas giant with three moons.",
    }
    session.step("<answer>3</answer>")
    assert session.summary().outcome.success


def test_unknown_split(files):
    env = SearchEnvironment(corpus=files[0], questions=files[1])
    with pytest.raises(EnvError, match=r"no split 'test' \(splits: dev, train\)"):
        env.tasks("test")


def test_shipped_splits():
    env = SearchEnvironment()
    assert env.splits() == ["train", "test"]
    assert len(list(env.tasks("train"))) == 36 and len(list(env.tasks("test"))) == 17


BAD_CORPUS = [
    ([CORPUS[0], "{not json"], 2, "", "not valid JSON"),
    ([CORPUS[0], "[1, 2]"], 2, "", "expected a JSON object, got an array"),
    ([CORPUS[0], {"title": "T", "content": "C"}], 2, "/id", "required field is missing"),
    (
        [CORPUS[0], {"id": True, "title": "T", "content": "C"}],
        2,
        "/id",
        "expected a non-empty string or an integer, got true",
    ),
    ([CORPUS[0], {"id": "a", "title": "T", "content": "C"}], 2, "/id", "duplicate id 'a' (first on line 1)"),
    (
        [{"id": 7, "title": "T", "content": "C"}, {"id": "7", "title": "U", "content": "D"}],
        2,
        "/id",
        "duplicate id '7'",
    ),
    ([CORPUS[0], {"id": "x", "title": "", "content": "C"}], 2, "/title", 'expected a non-empty string, got ""'),
    ([CORPUS[0], "", {"id": "x", "title": "T", "body": "C"}], 3, "/content", "required field is missing"),
    ([CORPUS[0], {"id": "x", "title": "T", "contents": "C"}], 2, "/content", "did you mean 'content'?"),
    ([CORPUS[0], {"id": "x", "title": "T", "content": 5}], 2, "/content", "expected a non-empty string, got 5"),
]


@pytest.mark.parametrize(("lines", "line", "field", "reason"), BAD_CORPUS)
def test_bad_corpus_lines_name_file_line_and_field(tmp_path, lines, line, field, reason):
    path = write_jsonl(tmp_path / "corpus.jsonl", lines)
    with pytest.raises(DataFileError) as caught:
        SearchEnvironment(corpus=path)
    err = caught.value
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert reason in err.reason
    assert str(err).startswith(f"{path}:{line}: {field or '(record)'}: ")


BAD_QUESTIONS = [
    ([{"id": "q", "question": "Q?", "answer": "x"}], 1, "/answers", "did you mean 'answers'?"),
    ([{"id": "q", "question": "Q?", "answers": "x"}], 1, "/answers", 'got a string (write ["x"])'),
    ([{"id": "q", "question": "Q?", "answers": []}], 1, "/answers", "expected a non-empty list of strings, got []"),
    ([{"id": "q", "question": "Q?", "answers": ["ok", 3]}], 1, "/answers/1", "expected a non-empty string, got 3"),
    ([{"id": "q", "question": "Q?", "answers": ["ok", " "]}], 1, "/answers/1", "expected a non-empty string"),
    ([{"id": "q", "question": None, "answers": ["ok"]}], 1, "/question", "got null"),
    ([QUESTIONS[0], {"id": "r", "question": "Q?", "answers": ["a"], "split": 1}], 2, "/split", "got 1"),
    ([QUESTIONS[0], QUESTIONS[0]], 2, "/id", "duplicate id 'z1' (first on line 1)"),
]


@pytest.mark.parametrize(("lines", "line", "field", "reason"), BAD_QUESTIONS)
def test_bad_question_lines_name_file_line_and_field(tmp_path, lines, line, field, reason):
    path = write_jsonl(tmp_path / "questions.jsonl", lines)
    with pytest.raises(DataFileError) as caught:
        SearchEnvironment(questions=path)
    err = caught.value
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert reason in err.reason


def test_missing_empty_and_undecodable_files(tmp_path):
    with pytest.raises(DataFileError, match=r"nowhere\.jsonl: \(record\): cannot open: No such file"):
        SearchEnvironment(corpus=tmp_path / "nowhere.jsonl")
    empty = write_jsonl(tmp_path / "empty.jsonl", ["", "  "])
    with pytest.raises(DataFileError, match="no documents"):
        read_documents(empty)
    with pytest.raises(DataFileError, match="no questions"):
        read_questions(empty)
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(json.dumps(CORPUS[0]).encode() + b"\n" + '{"id": "é"}'.encode("latin-1") + b"\n")
    with pytest.raises(DataFileError) as caught:
        read_documents(latin1)
    assert caught.value.line == 2 and "not UTF-8" in caught.value.reason


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"top_n": 3}, r"unknown argument\(s\) top_n \(known: corpus, questions, top_k"),
        ({"top_k": 0}, "top_k must be a positive integer, got 0"),
        ({"max_turns": "8"}, "max_turns must be a positive integer, got '8'"),
        ({"max_searches": True}, "max_searches must be a positive integer, got True"),
        ({"reward": "recall"}, "reward must be one of exact_match, f1, got 'recall'"),
    ],
)
def test_bad_arguments(args, message):
    with pytest.raises(EnvError, match=message):
        SearchEnvironment(**args)


def test_task_without_question_data_is_refused():
    env = SearchEnvironment()
    with pytest.raises(EnvError, match=r"needs data.question"):
        env.start(Task(id="x", data={"prompt": "?"}), seed=0)


def test_shipped_data_is_consistent():
    documents = read_documents(SHIPPED / "corpus.jsonl")
    questions = read_questions(SHIPPED / "questions.jsonl")
    assert 80 <= len(documents) <= 150 and 40 <= len(questions) <= 60
    by_id = {d.id: d for d in documents}
    assert len({d.title for d in documents}) == len(documents)
    multi_hop = [q for q in questions if q.extra["hops"] > 1]
    assert len(multi_hop) >= 10
    for q in questions:
        assert q.extra["hops"] == len(q.extra["supporting"])
        # the answer is stated by the document of the last hop
        last = by_id[q.extra["supporting"][-1]]
        text = normalize_answer(f"{last.title} {last.content}")
        assert any(normalize_answer(a) in text for a in q.answers), q.id
