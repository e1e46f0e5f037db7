"""Real Luigi runs of GenerateRollouts: shards as separate tasks with atomic targets, the run
manifest, resume through Luigi's completeness, the gpu resource of vLLM shards, and the README's
command on the embedded model."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import luigi

from harness.episode import load_episodes
from luigi_tasks.rollouts import GenerateRollouts, GenerateRolloutShard

RESPONSES = ["<think>hm</think><search>founded</search>", "<answer>1412</answer>"]


def scripted_run(data, **overrides) -> GenerateRollouts:
    return GenerateRollouts(env="search", backend="scripted", backend_args={"responses": RESPONSES},
                            limit=5, samples_per_task=2, num_shards=3, data_dir=str(data), **overrides)


def test_shards_then_the_run_manifest(tmp_path):
    task = scripted_run(tmp_path)
    assert luigi.build([task], local_scheduler=True, log_level="WARNING")
    out = task.output_dir()
    assert out.parent == tmp_path / "rollouts" and out.name.startswith("search,scripted-")
    shards = task.requires()
    assert [s.shard_index for s in shards] == [0, 1, 2] and all(s.complete() for s in shards)
    assert {s.output_dir() for s in shards} == {out}
    episodes = list(load_episodes(sorted(out.glob("shard-*.jsonl"))))
    assert Counter((str(e.task.id), e.sample_index) for e in episodes) == {
        (str(t), s): 1 for t in {e.task.id for e in episodes} for s in range(2)}
    assert len(episodes) == 10
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["totals"]["episodes"] == 10 and len(manifest["shards"]) == 3
    assert task.task_id.startswith("GenerateRollouts(search,scripted)-")
    # the same run written to another data directory is another task on one scheduler
    assert scripted_run(tmp_path / "elsewhere").task_id != task.task_id


def test_other_settings_write_elsewhere(tmp_path):
    one, other = scripted_run(tmp_path), scripted_run(tmp_path, temperature=0.2)
    assert one.output_dir() != other.output_dir()
    assert luigi.build([one], local_scheduler=True, log_level="WARNING")
    assert not other.complete()  # never the stale target of other settings
    assert scripted_run(tmp_path, concurrency=3).output_dir() == one.output_dir()  # how, not what


def test_a_missing_shard_is_redone_alone(tmp_path):
    task = scripted_run(tmp_path)
    out = task.output_dir()
    assert luigi.build([task], local_scheduler=True, log_level="WARNING")
    kept = (out / "shard-00000-of-00003.jsonl").read_bytes()
    (out / "shard-00001-of-00003.manifest.json").unlink()
    (out / "manifest.json").unlink()
    assert luigi.build([scripted_run(tmp_path)], local_scheduler=True, log_level="WARNING")
    assert (out / "shard-00000-of-00003.jsonl").read_bytes() == kept
    assert (out / "shard-00001-of-00003.manifest.json").exists()


def test_vllm_shards_need_a_gpu():
    common = {"env": "search", "shard_index": 0}
    assert GenerateRolloutShard(backend="vllm", **common).resources == {"gpu": 1}
    assert GenerateRolloutShard(backend="vllm", backend_args={"tensor_parallel_size": 4},
                                **common).resources == {"gpu": 4}
    assert GenerateRolloutShard(backend="transformers", **common).resources == {}


def test_the_readme_command_on_the_embedded_model(tmp_path):
    # the README's main command, made smaller (one task, one short turn) for the test suite
    result = subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "luigi_tasks.rollouts", "GenerateRollouts",
         "--env", "connections", "--local-scheduler", "--limit", "1", "--max-turns", "1", "--max-tokens", "8"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert ":) because there were no failed tasks" in result.stdout + result.stderr
    [out] = (tmp_path / "data" / "rollouts").iterdir()
    [episode] = list(load_episodes(out / "shard-00000-of-00001.jsonl"))
    assert episode.model.name == "smollm2-135m-instruct" and len(episode.steps) == 1
    assert episode.outcome.reason == "max_turns_reached"
    assert json.loads((out / "manifest.json").read_text())["totals"]["episodes"] == 1
