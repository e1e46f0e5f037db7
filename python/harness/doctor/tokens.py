"""Token counters: what "tokens" means where doctoring counts them (ties, limits, reduction).

`token_counter(None)` counts whitespace-separated words, the stand-in the Connections plugin uses
by default (fast, no model needed); `token_counter("embedded")` is the embedded model's tokenizer;
any other value is a Hugging Face tokenizer name or local directory (`AutoTokenizer`). Seed 001
counted with the tokenizer of the model it trained: name that one for real runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

CountTokens = Callable[[str], int]

WORDS = "words"


def count_words(text: str) -> int:
    return len(text.split())


@cache
def token_counter(spec: str | None) -> tuple[str, CountTokens]:
    """(name, count) of a counter; the name keys the token caches of the index."""
    if spec is None or spec == WORDS:
        return WORDS, count_words
    from transformers import AutoTokenizer

    if spec == "embedded":
        from harness.embedded_model import embedded_model_dir

        tokenizer = AutoTokenizer.from_pretrained(str(embedded_model_dir()))
    else:
        tokenizer = AutoTokenizer.from_pretrained(spec)

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return spec, count
