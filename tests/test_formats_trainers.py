"""Episode exports for trainers: TRL (messages; prompt/completion), OpenAI fine-tuning (with a
weight per assistant turn), VERL parquet, RL token data; read back with pyarrow and
datasets.load_dataset, and TRL's SFTTrainer trained on the TRL exports with the embedded model
(one optimiser step on CPU)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from formats_model import smol_tokenizer  # noqa: F401  (a pytest fixture)
from harness.episode import (
    Env,
    Episode,
    Message,
    ModelSpec,
    Outcome,
    Provenance,
    Step,
    StepStatus,
    Task,
    Tokens,
    write_episodes,
)
from harness.formats import FormatError, format_file, get_formatter
from synthetic import write_synthetic_episodes


def episode(episode_id: str, prompt: list[Message], steps: list[Step], **extra) -> Episode:
    return Episode(
        schema_version="1", episode_id=episode_id,
        env=Env(name="guess", version="1"), task=Task(id=episode_id, split="train", data={"answer": 7}),
        model=ModelSpec(name="smollm2-135m-instruct", backend="transformers"),
        prompt=prompt, steps=steps, reward=1.0, outcome=Outcome(done=True, reason="solved", success=True),
        provenance=Provenance(harness_version="0.1.0", created_at="2025-01-31T12:00:00Z"), **extra)


def chat_episode(i: int) -> Episode:
    return episode(
        f"ep-{i}",
        [Message(role="system", content="Guess the number."), Message(role="user", content=f"Round {i}: guess.")],
        [Step(action="<guess>3</guess>", observation=[Message(role="user", content="Higher.")]),
         Step(action="no tag at all", status=StepStatus(valid=False, reason="no guess"),
              observation=[Message(role="tool", content="Invalid: no guess tag.")]),
         Step(action="<guess>7</guess>", observation=[Message(role="user", content="Correct!")], done=True)])


@pytest.fixture(scope="module")
def episodes_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("eps") / "episodes.jsonl"
    write_episodes(path, [chat_episode(i) for i in range(8)])
    return path


def read_jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_trl_and_openai_rows(episodes_file, tmp_path):
    format_file(get_formatter("trl-messages"), episodes_file, tmp_path / "m.jsonl")
    format_file(get_formatter("trl-prompt-completion"), episodes_file, tmp_path / "pc.jsonl")
    format_file(get_formatter("openai-finetune"), episodes_file, tmp_path / "oa.jsonl")
    messages = read_jsonl(tmp_path / "m.jsonl")[0]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "tool",
                                             "assistant", "user"]
    pc = read_jsonl(tmp_path / "pc.jsonl")[0]
    assert [m["role"] for m in pc["prompt"]] == ["system", "user"]
    assert pc["completion"][0] == {"role": "assistant", "content": "<guess>3</guess>"}
    assert pc["completion"][-1] == {"role": "assistant", "content": "<guess>7</guess>"}  # feedback after it dropped
    oa = read_jsonl(tmp_path / "oa.jsonl")[0]["messages"]
    assert [(m["role"], m.get("weight")) for m in oa] == [
        ("system", None), ("user", None), ("assistant", 1), ("user", None), ("assistant", 0),
        ("user", None), ("assistant", 1)]  # the invalid step weighs 0; the tool message became user


def test_verl_parquet_and_every_export_loads(episodes_file, tmp_path):
    import datasets

    for name in ("trl-messages", "trl-prompt-completion", "openai-finetune", "verl"):
        for ext in ("jsonl", "parquet"):
            out = tmp_path / f"{name}.{ext}"
            report = format_file(get_formatter(name), episodes_file, out)
            assert report.rows == 8
            if ext == "parquet":
                assert pq.read_table(out).num_rows == 8
            loaded = datasets.load_dataset("json" if ext == "jsonl" else "parquet", data_files=str(out),
                                           split="train", cache_dir=str(tmp_path / "cache"))
            assert loaded.num_rows == 8
    verl = pq.read_table(tmp_path / "verl.parquet").to_pylist()[3]
    assert verl["data_source"] == verl["ability"] == "guess"
    assert verl["prompt"][1] == {"role": "user", "content": "Round 3: guess."}
    assert verl["reward_model"] == {"style": "rule", "ground_truth": '{"answer": 7}'}
    assert verl["extra_info"] == {"split": "train", "index": 3, "task_id": "ep-3", "episode_id": "ep-3"}


def test_exports_of_synthetic_rollouts(tmp_path):
    # every env kind of the synthetic rollout generator, including failed episodes
    source = tmp_path / "synthetic.jsonl"
    write_synthetic_episodes(source, target_bytes=400_000, unique_tasks=50, seed=3)
    for name in ("trl-messages", "trl-prompt-completion", "openai-finetune", "verl"):
        report = format_file(get_formatter(name), source, tmp_path / f"{name}.parquet")
        assert report.records > 20 and 0 < report.rows <= report.records


def test_invalid_episode_names_file_line_and_field(episodes_file, tmp_path):
    lines = episodes_file.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[4])
    record["steps"][1]["status"]["valid"] = "no"
    lines[4] = json.dumps(record)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FormatError) as err:
        format_file(get_formatter("trl-messages"), bad, tmp_path / "out.jsonl")
    assert str(err.value) == f"{bad}:5: /steps/1/status/valid: expected true or false, got \"no\""


# -- RL tokens ----------------------------------------------------------------------------------


def token_episode(tokenizer, *, break_history: bool = False, logprobs: bool = True) -> Episode:
    """A two-step episode whose token ids are what a backend would have recorded."""
    prompt = [Message(role="user", content="Guess a number from 1 to 10.")]
    actions = ["<guess>3</guess>", "<guess>7</guess>"]
    feedback = [Message(role="user", content="Higher.")]
    history = [{"role": m.role, "content": m.content} for m in prompt]
    steps = []
    for k, action in enumerate(actions):
        prompt_ids = tokenizer.apply_chat_template(history, add_generation_prompt=True, tokenize=True)
        if hasattr(prompt_ids, "keys"):
            prompt_ids = prompt_ids["input_ids"]
        if break_history and k == 1:
            prompt_ids = prompt_ids[1:]  # not an extension of step 0's sequence
        completion_ids = tokenizer(action + "<|im_end|>", add_special_tokens=False)["input_ids"]
        steps.append(Step(action=action, observation=feedback if k == 0 else [],
                          tokens=Tokens(prompt_ids=list(prompt_ids), completion_ids=completion_ids,
                                        completion_logprobs=[-0.5] * len(completion_ids) if logprobs else None)))
        history += [{"role": "assistant", "content": action}] + (
            [{"role": m.role, "content": m.content} for m in feedback] if k == 0 else [])
    return episode("ep-tokens", prompt, steps)


def test_rl_tokens_joins_steps_without_retokenising(smol_tokenizer, tmp_path):  # noqa: F811
    ep = token_episode(smol_tokenizer)
    path = tmp_path / "tokens.jsonl"
    write_episodes(path, [ep, token_episode(smol_tokenizer, logprobs=False)])
    report = format_file(get_formatter("rl-tokens"), path, tmp_path / "rl.parquet")
    rows = pq.read_table(tmp_path / "rl.parquet").to_pylist()
    assert report.rows == 2
    row = rows[0]
    ids, mask = row["input_ids"], row["loss_mask"]
    assert len(ids) == len(mask) == len(row["logprobs"])
    runs, current = [], []
    for t, m in zip(ids, mask):
        if m:
            current.append(t)
        elif current:
            runs.append(smol_tokenizer.decode(current))
            current = []
    runs.append(smol_tokenizer.decode(current))
    assert runs == ["<guess>3</guess><|im_end|>", "<guess>7</guess><|im_end|>"]
    assert ids[: row["prompt_length"]] == ep.steps[0].tokens.prompt_ids
    assert ids[: len(ep.steps[1].tokens.prompt_ids)] == ep.steps[1].tokens.prompt_ids
    assert [lp for lp, m in zip(row["logprobs"], mask) if m] == [-0.5] * sum(mask)
    assert rows[1]["logprobs"] is None  # a step without logprobs: none for the episode


def test_rl_tokens_errors_instead_of_retokenising(smol_tokenizer, tmp_path):  # noqa: F811
    broken = tmp_path / "broken.jsonl"
    write_episodes(broken, [token_episode(smol_tokenizer, break_history=True)])
    with pytest.raises(FormatError, match=r"broken.jsonl:1: /steps/1/tokens/prompt_ids: does not start with"):
        format_file(get_formatter("rl-tokens"), broken, tmp_path / "out.jsonl")
    no_tokens = tmp_path / "no_tokens.jsonl"
    write_episodes(no_tokens, [chat_episode(0)])
    with pytest.raises(FormatError, match=r"no_tokens.jsonl:1: /steps/0/tokens: no token ids"):
        format_file(get_formatter("rl-tokens"), no_tokens, tmp_path / "out.jsonl")


# -- TRL --------------------------------------------------------------------------------------


@pytest.mark.parametrize("export", ["trl-messages", "trl-prompt-completion"])
def test_trl_sft_trainer_trains_on_the_export(export, episodes_file, smol_tokenizer, tmp_path):  # noqa: F811
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from harness.embedded_model import embedded_model

    # A fresh model per run: LoRA adapters are attached in place (the seeds train with LoRA).
    # transformers de-quantizes GGUF weights to float32 at load but leaves the model flagged as
    # GGUF-quantized, which its Trainer refuses; the flags go, the float weights stay.
    gguf = embedded_model()
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    assert next(model.parameters()).dtype == torch.float32
    model.is_quantized, model.hf_quantizer = False, None

    out = tmp_path / f"{export}.parquet"
    format_file(get_formatter(export), episodes_file, out)
    dataset = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "c"))
    config = SFTConfig(
        output_dir=str(tmp_path / "run"), max_steps=1, per_device_train_batch_size=2, max_length=128,
        learning_rate=1e-5, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
        dataloader_num_workers=0, seed=0)
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=smol_tokenizer,
                         peft_config=LoraConfig(r=8, lora_alpha=16, target_modules="all-linear"))
    batch = next(iter(trainer.get_train_dataloader()))
    if export == "trl-prompt-completion":
        # completion-only loss: the prompt's tokens are masked out of the labels
        assert (batch["labels"][0] == -100).sum() > 0
    result = trainer.train()
    assert result.global_step == 1 and math.isfinite(result.training_loss)
