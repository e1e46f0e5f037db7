"""The episode record: fixtures per pipeline, pydantic and JSON Schema agreement, error messages."""

from __future__ import annotations

import copy
import json
import pickle
import sys
import types
import warnings
from pathlib import Path

import jsonschema
import pytest

from harness.episode import (
    SCHEMA_VERSION,
    Episode,
    EpisodeError,
    Message,
    Step,
    episode_json_schema,
    load_episodes,
    make_episode_id,
    validate_episode,
    write_episodes,
    write_schema,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "episodes"
SCHEMA_FILE = ROOT / "docs" / "episode.schema.json"
FIXTURE_NAMES = ["connections", "connections_doctored", "data_analysis", "search", "code"]


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(validator, record) -> list[str]:
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(record)]


# ------------------------------------------------------------------------------------------
# The published schema
# ------------------------------------------------------------------------------------------


def test_committed_schema_matches_models():
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == episode_json_schema(), (
        "docs/episode.schema.json is stale: run "
        "`python -c \"from harness.episode import write_schema; write_schema('docs/episode.schema.json')\"`"
    )


def test_write_schema_writes_what_the_models_generate(tmp_path):
    out = tmp_path / "schema.json"
    write_schema(out)
    assert json.loads(out.read_text(encoding="utf-8")) == episode_json_schema()
    assert out.read_text(encoding="utf-8") == SCHEMA_FILE.read_text(encoding="utf-8")


def test_schema_header():
    schema = episode_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert f"v{SCHEMA_VERSION}" in schema["$id"]
    assert SCHEMA_VERSION in schema["title"]
    assert schema["description"]
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert schema["additionalProperties"] is False
    for required in (
        "schema_version",
        "episode_id",
        "env",
        "task",
        "model",
        "prompt",
        "steps",
        "outcome",
        "provenance",
    ):
        assert required in schema["required"]
    # every field of every model is documented (docstrings become descriptions)
    for name, sub in schema["$defs"].items():
        assert sub.get("description"), name
        for field, prop in sub.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{field}"
    for field, prop in schema["properties"].items():
        assert prop.get("description"), field


# ------------------------------------------------------------------------------------------
# Fixtures: one realistic episode per pipeline
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_is_valid_for_pydantic_and_json_schema(name, validator):
    record = fixture(name)
    episode = validate_episode(record, path=f"{name}.json")
    assert isinstance(episode, Episode)
    assert schema_errors(validator, record) == []


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_round_trips(name, validator):
    episode = validate_episode(fixture(name))
    line = episode.to_json_line()
    assert "\n" not in line
    again = json.loads(line)
    assert schema_errors(validator, again) == []
    assert validate_episode(again) == episode
    # None fields are left out at the model level ...
    assert "error" not in again
    assert all("tokens" in s for s, m in zip(again["steps"], episode.steps) if m.tokens is not None)
    assert all("tokens" not in s for s, m in zip(again["steps"], episode.steps) if m.tokens is None)
    # ... but a null inside free-form data is data, and is kept
    if name == "connections":
        assert again["steps"][1]["info"]["category_idx"] is None


def test_fixtures_cover_each_pipeline():
    conn = validate_episode(fixture("connections"))
    labels = [s.status.label for s in conn.steps]
    assert labels == ["correct", "one_away", "invalid", "correct", "correct"]
    assert conn.steps[2].status.valid is False and conn.steps[2].status.reason
    assert conn.outcome.reason == "all_categories_found"
    assert "auto_completed" in conn.steps[-1].info

    doctored = validate_episode(fixture("connections_doctored"))
    assert doctored.parent is not None and doctored.parent.steps_kept == 1
    history = doctored.info["resumed_from_guess_history"]
    assert len(history) == doctored.parent.steps_kept
    # the kept turn lives in the prompt: original prompt (2) + kept assistant turn + its feedback
    assert [m.role for m in doctored.prompt] == ["system", "user", "assistant", "user"]

    da = validate_episode(fixture("data_analysis"))
    hooks = da.steps[0].info["execution"]["hooks"]
    assert {"variable_name", "code_line", "value", "value_hash", "depends_on", "description"} <= set(hooks[0])
    assert da.verdict("triangulation").verdict == "pass"
    assert da.steps[0].tokens is not None
    assert len(da.steps[0].tokens.completion_ids) == len(da.steps[0].tokens.completion_logprobs)

    search = validate_episode(fixture("search"))
    assert [s.status.label for s in search.steps] == ["search", "search", "answer"]
    assert search.steps[0].info["documents"][0]["title"]

    code = validate_episode(fixture("code"))
    assert code.task.id == 602 and isinstance(code.task.id, int)
    assert code.verification[0].verdict == "fail" and 0 < code.verification[0].score < 1


def test_completion_and_messages_are_derived_from_steps():
    ep = validate_episode(fixture("search"))
    completion = ep.completion()
    assert [m.role for m in completion] == ["assistant", "user", "assistant", "user", "assistant"]
    assert completion[0].content == ep.steps[0].action
    assert completion[1] == ep.steps[0].observation[0]
    assert ep.messages() == [*ep.prompt, *completion]


# ------------------------------------------------------------------------------------------
# Errors: path, line, field, reason
# ------------------------------------------------------------------------------------------


def test_missing_required_field(validator):
    record = fixture("code")
    del record["outcome"]
    with pytest.raises(EpisodeError) as info:
        validate_episode(record, path="runs/a.jsonl", line=7)
    err = info.value
    assert (err.path, err.line, err.field) == ("runs/a.jsonl", 7, "/outcome")
    assert err.reason == "required field is missing"
    assert str(err) == "runs/a.jsonl:7: /outcome: required field is missing"
    assert schema_errors(validator, record)  # the JSON Schema agrees


def test_wrong_type_deep_inside(validator):
    record = fixture("connections")
    record["steps"][1]["status"]["valid"] = "yes"
    with pytest.raises(EpisodeError) as info:
        validate_episode(record, path="results_3.jsonl", line=12)
    err = info.value
    assert err.field == "/steps/1/status/valid"
    assert err.line == 12
    assert err.reason == 'expected true or false, got "yes"'
    assert str(err).startswith('results_3.jsonl:12: /steps/1/status/valid: expected true or false, got "yes"')
    assert err.more_errors == 0
    assert any(e.startswith("/steps/1/status/valid:") for e in schema_errors(validator, record))


def test_unknown_top_level_field(validator):
    record = fixture("search")
    record["rewrd"] = 1.0
    with pytest.raises(EpisodeError) as info:
        validate_episode(record, path="s.jsonl", line=1)
    err = info.value
    assert err.field == "/rewrd"
    assert "unknown field" in err.reason and "'reward'" in err.reason
    assert str(err).startswith("s.jsonl:1: /rewrd: unknown field")
    assert schema_errors(validator, record)


def test_unknown_nested_field_suggests_the_right_name():
    record = fixture("code")
    record["verification"][0]["detail"] = {}
    with pytest.raises(EpisodeError) as info:
        validate_episode(record)
    assert info.value.field == "/verification/0/detail"
    assert "did you mean 'details'" in info.value.reason
    assert str(info.value).startswith("<memory>: /verification/0/detail: ")  # no line: path only


def test_more_errors_are_counted():
    record = fixture("data_analysis")
    record["steps"][0]["done"] = 1
    record["reward"] = "high"
    del record["env"]["version"]
    with pytest.raises(EpisodeError) as info:
        validate_episode(record, path="x.jsonl", line=3)
    assert info.value.more_errors == 2
    assert str(info.value).endswith("(and 2 more errors)")


def test_union_tags_do_not_leak_into_the_pointer():
    record = fixture("code")
    record["task"]["id"] = 3.5
    with pytest.raises(EpisodeError) as info:
        validate_episode(record)
    assert info.value.field == "/task/id"
    assert info.value.reason == "expected a string or an integer, got 3.5"


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda r: r["task"].__setitem__("id", True), "/task/id"),  # bool is not an int id
        (lambda r: r.__setitem__("sample_index", "3"), "/sample_index"),  # no coercion
        (lambda r: r.__setitem__("sample_index", -1), "/sample_index"),
        (lambda r: r.pop("schema_version"), "/schema_version"),
        (lambda r: r.__setitem__("schema_version", "2"), "/schema_version"),
        (lambda r: r["verification"][0].__setitem__("verdict", "passed"), "/verification/0/verdict"),
        (lambda r: r["prompt"][0].__setitem__("role", "bot"), "/prompt/0/role"),
        (lambda r: r["provenance"].__setitem__("created_at", "2025-02-28T03:11:59"), "/provenance/created_at"),
        (lambda r: r["provenance"].__setitem__("created_at", "yesterday"), "/provenance/created_at"),
        (lambda r: r["steps"][0].__setitem__("tokens", {"completion_ids": [1, 2], "completion_logprobs": [-0.1]}),
         "/steps/0/tokens"),
        (lambda r: r["parent"].__setitem__("steps_kept", 1.0) if "parent" in r else r.__setitem__(
            "parent", {"episode_id": "ep-1", "steps_kept": 1.5, "reason": "game lost"}), "/parent/steps_kept"),
        (lambda r: r["reward_components"].__setitem__("tests", "0"), "/reward_components/tests"),
    ],
)
def test_invalid_values_are_rejected_with_their_pointer(mutate, field):
    record = fixture("code")
    mutate(record)
    with pytest.raises(EpisodeError) as info:
        validate_episode(record, path="p.jsonl", line=2)
    assert info.value.field == field, str(info.value)
    assert str(info.value).startswith(f"p.jsonl:2: {field}: ")


def test_nan_reward_is_rejected():
    record = fixture("code")
    record["reward"] = float("nan")
    with pytest.raises(EpisodeError) as info:
        validate_episode(record)
    assert info.value.field == "/reward"


def test_not_an_object():
    with pytest.raises(EpisodeError) as info:
        validate_episode([1, 2], path="f.jsonl", line=4)
    assert info.value.field == ""
    assert str(info.value) == "f.jsonl:4: (record): expected a JSON object, got list"


def test_episode_error_is_a_picklable_value_error():
    err = EpisodeError("a.jsonl", 3, "/steps/0", "required field is missing", 2)
    assert isinstance(err, ValueError)
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.line, again.field, again.reason, again.more_errors) == (
        "a.jsonl", 3, "/steps/0", "required field is missing", 2)
    assert str(again) == str(err)


# ------------------------------------------------------------------------------------------
# Building episodes in Python
# ------------------------------------------------------------------------------------------


def minimal(**overrides) -> Episode:
    fields = dict(
        schema_version=SCHEMA_VERSION,
        episode_id="ep-1",
        env={"name": "code", "version": "0.1"},
        task={"id": "HumanEval/0"},
        model={"name": "m", "backend": "replay"},
        prompt=[Message(role="user", content="hi")],
        steps=[Step(action="x = 1", done=True)],
        outcome={"done": True},
        provenance={"harness_version": "0.1.0", "created_at": "2025-01-01T00:00:00Z"},
    )
    fields.update(overrides)
    return Episode(**fields)


def test_python_construction(validator):
    ep = minimal()
    assert ep.schema_version == SCHEMA_VERSION
    assert ep.sampling.temperature is None and ep.steps[0].status.valid is True
    data = json.loads(ep.to_json_line())
    assert data["schema_version"] == SCHEMA_VERSION
    assert schema_errors(validator, data) == []
    assert validate_episode(data) == ep
    # Python construction is as strict as JSON validation
    with pytest.raises(ValueError):
        minimal(sample_index="1")
    with pytest.raises(ValueError):
        minimal(unknown=1)
    fields = minimal().model_dump()
    del fields["schema_version"]
    with pytest.raises(ValueError, match="schema_version"):  # required in Python too
        Episode(**fields)


def test_to_json_line_is_compact_and_keeps_unicode():
    ep = minimal(prompt=[Message(role="user", content="Zürich 東京 🙂 \"q\" \\ \t")])
    line = ep.to_json_line()
    assert ": " not in line and ", " not in line.replace('", "', "")
    assert "Zürich 東京 🙂" in line
    assert "reward" not in json.loads(line)  # None → left out
    assert ep.to_dict() == json.loads(line)


def test_make_episode_id_is_stable_and_distinguishes_types():
    a = make_episode_id("run-1", "code", 7, 0)
    assert a == make_episode_id("run-1", "code", 7, 0)
    assert a.startswith("ep-") and len(a) == 23
    assert a != make_episode_id("run-1", "code", "7", 0)
    assert a != make_episode_id("run-1", "code", 7, 1)
    assert a != make_episode_id("run-1", "code", 7, 0, "doctor-1")


def test_write_episodes(tmp_path):
    eps = [validate_episode(fixture(n)) for n in FIXTURE_NAMES]
    out = tmp_path / "eps.jsonl"
    assert write_episodes(out, eps) == len(eps)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [validate_episode(json.loads(line)) for line in lines] == eps
    assert write_episodes(out, eps[:2], append=True) == 2
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(eps) + 2
    assert [p.name for p in tmp_path.iterdir()] == ["eps.jsonl"]  # no temporary file left


def test_write_episodes_leaves_the_old_file_on_failure(tmp_path):
    out = tmp_path / "eps.jsonl"
    out.write_text("old\n", encoding="utf-8")

    def boom():
        yield validate_episode(fixture("code"))
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        write_episodes(out, boom())
    assert out.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["eps.jsonl"]


# ------------------------------------------------------------------------------------------
# Loading files
# ------------------------------------------------------------------------------------------


class FakeJsonlError(ValueError):
    def __init__(self, path, line):
        self.path, self.line = path, line
        super().__init__(f"{path}:{line}:1: not JSON")


def fake_jsonl_module(rows_by_path: dict[str, list[object]]):
    """A stand-in for harness.jsonl.read with the documented (path, line, record) contract:
    a row that is the string 'MALFORMED' is a malformed line."""
    module = types.ModuleType("harness.jsonl")
    calls = []

    class Reader:
        def __init__(self, paths, errors, locations):
            self.paths, self.mode = paths, errors
            self.malformed, self.errors = 0, []

        def __iter__(self):
            for path in self.paths:
                for line, row in enumerate(rows_by_path[path], start=1):
                    if row == "MALFORMED":
                        if self.mode == "raise":
                            raise FakeJsonlError(path, line)
                        self.malformed += 1
                        if self.mode == "collect":
                            self.errors.append(FakeJsonlError(path, line))
                        continue
                    yield path, line, row

    def read(paths, *, fields=None, errors="raise", locations=False, batch_size=1024):
        calls.append({"paths": list(paths), "errors": errors, "locations": locations})
        assert locations is True
        return Reader(list(paths), errors, locations)

    module.read = read
    module.calls = calls
    return module


@pytest.fixture
def two_files(monkeypatch):
    bad = fixture("search")
    bad["steps"][0]["status"]["valid"] = "no"
    rows = {
        "a.jsonl": [fixture("connections"), bad, "MALFORMED", fixture("code")],
        "b.jsonl": [fixture("data_analysis"), {"schema_version": "1"}],
    }
    module = fake_jsonl_module(rows)
    monkeypatch.setitem(sys.modules, "harness.jsonl", module)
    return module


def test_load_raise_stops_at_the_first_invalid_episode(two_files):
    loader = load_episodes(["a.jsonl", "b.jsonl"])
    it = iter(loader)
    assert next(it).env.name == "connections"
    with pytest.raises(EpisodeError) as info:
        next(it)
    assert (info.value.path, info.value.line, info.value.field) == ("a.jsonl", 2, "/steps/0/status/valid")
    assert two_files.calls[0] == {"paths": ["a.jsonl", "b.jsonl"], "errors": "raise", "locations": True}


def test_load_skip_counts(two_files):
    loader = load_episodes(["a.jsonl", "b.jsonl"], errors="skip")
    with pytest.warns(UserWarning, match="2 record"):
        names = [ep.env.name for ep in loader]
    assert names == ["connections", "code", "data-analysis"]
    assert (loader.records, loader.invalid, loader.malformed) == (5, 2, 1)
    assert loader.errors == []


def test_load_collect_keeps_errors_in_file_and_line_order(two_files):
    loader = load_episodes(["a.jsonl", "b.jsonl"], errors="collect")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        episodes = list(loader)
    assert len(episodes) == 3
    assert [(e.path, e.line) for e in loader.errors] == [("a.jsonl", 2), ("a.jsonl", 3), ("b.jsonl", 2)]
    assert isinstance(loader.errors[1], FakeJsonlError)
    assert isinstance(loader.errors[2], EpisodeError) and loader.errors[2].field == "/episode_id"


def test_load_accepts_a_single_path(two_files, tmp_path):
    loader = load_episodes("b.jsonl", errors="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert [ep.env.name for ep in loader] == ["data-analysis"]
    with pytest.raises(ValueError):
        load_episodes("b.jsonl", errors="ignore")


def test_load_episodes_with_the_real_jsonl_reader(tmp_path):
    """End to end through harness.jsonl (Rust); only the documented contract is used."""
    good = [fixture(n) for n in FIXTURE_NAMES]
    bad = copy.deepcopy(good[0])
    bad["steps"][1]["status"]["valid"] = "yes"
    path = tmp_path / "eps.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in good[:2]] + [json.dumps(bad), "{not json", ""]
    lines += [json.dumps(r, ensure_ascii=False) for r in good[2:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(EpisodeError) as info:
        list(load_episodes(path))
    assert (info.value.line, info.value.field) == (3, "/steps/1/status/valid")
    assert str(info.value).startswith(f"{path}:3: /steps/1/status/valid: ")

    loader = load_episodes([path], errors="collect")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        episodes = list(loader)
    assert [ep.episode_id for ep in episodes] == [r["episode_id"] for r in good]
    assert (loader.invalid, loader.malformed) == (1, 1)
    assert [e.line for e in loader.errors] == [3, 4]
