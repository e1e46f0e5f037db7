"""Seed 004 generation: left-padded batches without a chat template, the seed's sampling, the
first <code> block kept and <SUBMIT> detected."""

from __future__ import annotations

import json

from formats_model import smol_tokenizer  # noqa: F401  (a pytest fixture)
from harness.train.generation import GenerateConfig, first_code_block, generate_code, has_submit, sample_texts
from train_rows import fresh_base_model, student_code_file  # noqa: F401


def test_parsing():
    assert first_code_block("x <code>a = 1</code> y <code>b</code>") == "a = 1"
    assert first_code_block("<code>\nopen only") is None
    assert has_submit("<code>x</code><SUBMIT>") and not has_submit("<code>x</code>")


def test_left_padded_batches_sample_each_prompt_as_alone(smol_tokenizer, fresh_base_model):  # noqa: F811
    model = fresh_base_model().eval()
    config = GenerateConfig(max_tokens=6, seed=3, temperature=0.0001, top_k=1)  # greedy, to compare
    long, short = "def add(a, b):\n    return a +", "x ="
    batched = sample_texts(model, smol_tokenizer, [long, short], config)
    alone = sample_texts(model, smol_tokenizer, [short], config)
    assert batched[1] == alone[0]
    assert smol_tokenizer.padding_side == "left"


def test_generate_writes_code_and_submit(tmp_path, smol_tokenizer, fresh_base_model):  # noqa: F811
    rows = student_code_file(tmp_path / "code.jsonl")
    report = generate_code([rows], tmp_path / "gen.jsonl", GenerateConfig(max_tokens=8, limit=2),
                           model=fresh_base_model(), tokenizer=smol_tokenizer)
    out = [json.loads(line) for line in (tmp_path / "gen.jsonl").read_text().splitlines()]
    assert report.rows == 2 and len(out) == 2
    assert set(out[0]) == {"prompt", "reference", "generation", "code", "submit"}
    assert out[0]["reference"].startswith("<code>") and out[0]["code"] == first_code_block(out[0]["generation"])
    assert GenerateConfig().temperature == 0.7 and GenerateConfig().top_p == 0.8 and GenerateConfig().top_k == 20
