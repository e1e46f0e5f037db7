"""harness.errors.LocatedError: one base for every error that names where bad input is."""

from __future__ import annotations

import pickle

import pytest

from harness import jsonl
from harness.episode import EpisodeError, load_episodes
from harness.errors import LocatedError
from harness.formats.base import FormatError, RecordError
from harness.train.data import TrainDataError


def _raised(action) -> LocatedError:
    with pytest.raises(LocatedError) as info:
        action()
    return info.value


def test_a_malformed_line_from_the_rust_core_is_located(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": \n')
    err = _raised(lambda: list(jsonl.read(str(path))))
    assert isinstance(err, jsonl.JsonlError)
    assert (err.path, err.line, err.field) == (str(path), 2, "") and err.reason


def test_an_invalid_episode_is_located(tmp_path):
    path = tmp_path / "eps.jsonl"
    path.write_text('{"schema_version": "1"}\n')
    err = _raised(lambda: list(load_episodes(path)))
    assert isinstance(err, EpisodeError) and (err.path, err.line) == (str(path), 1)
    assert str(err).startswith(f"{path}:1: ") and "more error" in str(err)


@pytest.mark.parametrize("err, text", [
    (FormatError("f.jsonl", 3, "/steps/0/info/code", "expected a string"),
     "f.jsonl:3: /steps/0/info/code: expected a string"),
    (RecordError("/question", "required field is missing"), "/question: required field is missing"),
    (TrainDataError("t.parquet", None, "", "no rows"), "t.parquet: (row): no rows"),
    (EpisodeError("e.jsonl", 9, "/env", "required field is missing", 2),
     "e.jsonl:9: /env: required field is missing (and 2 more errors)"),
])
def test_messages_and_pickling(err, text):
    assert isinstance(err, LocatedError) and str(err) == text
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err) and str(again) == text
    assert (again.path, again.line, again.field, again.reason) == (err.path, err.line, err.field, err.reason)


def test_a_bad_corpus_file_is_located_and_still_an_environment_error(tmp_path):
    from harness.environment import EnvError
    from harness_search.data_files import DataFileError

    err = DataFileError("corpus.jsonl", 4, "/title", "expected a string")
    assert isinstance(err, LocatedError) and isinstance(err, EnvError)
    assert str(err) == "corpus.jsonl:4: /title: expected a string"
