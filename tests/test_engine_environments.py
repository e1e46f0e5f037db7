"""Connections and search episodes end to end with each CPU backend: scripted, transformers on
the embedded model, and openai against the llama.cpp server. Every record validates against the
episode model and the published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from harness import plugins
from harness.backends.openai_backend import OpenAIBackend
from harness.backends.scripted import ScriptedBackend
from harness.engine import RolloutConfig, generate_shard
from harness.episode import validate_episode
from servers import MODEL_ALIAS

SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "episode.schema.json").read_text())


def read_records(out: Path, manifest: dict) -> list:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    records = []
    path = out / manifest["shard"]["path"]
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        record = json.loads(line)
        validator.validate(record)
        records.append(validate_episode(record, path=str(path), line=number))
    return records


def winning_script(env_name: str, task) -> list[str]:
    if env_name == "connections":
        return ["<guess>[" + ", ".join(f"`{w}`" for w in c["members"]) + "]</guess>"
                for c in task.data["categories"][:3]]
    return [f"<think>search first</think><search>{task.data['question']}</search>",
            f"<think>found it</think><answer>{task.data['answers'][0]}</answer>"]


@pytest.mark.parametrize("env_name", ["connections", "search"])
def test_scripted_backend_plays_winning_episodes(tmp_path, env_name):
    env = plugins.get("environment", env_name)()
    task = next(iter(env.tasks("test")))
    config = RolloutConfig(env=env_name, backend="scripted", split="test", task_ids=[str(task.id)],
                           samples_per_task=2, max_tokens=64)
    manifest = generate_shard(config, tmp_path, backend=ScriptedBackend(responses=winning_script(env_name, task)),
                              progress=False)
    records = read_records(tmp_path, manifest)
    assert len(records) == 2
    for e in records:
        assert e.error is None and e.outcome.success is True and e.reward == 1.0
        assert e.env.name == env_name and str(e.task.id) == str(task.id)


@pytest.mark.parametrize("env_name", ["connections", "search"])
def test_transformers_backend_on_the_embedded_model(tmp_path, env_name, transformers_backend):
    config = RolloutConfig(env=env_name, backend="transformers", split="test", limit=2, samples_per_task=1,
                           max_tokens=12, max_turns=2, temperature=0.7)
    manifest = generate_shard(config, tmp_path, backend=transformers_backend, progress=False)
    records = read_records(tmp_path, manifest)
    assert len(records) == 2
    for e in records:
        assert e.error is None and e.outcome.done
        assert e.model.backend == "transformers" and e.model.name == "smollm2-135m-instruct"
        assert 1 <= len(e.steps) <= 2
        for step in e.steps:
            assert 1 <= step.usage.completion_tokens <= 12
            assert (
                len(step.tokens.completion_ids) == len(step.tokens.completion_logprobs) == step.usage.completion_tokens
            )
        assert e.usage.completion_tokens == sum(s.usage.completion_tokens for s in e.steps)


@pytest.mark.parametrize("env_name", ["connections", "search"])
def test_openai_backend_against_llama_cpp_with_faults(tmp_path, env_name, fault_proxy):
    fault_proxy.inject("500", "429", "reset", "malformed", "bad_usage")
    backend = OpenAIBackend(MODEL_ALIAS, base_url=fault_proxy.base_url, backoff=0.01, concurrency=2, timeout=60)
    config = RolloutConfig(env=env_name, backend="openai", model=MODEL_ALIAS, split="test", limit=2,
                           samples_per_task=1, max_tokens=12, max_turns=2)
    manifest = generate_shard(config, tmp_path, backend=backend, progress=False)
    records = read_records(tmp_path, manifest)
    assert len(records) == 2
    assert fault_proxy.faults_served == ["500", "429", "reset", "malformed", "bad_usage"]
    for e in records:
        assert e.error is None and e.outcome.done and e.model.backend == "openai"
        assert all(s.usage.completion_tokens >= 1 for s in e.steps)


def test_server_down_is_recorded_per_episode_and_the_run_completes(tmp_path, fault_proxy):
    fault_proxy.inject(*["500"] * 3)  # the first episode's request exhausts its retries
    backend = OpenAIBackend(MODEL_ALIAS, base_url=fault_proxy.base_url, backoff=0.01, max_retries=2,
                            concurrency=1)
    config = RolloutConfig(env="search", backend="openai", model=MODEL_ALIAS, split="test", limit=2,
                           max_tokens=8, max_turns=1)
    manifest = generate_shard(config, tmp_path, backend=backend, concurrency=1, progress=False)
    records = read_records(tmp_path, manifest)
    assert [e.error is not None for e in records] == [True, False]
    assert records[0].error.type == "BackendError" and "gave up after 3 attempts" in records[0].error.message
    assert records[0].outcome.reason == "error" and manifest["counts"]["failed"] == 1
