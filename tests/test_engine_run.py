"""The rollout engine with a real (tiny) environment and the scripted backend: failures kept per
episode, hooks, shards, manifests, determinism, resume checks, limits."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from engine_guess_env import GuessEnv
from harness import plugins
from harness.backends.scripted import ScriptedBackend
from harness.engine import RolloutConfig, generate, generate_shard
from harness.engine.config import content_settings
from harness.engine.shard import ConfigMismatch
from harness.episode import load_episodes
from harness.plugins import Plugin, hookimpl


def config(**overrides) -> RolloutConfig:
    return RolloutConfig(**{"env": "tiny-guess", "backend": "scripted", "samples_per_task": 3,
                            "max_tokens": 8, **overrides})


def episodes(path):
    return list(load_episodes(path))


def test_failing_episodes_are_recorded_and_the_rest_complete(tmp_path):
    # t1's secret is answered on turn 2; the third turn of the others raises in the env
    backend = ScriptedBackend(responses=["hmm", "word1", "FAIL"])
    manifest = generate_shard(config(), tmp_path, backend=backend, env=GuessEnv(n_tasks=4, max_turns=5),
                              progress=False)
    records = episodes(tmp_path / manifest["shard"]["path"])
    assert Counter((str(e.task.id), e.sample_index) for e in records) == {
        (f"t{t}", s): 1 for t in range(4) for s in range(3)}
    won = [e for e in records if e.task.id == "t1"]
    assert all(e.outcome.reason == "found" and e.reward == 1.0 and e.error is None for e in won)
    failed = [e for e in records if e.task.id != "t1"]
    assert all(e.error.type == "RuntimeError" and "tiny env refuses" in e.error.message for e in failed)
    assert all(e.outcome.reason == "error" and len(e.steps) == 2 for e in failed)
    assert manifest["counts"]["episodes"] == 12 and manifest["counts"]["failed"] == 9
    assert manifest["counts"]["outcome_reasons"] == {"error": 9, "found": 3}


def test_records_carry_provenance_sampling_and_seeds(tmp_path):
    manifest = generate_shard(config(temperature=0.3, top_p=0.9, top_k=5, stop=["</guess>"], seed=7),
                              tmp_path, backend=ScriptedBackend(responses=["word0"] * 3),
                              env=GuessEnv(n_tasks=2), progress=False)
    records = episodes(tmp_path / manifest["shard"]["path"])
    registry = plugins.registry()
    for e in records:
        assert e.provenance.plugins == registry.versions()
        assert e.model.name == "scripted" and e.model.backend == "scripted"
        assert (e.sampling.n, e.sampling.temperature, e.sampling.top_p, e.sampling.top_k) == (3, 0.3, 0.9, 5)
        assert e.sampling.stop == ["</guess>"] and e.sampling.max_tokens == 8
        assert e.env.args == {"n_tasks": 2}
        assert all(not s.info["main_thread"] for s in e.steps)  # env steps ran off the event loop
    assert len({e.seed for e in records}) == len(records)
    assert manifest["seed"] == 7 and manifest["settings"]["seed"] == 7
    assert manifest["env"] == {"name": "tiny-guess", "version": "0.0.1", "args": {"n_tasks": 2}}


def test_same_settings_same_episodes(tmp_path):
    def run(out):
        m = generate_shard(config(seed=3), out, backend=ScriptedBackend(responses=["a", "word2", "c"]),
                           env=GuessEnv(n_tasks=3), progress=False)
        return {e.episode_id: e for e in episodes(out / m["shard"]["path"])}

    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    assert first.keys() == second.keys()
    for key, episode in first.items():
        drop = {"provenance"}
        assert episode.model_dump(exclude=drop) == second[key].model_dump(exclude=drop)


def test_shards_split_the_items_and_the_run_manifest_adds_them_up(tmp_path):
    manifests = generate(config(num_shards=3), tmp_path, backend=ScriptedBackend(responses=["word3"]),
                         env=GuessEnv(n_tasks=5), progress=False)
    ids = [e.episode_id for m in manifests for e in episodes(tmp_path / m["shard"]["path"])]
    assert len(ids) == len(set(ids)) == 15
    assert [m["counts"]["episodes"] for m in manifests] == [5, 5, 5]
    run_manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert run_manifest["totals"]["episodes"] == 15
    assert not list(tmp_path.glob("*.chunks"))


def test_a_finished_shard_is_not_redone_and_other_settings_are_refused(tmp_path):
    env = GuessEnv(n_tasks=2)
    generate_shard(config(), tmp_path, backend=ScriptedBackend(responses=["x"] * 3), env=env, progress=False)
    before = (tmp_path / "shard-00000-of-00001.jsonl").read_bytes()
    generate_shard(config(), tmp_path, backend=ScriptedBackend(responses=["other"] * 3), env=env, progress=False)
    assert (tmp_path / "shard-00000-of-00001.jsonl").read_bytes() == before
    with pytest.raises(ConfigMismatch, match=r"max_tokens: 8 -> 9"):
        generate_shard(config(max_tokens=9), tmp_path, backend=ScriptedBackend(responses=["x"]), env=env,
                       progress=False)


def test_max_turns_cap_and_prompt_too_long(tmp_path, transformers_backend):
    m = generate_shard(config(max_turns=2, samples_per_task=1), tmp_path / "cap",
                       backend=ScriptedBackend(responses=["a", "b", "c"]), env=GuessEnv(n_tasks=1, max_turns=9),
                       progress=False)
    [capped] = episodes(tmp_path / "cap" / m["shard"]["path"])
    assert capped.outcome.reason == "max_turns_reached" and len(capped.steps) == 2 and capped.error is None
    long_env = GuessEnv(n_tasks=1, prompt_padding=transformers_backend.context_length)
    m = generate_shard(config(backend="transformers", samples_per_task=1), tmp_path / "long",
                       backend=transformers_backend, env=long_env, progress=False)
    [too_long] = episodes(tmp_path / "long" / m["shard"]["path"])
    assert too_long.outcome.reason == "prompt_too_long" and too_long.steps == [] and too_long.error is None


class _Hooks:
    def __init__(self, fail_on: str | None = None):
        self.seen: list[str] = []
        self.fail_on = fail_on

    @hookimpl
    def episode_finished(self, episode):
        self.seen.append(episode["episode_id"])
        if episode["task"]["id"] == self.fail_on:
            raise RuntimeError("hook broke")
        if episode["task"]["id"] == "t2":
            episode["reward"] = "high"  # no longer a valid record
        episode["info"]["hooked"] = True


@pytest.fixture
def hooks():
    registry = plugins.registry()
    hook = _Hooks(fail_on="t1")
    registry.add(hook, Plugin("test-hooks", "test-hooks", "0"))
    yield hook
    registry.manager.unregister(hook)
    registry.plugins.remove(Plugin("test-hooks", "test-hooks", "0"))


def test_episode_finished_hook_sees_every_record_and_may_amend_it(tmp_path, hooks):
    m = generate_shard(config(samples_per_task=1), tmp_path, backend=ScriptedBackend(responses=["word0"] * 3),
                       env=GuessEnv(n_tasks=3), progress=False)
    records = {str(e.task.id): e for e in episodes(tmp_path / m["shard"]["path"])}
    assert sorted(hooks.seen) == sorted(e.episode_id for e in records.values())
    assert records["t0"].info["hooked"] is True and records["t0"].error is None
    # a hook that raises is the registry's to report (harness.plugins): the record stays as built
    assert records["t1"].error is None and "hooked" not in records["t1"].info
    assert records["t2"].error.message.startswith("episode_finished hook: ")  # a broken record
    assert records["t2"].reward != "high"


def test_thousands_of_concurrent_episodes(tmp_path):
    m = generate_shard(config(samples_per_task=500), tmp_path, backend=ScriptedBackend(responses=["x", "y", "word1"]),
                       env=GuessEnv(n_tasks=4), concurrency=2000, chunk_size=100, progress=False)
    assert m["counts"]["episodes"] == 2000
    assert m["counts"]["outcome_reasons"] == {"found": 500, "out_of_turns": 1500}


def test_a_rerun_with_another_shard_count_is_refused_before_it_writes(tmp_path):
    env = GuessEnv(n_tasks=3)
    generate(config(), tmp_path, backend=ScriptedBackend(responses=["word0"] * 3), env=env, progress=False)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ConfigMismatch) as caught:
        generate_shard(config(num_shards=2), tmp_path, 1, backend=ScriptedBackend(responses=["word0"] * 3),
                       env=env, progress=False)
    assert str(caught.value).startswith(f"{tmp_path / 'settings.json'}: ")
    assert "num_shards: 1 -> 2" in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_directory_written_before_settings_json_is_checked_against_its_shards(tmp_path):
    env = GuessEnv(n_tasks=3)
    generate_shard(config(num_shards=2), tmp_path, 0, backend=ScriptedBackend(responses=["x"]), env=env,
                   progress=False)
    (tmp_path / "settings.json").unlink()
    with pytest.raises(ConfigMismatch, match=r"shard-00000-of-00002.manifest.json: .*num_shards: 2 -> 3"):
        generate_shard(config(num_shards=3), tmp_path, 0, backend=ScriptedBackend(responses=["x"]), env=env,
                       progress=False)


def test_backend_arguments_that_decide_content_are_checked_and_the_others_may_change(tmp_path):
    def run(backend_args):
        cfg = config(backend_args=backend_args)
        return generate_shard(cfg, tmp_path, backend=ScriptedBackend(**backend_args), env=GuessEnv(n_tasks=2),
                              progress=False)

    run({"responses": ["a", "word1"]})
    with pytest.raises(ConfigMismatch, match=r"backend_args\.responses: \['a', 'word1'\] -> \['b'\]"):
        run({"responses": ["b"]})

    openai = plugins.get("backend", "openai")
    first = content_settings(config(backend="openai", model="m", backend_args={
        "base_url": "http://a/v1", "concurrency": 4, "timeout": 10, "api_key": "sk-secret"}), openai)
    moved = content_settings(config(backend="openai", model="m", backend_args={
        "base_url": "http://b/v1", "concurrency": 64, "max_retries": 2}), openai)
    assert first == moved and "sk-secret" not in json.dumps(first)
    assert first["backend_args"] == {"model": "m", "logprobs": False, "extra_body": None}
    other_model = content_settings(config(backend="openai", model="n"), openai)
    with_logprobs = content_settings(config(backend="openai", model="m", backend_args={"logprobs": True}), openai)
    assert other_model["backend_args"]["model"] == "n" and with_logprobs != first


class _Unsaid(ScriptedBackend):
    content_args = None  # a plugin's backend that does not say which arguments decide content


def test_a_backend_that_does_not_declare_its_content_arguments_has_all_of_them_checked():
    settings = content_settings(config(backend_args={"responses": ["a"], "api_key": "k"}), _Unsaid)
    assert settings["backend_args"] == {"responses": ["a"]}


class _Echo(GuessEnv):
    """An environment whose own text holds a lone surrogate (a file name read with surrogateescape)."""

    name = "tiny-echo"

    def new_session(self, task, seed):
        session = super().new_session(task, seed)
        session.prompt[1] = session.prompt[1].model_copy(update={"content": "file caf\udce9.csv"})
        return session


def test_lone_surrogates_from_the_model_or_the_env_are_repaired_and_noted(tmp_path):
    backend = ScriptedBackend(responses=["\ud83d no", "word0 \ud83d\ude00"])  # a lone half, then a whole pair
    m = generate_shard(config(samples_per_task=2), tmp_path, backend=backend, env=GuessEnv(n_tasks=2),
                       progress=False)
    records = episodes(tmp_path / m["shard"]["path"])  # every line valid UTF-8 and a valid record
    assert m["counts"]["episodes"] == 4
    for e in records:
        assert e.steps[0].action == "\ufffd no"
        assert e.info["text_repairs"][0] == "/steps/0/action"
    won = [e for e in records if e.task.id == "t0"]
    assert all(e.steps[1].action == "word0 \U0001f600" and e.error is None for e in won)
    assert all(e.info["text_repairs"] == ["/steps/0/action", "/steps/1/action"] for e in won)

    m = generate_shard(config(env="tiny-echo", samples_per_task=1), tmp_path / "env",
                       backend=ScriptedBackend(responses=["word0"]), env=_Echo(n_tasks=1), progress=False)
    [echoed] = episodes(tmp_path / "env" / m["shard"]["path"])
    assert echoed.prompt[1].content == "file caf\ufffd.csv" and echoed.error is None
    assert echoed.info["text_repairs"] == ["/prompt/1/content"]


class _LosesSteps(GuessEnv):
    """An environment whose sessions answer in `astep` without going through `step()`."""

    name = "loses-steps"

    def new_session(self, task, seed):
        session = super().new_session(task, seed)

        async def astep(action):
            return session.transition(action)  # never recorded in session.steps

        session.astep = astep
        return session


def test_an_environment_that_loses_its_steps_fails_its_episodes_instead_of_looping(tmp_path):
    backend = ScriptedBackend(responses=["a", "b", "c", "d"])
    manifest = generate_shard(config(env="loses-steps", samples_per_task=1, max_turns=3), tmp_path,
                              backend=backend, env=_LosesSteps(n_tasks=2), progress=False)
    records = episodes(tmp_path / manifest["shard"]["path"])
    assert len(records) == 2
    assert all(e.error.type == "EnvError" and "an astep override must go through step()" in e.error.message
               for e in records)


class _NoVersion(GuessEnv):
    name = "no-version"
    version = ""


def test_an_environment_no_record_could_hold_is_refused_before_any_episode(tmp_path):
    with pytest.raises(ValueError, match=r"environment plugin 'no-version' \(_NoVersion\) cannot be recorded.*version"):
        generate_shard(config(env="no-version"), tmp_path, backend=ScriptedBackend(responses=["x"]),
                       env=_NoVersion(), progress=False)
    assert not list(tmp_path.glob("shard-*.jsonl"))
