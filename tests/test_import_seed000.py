"""`harness import seed000`: seed 000 episode records → data-analysis episodes that lose nothing
the formatters read, so import → format gives the seed's rows byte for byte.

The inputs are the parity fixture (tests/fixtures/formats/parity/seed000_episodes.jsonl: bare
NaN and Infinity, a duplicated key, record `turn_index` values out of step, absent and null
fields, int and string ids, an empty and a null `gold_trace` beside a `teacher_gold_trace`, …;
see tests/test_parity_seed000.py) and the older fixture episodes_seed000.jsonl.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness import jsonl
from harness.episode import load_episodes
from harness.formats import FormatConfig, format_files
from harness.formats.data_analysis_record import seed_record
from harness.importers.run import ImportConfig, import_files
from harness.importers.values import decode, encode
from harness.prepare_finetune_data import load_episodes as load_seed_records

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
PARITY = FIXTURES / "parity" / "seed000_episodes.jsonl"
OLDER = FIXTURES / "episodes_seed000.jsonl"
GOLDEN = FIXTURES / "golden"


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)  # compares NaN too


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def shard(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("imported")
    import_files([PARITY], out, ImportConfig(importer="seed000"))
    return out / PARITY.name


@pytest.mark.parametrize("source", [PARITY, OLDER], ids=["parity", "older"])
def test_the_seed_record_comes_back_exactly(source, tmp_path):
    import_files([source], tmp_path, ImportConfig(importer="seed000"))
    episodes = list(load_episodes(tmp_path / source.name))  # valid episodes, strict JSON
    originals = load_seed_records(source, verified_only=False)
    assert [dumps(seed_record(e)) for e in episodes] == [dumps(r) for r in originals]
    # key order too: the record rebuilt is the record read
    assert [list(seed_record(e)) for e in episodes] == [list(r) for r in originals]


def test_values_json_cannot_hold_are_kept_in_strict_json(shard):
    def refuse(name: str):
        raise AssertionError(f"bare {name} in an episode shard")

    for line in shard.read_text(encoding="utf-8").splitlines():
        json.loads(line, parse_constant=refuse)
    assert jsonl.scan(shard).malformed == 0  # the Rust reader reads every line
    hooks = next(e for e in load_episodes(shard) if e.info["seed000"]["record"].get("episode_id") == "p000-hooks")
    values = [decode(h["value"]) for h in hooks.steps[0].info["execution"]["hooks"]]
    assert math.isnan(values[3]) and values[4] == math.inf
    for value in [
        float("nan"),
        -math.inf,
        {"$json": "x"},
        {"$json": 1, "y": [math.inf]},
        [{"$json": "NaN"}],
        "$json",
        None,
    ]:
        assert dumps(decode(encode(value))) == dumps(value)


def test_fields_the_episode_has_no_place_for_stay_as_the_seed_wrote_them(shard):
    episodes = {e.info["seed000"]["record"].get("episode_id"): e for e in load_episodes(shard)}
    out = episodes["p000-out"]
    assert [s.info.get("turn_index") for s in out.steps] == [7, 3, None, "9", 4]  # the record's own
    assert "turn_index" in out.steps[2].info  # present, null
    assert episodes[2].task.id == 2  # the record's int id is the task id (it has no question id)
    assert episodes[2].info["seed000"]["record"]["episode_id"] == 2  # an int stays an int
    # a hook without variable_name has none; one with a null name keeps the null
    hooks = episodes["p000-hooks"].steps[0].info["execution"]["hooks"]
    assert "variable_name" not in hooks[0] and hooks[1]["variable_name"] is None
    assert episodes["p000-empty"].steps == []
    # outcome and verdicts say what the seed's verified meant
    assert episodes["p000-unverified"].outcome.success is False
    assert episodes["p000-unverified"].verdict("triangulation").verdict == "fail"
    assert episodes["p000-noverified"].verification == [] and episodes["p000-noverified"].outcome.success is False
    assert episodes["p000-out"].verdict("triangulation").verdict == "pass"


@pytest.mark.parametrize("fmt, args, golden", [
    ("sft-standard", [], "parity_seed000_sft_standard.jsonl"),
    ("sft-interleaved", [], "parity_seed000_sft_interleaved.jsonl"),
    ("prm", [], "parity_seed000_prm.jsonl"),
])
def test_import_then_format_on_the_command_line_gives_the_golden_bytes(fmt, args, golden, tmp_path):
    imported = harness("import", "seed000", str(PARITY), "-o", "episodes", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert (
        "11 records -> 11 episodes (2 line(s) with bare NaN/Infinity kept; 1 line(s) with a duplicated key"
        in imported.stderr
    )
    formatted = harness(
        "format", "run", fmt, "episodes", "-o", "out.jsonl", "--include-failed", "--quiet", *args, cwd=tmp_path
    )
    assert formatted.returncode == 0, formatted.stderr
    want = [line for line in (GOLDEN / golden).read_text(encoding="utf-8").splitlines() if line != "null"]
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines() == want


def test_the_default_success_filter_is_the_seeds_verified_only(tmp_path):
    import_files([OLDER], tmp_path / "episodes", ImportConfig(importer="seed000"))
    for fmt, args, golden in (("sft-interleaved", {}, "seed000_sft_interleaved.jsonl"),
                              ("prm", {"label_mode": "first-error"}, "seed000_prm_first_error.jsonl")):
        out = tmp_path / f"{fmt}.parquet"
        report = format_files([tmp_path / "episodes"], out, FormatConfig(formatter=fmt, formatter_args=args))
        assert report.failed == {"failed": 1}  # ep-003, unverified
        want = [json.loads(line) for line in (GOLDEN / golden).read_text(encoding="utf-8").splitlines()]
        if fmt == "prm":
            want = [r for r in want if r["episode_id"] != "ep-003"]
            got = pq.read_table(out).to_pylist()
            assert [json.loads(r["value"]) for r in got] == [r["value"] for r in want]
            assert [r["label"] for r in got] == [r["label"] for r in want]
        else:
            ids = ["ep-001", "ep-002", "ep-003", "ep-004", "ep-005"]
            want = [r for r, i in zip(want, ids) if i not in ("ep-003", "ep-004")]
            assert pq.read_table(out).to_pylist() == want


def test_import_is_deterministic_and_lenient_counts_malformed_lines(tmp_path):
    import_files([PARITY], tmp_path / "a", ImportConfig(importer="seed000"))
    import_files([PARITY], tmp_path / "b", ImportConfig(importer="seed000"))
    assert (tmp_path / "a" / PARITY.name).read_bytes() == (tmp_path / "b" / PARITY.name).read_bytes()
    lines = PARITY.read_text(encoding="utf-8").splitlines()
    lines.insert(2, '{"episode_id": "torn", ')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="left out 1 malformed line"):
        report = import_files([bad], tmp_path / "c", ImportConfig(importer="seed000", lenient=True))
    assert (report.records, report.episodes, report.malformed) == (11, 11, 1)


def test_generic_exports_read_imported_records(shard, tmp_path):
    report = format_files([shard], tmp_path / "m.jsonl", FormatConfig(formatter="trl-messages"))
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert report.rows == len(rows) > 0
    assert rows[0]["messages"][0]["role"] == "system" and rows[0]["messages"][2]["role"] == "assistant"
