"""Tiny training sets of each shape `harness train` reads, and the shared model for the training
tests. Import the fixtures into a test module: `from train_rows import fresh_base_model`.

The base model is the session's transformers backend model (the embedded SmolLM2, dequantized
from GGUF once); every training run gets its own deep copy, since LoRA adapters are attached in
place and a full fine-tune rewrites the weights.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

CONVERSATIONS = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"Colour of {thing}?"},
                  {"role": "assistant", "content": f"{colour}."}]}
    for thing, colour in [("grass", "Green"), ("snow", "White"), ("coal", "Black"), ("sky", "Blue")]
]
CONVERSATIONS[1]["messages"] += [{"role": "user", "content": "Sure?"}, {"role": "assistant", "content": "Yes, white."}]

PROMPT_COMPLETION = [
    {"prompt": [{"role": "system", "content": "Guess 1-9."}, {"role": "user", "content": f"Round {i}."}],
     "completion": [{"role": "assistant", "content": "<guess>3</guess>"}, {"role": "user", "content": "Higher."},
                    {"role": "assistant", "content": f"<guess>{i}</guess>"}]}
    for i in (5, 6, 7, 8)
]

STUDENT_CODE = [
    {"INPUT": {"student_id": f"s{i}", "semester": "F23", "assignment_name": "hw1", "question_name": name,
               "instructions": f"Write {name}.", "skeleton_code_fixed": "", "skeleton_code_todo": f"def {name}(x):",
               "stage": "submission_last", "past_problem_submissions": []},
     "OUTPUT": f"def {name}(x):\n    return {body}"}
    for i, (name, body) in enumerate([("inc", "x + 1"), ("dbl", "x * 2"), ("neg", "-x"), ("sq", "x * x")])
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def student_code_file(path: Path) -> Path:
    """The tiny seed-004 set as the student-code formatter writes it ({prompt, completion} text)."""
    from harness.formats import format_file, get_formatter

    raw = write_jsonl(path.with_suffix(".raw.jsonl"), STUDENT_CODE)
    format_file(get_formatter("student-code", variant="exp1_without_context"), raw, path)
    return path


def training_file(kind: str, directory: Path) -> Path:
    if kind == "conversations":
        return write_jsonl(directory / "conversations.jsonl", CONVERSATIONS)
    if kind == "prompt-completion":
        return write_jsonl(directory / "prompt_completion.jsonl", PROMPT_COMPLETION)
    return student_code_file(directory / "student_code.jsonl")


@pytest.fixture(scope="session")
def fresh_base_model(transformers_backend):
    """A callable giving a fresh float32 copy of the embedded model, ready to train."""
    def make():
        model = copy.deepcopy(transformers_backend.model)
        model.is_quantized, model.hf_quantizer = False, None  # as harness.train.loading does
        if getattr(model.config, "quantization_config", None) is not None:
            del model.config.quantization_config
        return model

    return make
