"""Synthetic episode files: valid records, sizes, task ids, determinism, speed."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import jsonschema
import pytest

import synthetic
from harness.episode import validate_episode
from synthetic import MAX_RECORD_BYTES, MIN_RECORD_BYTES, SyntheticStats, write_synthetic_episodes

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "episode.schema.json"


def task_key(value) -> str:
    """The key `harness.jsonl` groups by: str() semantics (7 and "7" are one key)."""
    return str(value)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("syn") / "episodes.jsonl"
    stats = write_synthetic_episodes(path, target_bytes=3_000_000, unique_tasks=40, seed=7)
    return path, stats, path.read_bytes().splitlines(keepends=True)


def test_stats_match_the_file(sample):
    path, stats, lines = sample
    assert isinstance(stats, SyntheticStats)
    assert stats.records == len(lines) > 100
    assert stats.bytes == path.stat().st_size >= 3_000_000
    assert stats.bytes - 3_000_000 < MAX_RECORD_BYTES  # stops at the first record that reaches the target
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    assert [p.name for p in path.parent.iterdir()] == ["episodes.jsonl"]  # no temporary file left


def test_every_record_is_a_valid_episode(sample):
    path, _, lines = sample
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    for n, line in enumerate(lines, start=1):
        record = json.loads(line)
        validate_episode(record, path=str(path), line=n)
        if n % 25 == 1:  # the JSON Schema on a sample (it is slower)
            assert list(validator.iter_errors(record)) == [], n


def test_sizes_are_spread_over_1_to_20_kb(sample):
    _, _, lines = sample
    sizes = [len(line) for line in lines]
    assert min(sizes) >= MIN_RECORD_BYTES
    assert max(sizes) <= MAX_RECORD_BYTES
    assert sum(s < 4096 for s in sizes) > len(sizes) * 0.05
    assert sum(s > 15 * 1024 for s in sizes) > len(sizes) * 0.05
    assert len(set(sizes)) > len(sizes) // 4


def test_task_ids_and_kinds(sample):
    _, stats, lines = sample
    records = [json.loads(line) for line in lines]
    keys = {task_key(r["task"]["id"]) for r in records}
    assert len(keys) == stats.unique_tasks == 40
    # mixed id types: MBPP-style integers and prefixed strings, never colliding under str()
    types_ = {type(r["task"]["id"]) for r in records}
    assert types_ == {int, str}
    assert len({r["task"]["id"] for r in records}) == 40
    # a task always belongs to the same env; all four kinds are present
    env_of = collections.defaultdict(set)
    for r in records:
        env_of[task_key(r["task"]["id"])].add(r["env"]["name"])
    assert all(len(v) == 1 for v in env_of.values())
    assert collections.Counter(r["env"]["name"] for r in records).keys() == set(synthetic.KINDS)
    # sample_index counts the samples of each task in file order
    seen = collections.Counter()
    for r in records:
        key = task_key(r["task"]["id"])
        assert r["sample_index"] == seen[key]
        seen[key] += 1
    # episode ids are unique; rewards are floats that vary
    assert len({r["episode_id"] for r in records}) == len(records)
    assert all(isinstance(r["reward"], float) for r in records)
    assert len({r["reward"] for r in records}) > len(records) // 3


def test_content_is_realistic(sample):
    _, _, lines = sample
    records = [json.loads(line) for line in lines]
    raw = b"".join(lines)
    # escapes of every kind in the serialised text, and raw UTF-8 non-ASCII
    for escaped in (b'\\"', b"\\\\", b"\\n", b"\\t"):
        assert escaped in raw
    text = raw.decode("utf-8")
    for needle in ("Zürich", "東京", "🙂", "数据"):
        assert needle in text
    labels = collections.Counter(s["status"]["label"] for r in records for s in r["steps"])
    for label in ("correct", "one_away", "incorrect", "invalid", "search", "answer", "submitted", "code_block"):
        assert labels[label] > 0, label
    verdicts = collections.Counter(v["verdict"] for r in records for v in r.get("verification", []))
    assert set(verdicts) == {"pass", "fail", "no_verdict"}
    assert any("parent" in r for r in records)
    assert any("error" in r for r in records)
    assert any(len(r["steps"]) >= 5 for r in records if r["env"]["name"] == "connections")
    assert any(
        "\n" in s["info"]["code"] and "\\" in s["info"]["code"] and '"' in s["info"]["code"]
        for r in records if r["env"]["name"] == "data-analysis" for s in r["steps"]
    )


def test_deterministic_for_a_seed(tmp_path):
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    sa = write_synthetic_episodes(a, target_bytes=400_000, unique_tasks=25, seed=3)
    sb = write_synthetic_episodes(b, target_bytes=400_000, unique_tasks=25, seed=3)
    write_synthetic_episodes(c, target_bytes=400_000, unique_tasks=25, seed=4)
    assert sa == sb
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_fewer_records_than_tasks(tmp_path):
    path = tmp_path / "few.jsonl"
    stats = write_synthetic_episodes(path, target_bytes=50_000, unique_tasks=10_000, seed=1)
    ids = [json.loads(line)["task"]["id"] for line in path.read_bytes().splitlines()]
    assert stats.unique_tasks == stats.records == len(ids) == len({task_key(i) for i in ids})


def test_one_task(tmp_path):
    path = tmp_path / "one.jsonl"
    stats = write_synthetic_episodes(path, target_bytes=100_000, unique_tasks=1, seed=0)
    ids = {task_key(json.loads(line)["task"]["id"]) for line in path.read_bytes().splitlines()}
    assert ids == {"puzzle-000000"} and stats.unique_tasks == 1 and stats.records > 1


def test_empty_target(tmp_path):
    path = tmp_path / "empty.jsonl"
    assert write_synthetic_episodes(path, target_bytes=0, unique_tasks=5) == SyntheticStats(0, 0, 0)
    assert path.read_bytes() == b""


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        write_synthetic_episodes(tmp_path / "x.jsonl", target_bytes=10, unique_tasks=0)
    with pytest.raises(ValueError):
        write_synthetic_episodes(tmp_path / "x.jsonl", target_bytes=-1, unique_tasks=3)


def test_without_orjson(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "_orjson", None)
    path = tmp_path / "stdlib.jsonl"
    stats = write_synthetic_episodes(path, target_bytes=300_000, unique_tasks=12, seed=5)
    lines = path.read_bytes().splitlines()
    assert len(lines) == stats.records
    for n, line in enumerate(lines, start=1):
        validate_episode(json.loads(line), line=n)
    assert "東京".encode() in path.read_bytes()  # non-ASCII is written raw, not \u-escaped
