"""`harness import` and `harness format` from the shell: a real subprocess per command, from a
working directory outside the repository."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def harness(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd)


def imported(seed: str, source: Path, directory: Path) -> Path:
    result = harness("import", seed, str(source), "-o", str(directory))
    assert result.returncode == 0, result.stderr
    return directory


def test_list_names_every_formatter():
    result = harness("format", "list")
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == sorted(["openai-finetune", "prm", "rl-tokens", "search-multiturn", "search-splits",
                            "sft-interleaved", "sft-standard", "student-code", "trl-messages",
                            "trl-prompt-completion", "verl"])


def test_format_help_lists_every_tool_and_the_options_have_one_spelling():
    result = harness("format", "--help")
    assert result.returncode == 0
    for tool in ("list", "run", "summaries", "prm-mc", "seed000"):
        assert f"  {tool} " in result.stdout
    run = harness("format", "run", "--help").stdout
    for option in ("--formatter-arg KEY=VALUE", "--where", "--verdict", "--include-failed", "--allow-empty"):
        assert option in run
    assert "--option" not in run and "--options" not in run
    assert "import" in harness("--help").stdout


def test_run_with_formatter_args_and_errors(tmp_path):
    episodes = imported("seed000", FIXTURES / "episodes_seed000.jsonl", tmp_path / "episodes")
    out = tmp_path / "prm.jsonl"
    result = harness("format", "run", "prm", str(episodes), "-o", str(out), "--quiet",
                     "--formatter-arg", "label_mode=first-error", "--include-failed")
    assert result.returncode == 0, result.stderr
    expected = (FIXTURES / "golden" / "seed000_prm_first_error.jsonl").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == expected
    assert "prm: 5 records -> 16 rows" in result.stderr and "--include-failed: every outcome" in result.stderr
    bad = harness("format", "run", "student-code", str(FIXTURES / "student_code_seed004.jsonl"),
                  "-o", str(tmp_path / "x.jsonl"), "--formatter-arg", "variant=exp1_with_context")
    assert (
        bad.returncode == 1
        and "student_code_seed004.jsonl:3: /INPUT/past_problem_submissions/0/submission: required field is missing"
        in bad.stderr
    )
    unknown = harness("format", "run", "nope", str(episodes), "-o", str(tmp_path / "y.jsonl"))
    assert unknown.returncode == 1 and "no formatter named 'nope'" in unknown.stderr
    # a seed file given straight to a formatter: the error says to import it first
    raw = harness(
        "format", "run", "sft-standard", str(FIXTURES / "episodes_seed000.jsonl"), "-o", str(tmp_path / "z.jsonl")
    )
    assert raw.returncode == 1 and "this is a seed 000 record; import it first: harness import seed000" in raw.stderr


def test_zero_rows_exit_non_zero_with_the_reason_unless_allow_empty(tmp_path):
    episodes = imported("seed000", FIXTURES / "episodes_seed000.jsonl", tmp_path / "episodes")
    out = tmp_path / "splits.jsonl"
    other = harness("format", "run", "search-splits", str(episodes), "-o", str(out), "--quiet")
    assert other.returncode == 1
    assert "search-splits made no row: 0 of 5 episodes are search episodes (5 data-analysis)" in other.stderr
    assert not out.exists()
    kept_nothing = harness("format", "run", "prm", str(episodes), "-o", str(out), "--quiet",
                           "--where", "/task/split == validation")
    assert kept_nothing.returncode == 1
    assert 'the filter kept 0 of 5 episodes (--where /task/split == "validation")' in kept_nothing.stderr
    failed = harness("format", "run", "sft-standard", str(episodes), "-o", str(out), "--quiet",
                     "--verdict", "triangulation=fail")
    assert failed.returncode == 1 and "0 of 1 data-analysis episodes succeeded (1 failed)" in failed.stderr
    assert "--include-failed formats them too" in failed.stderr
    allowed = harness("format", "run", "search-splits", str(episodes), "-o", str(out), "--quiet", "--allow-empty")
    assert allowed.returncode == 0 and out.read_text() == ""
    empty_input = tmp_path / "empty.jsonl"
    empty_input.write_text("")
    none = harness("format", "run", "trl-messages", str(empty_input), "-o", str(tmp_path / "n.jsonl"))
    assert none.returncode == 1 and "the input holds no records" in none.stderr


def test_verdict_and_where_filters_are_shown_in_the_summary(tmp_path):
    episodes = imported("seed000", FIXTURES / "episodes_seed000.jsonl", tmp_path / "episodes")
    out = tmp_path / "sft.jsonl"
    result = harness("format", "run", "sft-standard", str(episodes), "-o", str(out), "--quiet",
                     "--verdict", "triangulation=pass", "--where", "/steps/0 exists")
    assert result.returncode == 0, result.stderr
    assert "filters: --where /steps/0 exists; --verdict triangulation=pass; /outcome/success == true" in result.stderr
    assert "2 left out by --where/--verdict" in result.stderr  # no turn; unverified
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3  # ep-003 is unverified, ep-004 has no turn


def test_import_every_seed_and_its_errors(tmp_path):
    for seed, source in (("seed000", FIXTURES / "episodes_seed000.jsonl"),
                         ("seed002", FIXTURES / "traces_seed002.jsonl")):
        result = harness("import", seed, str(source), "-o", str(tmp_path / seed), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"import {seed}: 1 file(s)" in result.stderr
        manifest = json.loads((tmp_path / seed / "manifest.json").read_text())
        assert manifest["settings"] == {"importer": seed, "lenient": False}
        assert (tmp_path / seed / source.name).exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "trace": [{"type": 3}]}\n')
    wrong = harness("import", "seed002", str(bad), "-o", str(tmp_path / "bad"))
    assert wrong.returncode == 1 and f"{bad}:1: /trace/0/type: expected a string, got int" in wrong.stderr
    assert not (tmp_path / "bad" / "bad.jsonl").exists()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    nothing = harness("import", "seed000", str(empty), "-o", str(tmp_path / "none"))
    assert nothing.returncode == 1 and "no records to import" in nothing.stderr


SUMMARY = "<question>Q?</question><reasoning_summary>R.</reasoning_summary><key_facts>F.</key_facts>"


def test_summaries_pipeline_with_the_scripted_backend(tmp_path):
    episodes = imported("seed002", FIXTURES / "traces_seed002.jsonl", tmp_path / "episodes")
    tagged = "responses=" + json.dumps([SUMMARY])
    work = tmp_path / "work"
    result = harness("format", "summaries", str(episodes), "-o", str(work), "--backend", "scripted",
                     "--backend-arg", tagged, "--ext", "jsonl", "--val-ratio", "0.25")
    assert result.returncode == 0, result.stderr
    assert "4 episodes -> 4 split samples" in result.stderr
    assert "summaries: 4 written (0 resumed), 0 failed, 4 requests" in result.stderr
    val = [json.loads(line) for line in (work / "summary_prefix_val.jsonl").read_text().splitlines()]
    assert len(val) == 1 and val[0]["extra_info"]["answer"].startswith(SUMMARY + "\n\n")
    again = harness("format", "summaries", str(episodes), "-o", str(work), "--backend", "scripted",
                    "--backend-arg", tagged, "--ext", "jsonl")
    assert "summaries: 4 written (4 resumed), 0 failed, 0 requests" in again.stderr
    # a response without the three tags is a failed summary: retried, then counted; when every
    # summary failed, no dataset is written and the command fails
    failed = tmp_path / "failed"
    untagged = harness("format", "summaries", str(episodes), "-o", str(failed), "--backend", "scripted",
                       "--backend-arg", 'responses=["A summary."]', "--ext", "jsonl", "--retries", "1")
    assert "summaries: 0 written (0 resumed), 4 failed, 8 requests" in untagged.stderr
    assert untagged.returncode == 1 and "no split sample has a summary" in untagged.stderr
    assert not list(failed.glob("summary_*"))
