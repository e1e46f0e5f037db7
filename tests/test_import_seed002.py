"""`harness import seed002`: seed 002 search traces → search episodes that give back the trace
exactly, so import → format gives the seed's rows byte for byte (the parity traces of
tests/test_parity_seed002.py and the older fixture)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.episode import load_episodes
from harness.formats.search_trace import search_trace
from harness.importers.run import ImportConfig, import_files

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
PARITY = FIXTURES / "parity" / "seed002_traces.jsonl"
OLDER = FIXTURES / "traces_seed002.jsonl"
GOLDEN = FIXTURES / "golden"


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("source", [PARITY, OLDER], ids=["parity", "older"])
def test_the_trace_comes_back_exactly(source, tmp_path):
    import_files([source], tmp_path, ImportConfig(importer="seed002"))
    episodes = list(load_episodes(tmp_path / source.name))
    assert [json.dumps(search_trace(e)) for e in episodes] == [
        json.dumps({"question": r["question"], "trace": r["trace"]}) for r in records(source)]


def test_turns_become_steps_and_other_fields_stay_in_info(tmp_path):
    source = tmp_path / "traces.jsonl"
    trace = {"id": 12, "question": "Which river?", "data_source": "hotpot", "trace": [
        {"type": "reasoning", "content": "Look it up."},
        {"type": "search", "query": "Kelmarsh river"},
        {"type": "search_result", "documents": [{"title": "K", "content": "On the Avon.", "score": 0.5}]},
        {"type": "note", "content": "aside"},
        {"type": "CorrectAnswer", "content": "Avon"}]}
    source.write_text(json.dumps(trace) + "\n", encoding="utf-8")
    import_files([source], tmp_path / "out", ImportConfig(importer="seed002"))
    [episode] = load_episodes(tmp_path / "out" / "traces.jsonl")
    assert (episode.env.name, episode.env.version, episode.outcome.success) == ("search", "seed002", True)
    assert episode.prompt[0].content == "Which river?" and episode.task.data == {"question": "Which river?"}
    first, second = episode.steps
    assert first.action == "<think>\nLook it up.\n</think>\n\n<search>\nKelmarsh river\n</search>"
    assert first.observation[0].content == "<information>\nDocument 1:\nTitle: K\nContent: On the Avon.\n</information>"
    assert second.action == "<note>\naside\n</note>\n\n<answer>\nAvon\n</answer>" and second.done
    assert first.info["seed002"][2]["documents"][0]["score"] == 0.5  # the document's own fields
    assert episode.info["seed002"]["record"] == {"id": 12, "data_source": "hotpot"}


@pytest.mark.parametrize("source, fmt, golden", [
    (PARITY, "search-multiturn", "parity_seed002_multiturn.jsonl"),
    (OLDER, "search-multiturn", "seed002_multiturn.jsonl"),
    (OLDER, "search-splits", "seed002_splits.jsonl"),
])
def test_import_then_format_on_the_command_line_gives_the_golden_bytes(source, fmt, golden, tmp_path):
    def harness(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=tmp_path)

    assert harness("import", "seed002", str(source), "-o", "episodes").returncode == 0
    done = harness("format", "run", fmt, "episodes", "-o", "out.jsonl", "--quiet")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.jsonl").read_bytes() == (GOLDEN / golden).read_bytes()
