"""Training files of every shape the formatters write → TRL's rows; bad rows named by file, line
and field; the TrainConfig settings and their docs table."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from formats_model import smol_tokenizer  # noqa: F401  (a pytest fixture)
from harness.formats import format_file, get_formatter
from harness.options import markdown_table
from harness.train.config import TrainConfig
from harness.train.data import TrainDataError, read_training_rows, to_training_row
from train_rows import CONVERSATIONS, PROMPT_COMPLETION, STUDENT_CODE, student_code_file, write_jsonl

GOLDEN = Path(__file__).parent / "fixtures" / "formats" / "golden"
FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def test_each_shape_becomes_its_kind(tmp_path, smol_tokenizer):  # noqa: F811
    conv = read_training_rows([write_jsonl(tmp_path / "c.jsonl", CONVERSATIONS)])
    assert conv.kind == "messages" and conv.rows[0] == CONVERSATIONS[0]
    pc = read_training_rows([write_jsonl(tmp_path / "pc.jsonl", PROMPT_COMPLETION)])
    assert pc.kind == "prompt-completion" and pc.rows[0] == PROMPT_COMPLETION[0]
    multiturn = read_training_rows([GOLDEN / "parity_seed002_multiturn.jsonl"])
    first = json.loads((GOLDEN / "parity_seed002_multiturn.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert multiturn.kind == "messages" and multiturn.rows[0] == {"messages": first["prompt"]}
    only = read_training_rows([GOLDEN / "parity_seed002_summary_only_train.jsonl"])
    row = json.loads((GOLDEN / "parity_seed002_summary_only_train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert only.kind == "prompt-completion"
    assert only.rows[0] == {"prompt": [{"role": "user", "content": row["summary"]}],
                            "completion": [{"role": "assistant", "content": row["extra_info"]["answer"]}]}
    code = read_training_rows([student_code_file(tmp_path / "code.jsonl")], tokenizer=smol_tokenizer)
    assert code.kind == "tokens" and set(code.rows[0]) == {"input_ids", "completion_mask"}
    raw = read_training_rows([write_jsonl(tmp_path / "raw.jsonl", STUDENT_CODE)], tokenizer=smol_tokenizer,
                             variant="exp1_without_context")
    assert raw.rows == code.rows  # raw seed-004 rows and the formatter's rows train the same tokens


def test_seed004_json_array_and_parquet_files(tmp_path, smol_tokenizer):  # noqa: F811
    # the seed's own files are JSON arrays (train_exp1_without_context.json)
    array = tmp_path / "train_exp1_without_context.json"
    array.write_text(json.dumps(STUDENT_CODE), encoding="utf-8")
    rows = read_training_rows([array], tokenizer=smol_tokenizer, variant="exp1_without_context", limit=2)
    assert len(rows.rows) == 2 and rows.sources == [(str(array), 1), (str(array), 2)]
    parquet = tmp_path / "code.parquet"
    raw = write_jsonl(tmp_path / "raw.jsonl", STUDENT_CODE)
    format_file(get_formatter("student-code", variant="exp1_without_context"), raw, parquet)
    assert read_training_rows([parquet], tokenizer=smol_tokenizer).rows == \
        read_training_rows([array], tokenizer=smol_tokenizer, variant="exp1_without_context").rows


def test_every_chat_export_of_the_formatters_is_read(tmp_path):
    from harness.importers.run import ImportConfig, import_files

    episodes = tmp_path / "episodes"  # seed files are imported as episodes first (harness import)
    import_files([FIXTURES / "episodes_seed000.jsonl"], episodes, ImportConfig(importer="seed000"))
    for name in ("sft-standard", "sft-interleaved"):
        out = tmp_path / f"{name}.parquet"
        format_file(get_formatter(name), episodes, out)
        assert read_training_rows([out]).kind == "messages"
    rl = tmp_path / "rl.parquet"
    pq.write_table(pa.Table.from_pylist([{"input_ids": [1, 2, 3], "loss_mask": [0, 1, 1], "logprobs": None}]), rl)
    assert read_training_rows([rl]).rows == [{"input_ids": [1, 2, 3], "completion_mask": [0, 1, 1]}]


@pytest.mark.parametrize("record, field, reason", [
    ({"messages": [{"role": "user", "content": "hi"}]}, "/messages", "no assistant message"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "/messages/0/role", "expected one of"),
    ({"messages": [{"role": "assistant", "content": "x", "weight": 0}]}, "/messages/0/weight", "weight 0"),
    ({"prompt": [{"role": "user", "content": "q"}], "ability": "x", "extra_info": {"index": 1}},
     "/extra_info/answer", "no response to train on"),
    ({"INPUT": {}, "OUTPUT": "x"}, "/INPUT", "--variant"),
    ({"text": "free text"}, "", "no training fields"),
])
def test_rows_that_cannot_be_trained_on(record, field, reason):
    from harness.train.data import _RowError

    with pytest.raises(_RowError) as err:
        to_training_row(record)
    assert err.value.field == field and reason in err.value.reason


def test_errors_name_file_and_line(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(CONVERSATIONS[0]) + "\n\n" + json.dumps(PROMPT_COMPLETION[0]) + "\n", encoding="utf-8")
    with pytest.raises(TrainDataError, match=rf"{path}:3: \(row\): a prompt-completion row among messages rows "
                                             rf"\(the first at {path}:1\)"):
        read_training_rows([path])
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(CONVERSATIONS[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(TrainDataError, match=rf"{broken}:2: \(row\): not valid JSON"):
        read_training_rows([broken])
    verl = tmp_path / "verl.jsonl"  # an RL prompt row, as the verl formatter writes them
    write_jsonl(verl, [{"data_source": "guess", "prompt": [{"role": "user", "content": "q"}], "ability": "guess",
                        "reward_model": {"style": "rule", "ground_truth": "7"}, "extra_info": {"index": 0}}])
    with pytest.raises(TrainDataError, match=rf"{verl}:1: /extra_info/answer: no response to train on"):
        read_training_rows([verl])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(TrainDataError, match="no training rows"):
        read_training_rows([empty])
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(TrainDataError, match=r"unknown training file type '.csv'"):
        read_training_rows([csv])


def test_settings_are_checked_and_the_defaults_are_seed_004s():
    config = TrainConfig()
    assert (config.lora_r, config.lora_alpha, config.lora_dropout, config.lora_target_modules) == (16, 32, 0.05, [])
    assert (config.learning_rate, config.lr_scheduler, config.epochs) == (1e-4, "cosine", 1.0)
    assert (config.batch_size, config.gradient_accumulation_steps, config.val_ratio, config.seed) == (4, 4, 0.1, 42)
    assert (config.pad_to_multiple_of, config.text_eos) == (8, False)
    for bad, message in [({"lora_r": 0}, "lora_r"), ({"val_ratio": 1.0}, "val_ratio"),
                         ({"validation": ["v.jsonl"]}, "val_ratio and validation"),
                         ({"variant": "exp3"}, "variant must be one of"),
                         ({"method": "full", "merge": True}, "merge needs method lora")]:
        with pytest.raises(ValueError, match=message):
            TrainConfig(**bad)


def test_docs_table_matches_the_settings():
    docs = (Path(__file__).parent.parent / "docs" / "training.md").read_text(encoding="utf-8")
    assert markdown_table(TrainConfig) in docs
