"""Seed 004 generation: sample student code from a trained model, the way the seed did.

No chat template: the prompt is the template's text as it was trained (`student-code` rows'
`prompt`, or raw `{INPUT, OUTPUT}` rows rendered with `variant`). Prompts are batched with left
padding and sampled at temperature 0.7, top-p 0.8, top-k 20; a generation stops at `</code>`
(the completion's end marker; no EOS was trained) or at `max_tokens`. From each generation the
first `<code>…</code>` block is kept, and whether it wrote `<SUBMIT>` anywhere.

    report = generate_code(["val.jsonl"], "generations.jsonl",
                           GenerateConfig(adapter="runs/code/adapter", max_tokens=512))
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.embedded_model import DEFAULT_MODEL
from harness.options import setting

__all__ = ["GenerateConfig", "GenerateReport", "first_code_block", "generate_code", "has_submit", "sample_texts"]

_CODE = re.compile(r"<code>(.*?)</code>", re.DOTALL)
SUBMIT = "<SUBMIT>"
STOP = "</code>"


def first_code_block(text: str) -> str | None:
    """The text inside the first complete `<code>…</code>` of `text`, or None."""
    match = _CODE.search(text)
    return match.group(1) if match else None


def has_submit(text: str) -> bool:
    return SUBMIT in text


@dataclass(frozen=True)
class GenerateConfig:
    model: str = setting(DEFAULT_MODEL, help="Base model (or a full fine-tune's model directory).")
    adapter: str | None = setting(None, help="LoRA adapter directory of the run.")
    variant: str | None = setting(None, help="Template variant, for raw seed-004 {INPUT, OUTPUT} rows.")
    limit: int | None = setting(None, help="The first N rows; none: all.")
    temperature: float = setting(0.7, help="Sampling temperature (seed 004: 0.7).")
    top_p: float = setting(0.8, help="Nucleus sampling mass (seed 004: 0.8).")
    top_k: int = setting(20, help="Top-k cut-off (seed 004: 20).")
    max_tokens: int = setting(512, help="Tokens per generation.")
    seed: int = setting(0, help="Seed of the sampling.")
    batch_size: int = setting(8, content=False, help="Prompts per batch.")

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be at least 1")
        if self.max_tokens < 1 or self.batch_size < 1:
            raise ValueError("max_tokens and batch_size must be at least 1")


@dataclass(frozen=True)
class GenerateReport:
    output: str
    rows: int
    with_code: int
    submitted: int

    def summary(self) -> str:
        return (f"{self.rows} generations -> {self.output}: {self.with_code} with a <code> block, "
                f"{self.submitted} with <SUBMIT>")


def sample_texts(model: Any, tokenizer: Any, prompts: Sequence[str], config: GenerateConfig) -> list[str]:
    """The generated text of each prompt (left-padded batches, the seed's sampling)."""
    import torch

    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    torch.manual_seed(config.seed)
    device = next(model.parameters()).device
    texts: list[str] = []
    for start in range(0, len(prompts), config.batch_size):
        batch = tokenizer(list(prompts[start:start + config.batch_size]), return_tensors="pt", padding=True,
                          add_special_tokens=False).to(device)
        with torch.inference_mode():
            generated = model.generate(
                **batch, do_sample=True, temperature=config.temperature, top_p=config.top_p, top_k=config.top_k,
                max_new_tokens=config.max_tokens, stop_strings=[STOP], tokenizer=tokenizer,
                pad_token_id=tokenizer.pad_token_id)
        new = generated[:, batch["input_ids"].shape[1]:]
        texts += tokenizer.batch_decode(new, skip_special_tokens=True)
    return texts


def generate_code(inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], config: GenerateConfig, *,
                  model: Any = None, tokenizer: Any = None) -> GenerateReport:
    """Generate for every row of `inputs` and write `{prompt, reference, generation, code, submit}`
    rows to `output` (JSONL or Parquet, atomically)."""
    from harness.formats.writers import open_writer
    from harness.train.data import TrainDataError, read_records
    from harness.train.loading import load_model, load_tokenizer

    prompts: list[str] = []
    references: list[str | None] = []
    for path in inputs:
        for number, record in read_records(path):
            if config.limit is not None and len(prompts) >= config.limit:
                break
            if "INPUT" in record and config.variant:
                from harness.formats.student_code import to_prompt_completion

                record = to_prompt_completion(record, config.variant)
            if not isinstance(record.get("prompt"), str):
                raise TrainDataError(os.fspath(path), number, "/prompt", "expected the text prompt of a "
                                     "student-code row (raw {INPUT, OUTPUT} rows need --variant)")
            prompts.append(record["prompt"])
            references.append(record.get("completion"))
    if not prompts:
        raise ValueError(f"no rows to generate for in {', '.join(os.fspath(p) for p in inputs)}")
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(config.model)
    if model is None:
        model = load_model(config.model)
        if config.adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, config.adapter)
        import torch

        if torch.cuda.is_available():  # a GPU node: sample there (the batches follow the model's device)
            model = model.to("cuda")
    model.eval()
    texts = sample_texts(model, tokenizer, prompts, config)
    with_code = submitted = 0
    with open_writer(output) as writer:
        for prompt, reference, text in zip(prompts, references, texts):
            code = first_code_block(text)
            with_code += code is not None
            submitted += has_submit(text)
            writer.write({"prompt": prompt, "reference": reference, "generation": text, "code": code,
                          "submit": has_submit(text)})
    return GenerateReport(os.fspath(output), len(prompts), with_code, submitted)
