"""Seed 004 from one command: `luigi --module luigi_tasks.student_code StudentCodeFineTune`, run as a
user runs it (a subprocess, a temporary working directory) on the embedded model at a tiny size:
the seed's own JSON-array rows are gathered, templated, trained on (LoRA, one step) and generated
for on held-out JSONL rows; the files are read back. A rerun with another generation setting
generates again and trains nothing; a row of another shape stops the first stage, naming it."""

from __future__ import annotations

import json
from pathlib import Path

from harness.formats.student_code import to_prompt_completion
from harness.train.generation import first_code_block
from pipeline_runs import luigi, ok, read_jsonl, summary
from train_rows import STUDENT_CODE, write_jsonl

MODULE, TASK = "luigi_tasks.student_code", "StudentCodeFineTune"
VARIANT = "exp1_with_context"
STAGES = ["rows", "templates", "fine-tune", "rows (generation)", "templates (generation)", "generation"]
TINY = ["--max-steps", "1", "--batch-size", "1", "--gradient-accumulation-steps", "1", "--lora-r", "4",
        "--lora-alpha", "8", "--max-length", "128", "--generate-limit", "2"]


def test_student_code_fine_tune_from_one_command(tmp_path):
    train_file = tmp_path / "train_exp1_with_context.json"  # the seed's shape: one JSON array
    train_file.write_text(json.dumps(STUDENT_CODE), encoding="utf-8")
    held_out = [{**row, "INPUT": {**row["INPUT"], "student_id": "s9"}} for row in STUDENT_CODE[:3]]
    test_file = write_jsonl(tmp_path / "test.jsonl", held_out)
    command = ["--rows", json.dumps([str(train_file)]), "--variant", VARIANT,
               "--generate-rows", json.dumps([str(test_file)]), *TINY]

    # A row that is no seed-004 row stops the rows stage, naming file, row and field.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([STUDENT_CODE[0], {"INPUT": STUDENT_CODE[1]["INPUT"]}]), encoding="utf-8")
    failed = luigi(tmp_path, MODULE, TASK, "--rows", json.dumps([str(bad)]), *TINY)
    assert failed.returncode != 0
    assert f"{bad}:2: /OUTPUT" in failed.stderr
    assert not (tmp_path / "data" / "train").exists()

    out = ok(luigi(tmp_path, MODULE, TASK, *command, "--generate-max-tokens", "8"))
    stages = summary(out)
    assert list(stages) == STAGES
    assert read_jsonl(stages["rows"]["files"][0]) == STUDENT_CODE
    assert "4 student-code rows from 1 file(s)" in stages["rows"]["summary"]
    templated = read_jsonl(stages["templates"]["files"][0])
    assert templated == [to_prompt_completion(row, VARIANT) for row in STUDENT_CODE]
    assert templated[0]["prompt"].startswith("PAST PROBLEMS:")  # the variant reached the formatter
    # Training: the seed's 90/10 split of 4 rows is 3 + 1; one LoRA step on the completions.
    adapter, loss_png, log = (Path(p) for p in stages["fine-tune"]["files"])
    assert (adapter / "adapter_config.json").is_file() and loss_png.stat().st_size > 0
    assert "trained 1 steps" in stages["fine-tune"]["summary"] and "on 3 tokens rows" in stages["fine-tune"]["summary"]
    assert json.loads(log.read_text().splitlines()[0])["loss"] > 0
    # Generation: the held-out rows' prompts, their references, the parsed first code block.
    [generations_file] = stages["generation"]["files"]
    generated = read_jsonl(generations_file)
    assert [g["prompt"] for g in generated] == [to_prompt_completion(r, VARIANT)["prompt"] for r in held_out[:2]]
    assert [g["reference"] for g in generated] == [to_prompt_completion(r, VARIANT)["completion"] for r in held_out[:2]]
    for g in generated:
        assert g["generation"] and g["code"] == first_code_block(g["generation"])
    assert "2 generations" in stages["generation"]["summary"] and generations_file in out

    # Another generation setting: a new generations directory; the training is not run again.
    stamp = (adapter / "adapter_model.safetensors").stat().st_mtime_ns
    again = summary(ok(luigi(tmp_path, MODULE, TASK, *command, "--generate-max-tokens", "4")))
    assert again["fine-tune"]["directory"] == stages["fine-tune"]["directory"]
    assert (adapter / "adapter_model.safetensors").stat().st_mtime_ns == stamp
    assert again["generation"]["directory"] != stages["generation"]["directory"]
    assert len(read_jsonl(again["generation"]["files"][0])) == 2
