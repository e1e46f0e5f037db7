"""Label masks on the embedded model's real tokenizer (SmolLM2-135M-Instruct, ChatML template
without generation markers), for the prefix-difference path and for the same template with
`{% generation %}` markers added; and seed 004's completion-only labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formats_model import smol_tokenizer  # noqa: F401  (a pytest fixture)
from harness.formats.masks import IGNORE_INDEX, TemplateError, chat_masks, has_generation_markers
from harness.formats.student_code import (
    VARIANTS,
    completion_labels,
    input_text,
    output_text,
    to_prompt_completion,
)

FIXTURES = Path(__file__).parent / "fixtures" / "formats"

# SmolLM2's own line for every message, and the same line with the assistant content marked.
PLAIN_LINE = "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
MARKED_LINE = (
    "{{'<|im_start|>' + message['role'] + '\n'}}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}{{ '\n' }}"
)
# A template that shows only the last assistant message's text after '</think>' for earlier
# ones (as reasoning models' templates do): it does not preserve prefixes.
STRIPPING_LINE = (
    "{% if message['role'] == 'assistant' and not loop.last %}"
    "{{'<|im_start|>assistant\n' + message['content'].split('</think>')[-1] + '<|im_end|>\n'}}"
    "{% else %}" + PLAIN_LINE + "{% endif %}"
)


@pytest.fixture(scope="module")
def marked_template(smol_tokenizer):  # noqa: F811
    assert PLAIN_LINE in smol_tokenizer.chat_template
    template = smol_tokenizer.chat_template.replace(PLAIN_LINE, MARKED_LINE)
    assert has_generation_markers(template) and not has_generation_markers(smol_tokenizer.chat_template)
    return template


def masked_runs(tokenizer, ids, mask):
    runs, current = [], []
    for token, trained in zip(ids, mask):
        if trained:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [tokenizer.decode(run) for run in runs]


# Control characters (but newline and tab), unassigned and private-use code points are left
# out: this GGUF tokenizer lacks byte tokens for some of them (0x04, 0x06, 0x13, 0x14, 0x16,
# 0x1d, U+40000 and more), whatever the masks do.
text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co")) | st.sampled_from("\n\t"),
               min_size=1, max_size=40) | st.sampled_from(
    ["\n\nleading newlines", "trailing space ", "```python\nprint(1)\n```", "é漢字🙂", "<think>x</think>y"])


@st.composite
def chats(draw):
    messages = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(text)})
    for _ in range(draw(st.integers(1, 4))):
        messages.append({"role": "user", "content": draw(text)})
        messages.append({"role": "assistant", "content": draw(text)})
        if draw(st.booleans()):  # two assistant messages in a row happen (seed 000)
            messages.append({"role": "assistant", "content": draw(text)})
    return messages


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=chats())
def test_masked_tokens_are_exactly_the_assistant_contents(smol_tokenizer, marked_template, messages):  # noqa: F811
    eot = smol_tokenizer.eos_token
    assert eot == "<|im_end|>"
    expected = [m["content"] + eot for m in messages if m["role"] == "assistant"]
    prefix_diff = chat_masks(smol_tokenizer, messages)
    marked = chat_masks(smol_tokenizer, messages, chat_template=marked_template)
    for out in (prefix_diff, marked):
        assert masked_runs(smol_tokenizer, out["input_ids"], out["mask"]) == expected
        assert out["labels"] == [t if m else IGNORE_INDEX for t, m in zip(out["input_ids"], out["mask"])]
        # nothing lost or added: the ids decode to the chat as the template renders it
        assert smol_tokenizer.decode(out["input_ids"]) == smol_tokenizer.apply_chat_template(messages, tokenize=False)
    assert prefix_diff == marked


def test_completion_only_trains_the_assistant_messages_after_the_prompt(smol_tokenizer):  # noqa: F811
    messages = [
        {"role": "user", "content": "Play."},
        {"role": "assistant", "content": "kept turn from the parent"},
        {"role": "user", "content": "Feedback."},
        {"role": "assistant", "content": "new turn"},
        {"role": "user", "content": "More feedback."},
        {"role": "assistant", "content": "last turn"},
    ]
    everything = chat_masks(smol_tokenizer, messages)
    completion = chat_masks(smol_tokenizer, messages, train_on="completion", prompt_messages=3)
    assert masked_runs(smol_tokenizer, everything["input_ids"], everything["mask"]) == [
        "kept turn from the parent<|im_end|>", "new turn<|im_end|>", "last turn<|im_end|>"]
    assert masked_runs(smol_tokenizer, completion["input_ids"], completion["mask"]) == [
        "new turn<|im_end|>", "last turn<|im_end|>"]
    assert completion["input_ids"] == everything["input_ids"]


def test_a_template_that_rewrites_history_is_refused(smol_tokenizer):  # noqa: F811
    template = smol_tokenizer.chat_template.replace(PLAIN_LINE, STRIPPING_LINE)
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>a</think>b"},
                {"role": "user", "content": "q2"}, {"role": "assistant", "content": "c"}]
    with pytest.raises(TemplateError, match="does not preserve prefixes: rendering message 2"):
        chat_masks(smol_tokenizer, messages, chat_template=template)


# -- seed 004 ---------------------------------------------------------------------------------


def rows():
    return [json.loads(line) for line in (FIXTURES / "student_code_seed004.jsonl").read_text().splitlines()]


def test_student_code_templates_golden():
    golden = json.loads((FIXTURES / "golden" / "seed004_pairs.json").read_text(encoding="utf-8"))
    got = {}
    for variant in VARIANTS:
        wanted = rows()[:2] if variant.startswith("exp1") else rows()[2:]
        got[variant] = [to_prompt_completion(r, variant) for r in wanted]
    assert got == golden


def test_student_code_template_rules():
    exp1, quantile, exp2 = rows()
    with_context = input_text(exp1, "exp1_with_context")
    assert with_context.startswith("PAST PROBLEMS:\nPROBLEM NAME: max_list\n<code>def max_list")
    assert "\n\nPROBLEM NAME: min_list\n" in with_context  # past problems blank-line separated
    assert "Write sum_list.\nIt returns the sum of a list.\nDo not use sum()." in with_context  # newlines collapsed
    assert "SUBMISSION FIRST" in with_context and "PROBLEM NAME" not in input_text(exp1, "exp1_without_context")
    assert "SUBMISSION Q2" in input_text(quantile, "exp1_without_context")  # the real data's `quantile` key
    exp2_text = input_text(exp2, "exp2_with_context")
    assert "SUBMISSIONS:\n<code>None</code><code>def sum_list(xs):\n    pass</code>" in exp2_text
    assert "<code>def max_list(xs):\n    pass</code><code>def max_list(xs):\n    return max(xs)</code>" in exp2_text
    # exp1_with_context uses the exp1 template (the seed's training code used exp2's)
    assert "SUBMISSIONS:" not in with_context
    assert (
        output_text(exp1) == "<code>def sum_list(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t</code>"
    )
    with pytest.raises(ValueError, match="unknown template variant"):
        input_text(exp1, "exp3_with_context")


def test_student_code_completion_only_labels(smol_tokenizer):  # noqa: F811
    pair = to_prompt_completion(rows()[0], "exp1_with_context")
    out = completion_labels(smol_tokenizer, pair["prompt"], pair["completion"])
    n_prompt = sum(1 for label in out["labels"] if label == IGNORE_INDEX)
    assert out["labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert smol_tokenizer.decode(out["input_ids"][:n_prompt]) == pair["prompt"]
    assert smol_tokenizer.decode(out["labels"][n_prompt:]) == pair["completion"]  # no EOS appended
    assert out["input_ids"][-1] != smol_tokenizer.eos_token_id
