"""The labels TRL's SFTTrainer builds for `harness train` equal the harness's own masks
(`harness.formats.masks.chat_masks`, `harness.formats.student_code.completion_labels`), token for
token, on the same rows and the embedded model's real tokenizer; and the training chat template
renders exactly what the model's own template renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from formats_model import smol_tokenizer  # noqa: F401  (a pytest fixture)
from harness.formats.masks import IGNORE_INDEX, chat_masks
from harness.formats.student_code import completion_labels
from harness.train.config import TrainConfig
from harness.train.sft import build_trainer
from harness.train.templates import TemplateNotFound, renders_like, training_chat_template
from train_rows import CONVERSATIONS, PROMPT_COMPLETION, fresh_base_model, student_code_file, write_jsonl  # noqa: F401

FIXTURES = Path(__file__).parent / "fixtures" / "formats" / "golden"


def trl_labels(rows_file: Path, tokenizer, make_model, tmp_path: Path, **settings) -> tuple[list, list, object]:
    """(input_ids, labels) of each row as TRL prepared them, and the trainer."""
    config = TrainConfig(method="full", val_ratio=0, max_length=4096, **settings)
    trainer, _, _, _ = build_trainer([rows_file], tmp_path / "ckpt", config, tokenizer=tokenizer,
                                     base_model=make_model(), progress=False)
    ds = trainer.train_dataset
    return [list(r["input_ids"]) for r in ds], [list(r["labels"]) for r in ds], trainer


def test_conversations_assistant_turns_only(smol_tokenizer, fresh_base_model, tmp_path):  # noqa: F811
    ids, labels, _ = trl_labels(write_jsonl(tmp_path / "c.jsonl", CONVERSATIONS), smol_tokenizer,
                                fresh_base_model, tmp_path)
    for row, got_ids, got_labels in zip(CONVERSATIONS, ids, labels):
        want = chat_masks(smol_tokenizer, row["messages"])
        assert got_ids == want["input_ids"]
        assert got_labels == want["labels"]
    # what is trained: each assistant message and its end-of-turn token, nothing else
    trained = [t for t in labels[1] if t != IGNORE_INDEX]
    assert smol_tokenizer.decode(trained) == "White.<|im_end|>Yes, white.<|im_end|>"


def test_prompt_completion_assistant_turns_of_the_completion(smol_tokenizer, fresh_base_model, tmp_path):  # noqa: F811
    ids, labels, _ = trl_labels(write_jsonl(tmp_path / "pc.jsonl", PROMPT_COMPLETION), smol_tokenizer,
                                fresh_base_model, tmp_path)
    for row, got_ids, got_labels in zip(PROMPT_COMPLETION, ids, labels):
        messages = row["prompt"] + row["completion"]
        want = chat_masks(smol_tokenizer, messages, train_on="completion", prompt_messages=len(row["prompt"]))
        assert got_ids == want["input_ids"]
        assert got_labels == want["labels"]
    # the user's feedback inside the completion is not trained
    assert smol_tokenizer.decode([t for t in labels[0] if t != IGNORE_INDEX]) == \
        "<guess>3</guess><|im_end|><guess>5</guess><|im_end|>"


def test_seed002_rows(smol_tokenizer, fresh_base_model, tmp_path):  # noqa: F811
    # summary-prefix split rows: one user turn with the generation prompt, loss on extra_info.answer
    split_file = FIXTURES / "parity_seed002_summary_prefix_train.jsonl"
    rows = [json.loads(line) for line in split_file.read_text(encoding="utf-8").splitlines()]
    ids, labels, _ = trl_labels(split_file, smol_tokenizer, fresh_base_model, tmp_path / "split")
    for row, got_ids, got_labels in zip(rows, ids, labels):
        messages = [{"role": "user", "content": row["extra_info"]["question"]},
                    {"role": "assistant", "content": row["extra_info"]["answer"]}]
        want = chat_masks(smol_tokenizer, messages, train_on="completion", prompt_messages=1)
        assert (got_ids, got_labels) == (want["input_ids"], want["labels"])
    # multi-turn rows: `prompt` is the conversation; every assistant turn is trained
    multiturn = FIXTURES / "parity_seed002_multiturn.jsonl"
    rows = [json.loads(line) for line in multiturn.read_text(encoding="utf-8").splitlines()]
    ids, labels, _ = trl_labels(multiturn, smol_tokenizer, fresh_base_model, tmp_path / "multi")
    for row, got_ids, got_labels in zip(rows, ids, labels):
        want = chat_masks(smol_tokenizer, row["prompt"])
        assert (got_ids, got_labels) == (want["input_ids"], want["labels"])


def test_seed004_rows_completion_only_no_eos_padded_to_8(smol_tokenizer, fresh_base_model, tmp_path):  # noqa: F811
    path = student_code_file(tmp_path / "code.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    ids, labels, trainer = trl_labels(path, smol_tokenizer, fresh_base_model, tmp_path, batch_size=4)
    for row, got_ids, got_labels in zip(rows, ids, labels):
        want = completion_labels(smol_tokenizer, row["prompt"], row["completion"])
        assert (got_ids, got_labels) == (want["input_ids"], want["labels"])
        assert got_ids[-1] != smol_tokenizer.eos_token_id  # no EOS appended: </code> ends it
        assert smol_tokenizer.decode([t for t in got_labels if t != IGNORE_INDEX]) == row["completion"]
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    longest = max(len(x) for x in ids)
    assert batch["input_ids"].shape[1] == -(-longest // 8) * 8  # the longest row, rounded up to 8
    for i, row_ids in enumerate(ids):
        assert torch.equal(batch["labels"][i, :len(row_ids)], torch.tensor(labels[i]))
        assert (batch["labels"][i, len(row_ids):] == IGNORE_INDEX).all()
        assert (batch["attention_mask"][i, len(row_ids):] == 0).all()


def test_training_template_renders_like_the_models_own(smol_tokenizer):  # noqa: F811
    template = training_chat_template(smol_tokenizer)
    assert "{% generation %}" in template and template != smol_tokenizer.chat_template
    assert renders_like(template, smol_tokenizer.chat_template, smol_tokenizer)
    for row in CONVERSATIONS + [{"messages": r["prompt"] + r["completion"]} for r in PROMPT_COMPLETION]:
        for generation_prompt in (False, True):
            assert smol_tokenizer.apply_chat_template(row["messages"], tokenize=False, chat_template=template,
                                                      add_generation_prompt=generation_prompt) == \
                smol_tokenizer.apply_chat_template(row["messages"], tokenize=False,
                                                   add_generation_prompt=generation_prompt)


def test_unknown_template_asks_for_one(smol_tokenizer, tmp_path):  # noqa: F811
    import copy

    odd = copy.copy(smol_tokenizer)
    odd.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    with pytest.raises(TemplateNotFound, match="--chat-template"):
        training_chat_template(odd)
    plain = tmp_path / "plain.jinja"
    plain.write_text(odd.chat_template, encoding="utf-8")
    with pytest.raises(TemplateNotFound, match=r"plain.jinja: the chat template has no"):
        training_chat_template(odd, str(plain))
    marked = tmp_path / "marked.jinja"
    marked.write_text("{% for m in messages %}{% generation %}{{ m['content'] }}{% endgeneration %}{% endfor %}",
                      encoding="utf-8")
    assert "generation" in training_chat_template(odd, str(marked))


def test_padding_free_batches_give_the_same_loss_per_token(smol_tokenizer, fresh_base_model):  # noqa: F811
    """What `--packing` relies on: rows flattened into one sequence (position ids restarting per
    row, no attention mask) see only themselves, as padded rows do."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    examples = [{k: v for k, v in chat_masks(smol_tokenizer, r["prompt"] + r["completion"], train_on="completion",
                                             prompt_messages=2).items() if k in ("input_ids", "labels")}
                for r in PROMPT_COMPLETION[:3]]
    model = fresh_base_model()
    losses = []
    for padding_free in (False, True):
        batch = DataCollatorForLanguageModeling(pad_token_id=smol_tokenizer.pad_token_id,
                                                padding_free=padding_free)(examples)
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "position_ids")}
        with torch.inference_mode():
            logits = model(**inputs, use_cache=False).logits  # training runs without a cache, as TRL's loss does
        labels = batch["labels"][:, 1:].reshape(-1)
        total = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels,
                                                  ignore_index=IGNORE_INDEX, reduction="sum")
        losses.append(float(total) / int((labels != IGNORE_INDEX).sum()))
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
