"""Label masks for training on chats: which tokens the loss sees.

    out = chat_masks(tokenizer, messages)                         # every assistant message
    out = chat_masks(tokenizer, messages, prompt_messages=3)      # completion only: assistant
                                                                  # messages from index 3 on
    out["input_ids"], out["labels"], out["mask"]                  # labels: -100 where mask is 0

The trained part of an assistant message is its content plus the end-of-turn token that closes
it (`<|im_end|>` for ChatML), not the role header before it nor the newline after it — exactly
what the model generates when it answers.

How the trained spans are found, for any chat template:

- a template with `{% generation %}` … `{% endgeneration %}` markers says it itself: the spans
  are the marked text (transformers renders them);
- otherwise, by prefix difference: the chat is rendered message by message; the assistant
  message `i` is what `render(messages[:i+1])` adds to `render(messages[:i],
  add_generation_prompt=True)`. That is only right when the template preserves prefixes
  (rendering more messages never changes the text of the earlier ones; templates that strip
  the reasoning of earlier turns do not), so it is checked first, and a template that breaks
  it is an error naming the message.

Tokenisation: the rendered text is cut at the span boundaries and each piece is tokenised on its
own (special-token text, such as `<|im_start|>`, becomes its special token). The ids are what
the model read and wrote turn by turn, and a masked span decodes to exactly its text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["IGNORE_INDEX", "TemplateError", "chat_masks", "has_generation_markers", "trained_spans"]

IGNORE_INDEX = -100
_GENERATION = re.compile(r"\{%-?\s*generation\s*-?%\}")


class TemplateError(ValueError):
    """The chat template cannot give masks for this chat (it rewrites earlier messages)."""


def has_generation_markers(template: str) -> bool:
    return bool(_GENERATION.search(template))


def _plain(messages: Sequence[Any]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} if isinstance(m, dict)
            else {"role": m.role, "content": m.content} for m in messages]


def _render(template: str, messages: list[dict[str, str]], *, generation_prompt: bool = False,
            markers: bool = False, **kwargs: Any) -> tuple[str, list[tuple[int, int]]]:
    from transformers.utils.chat_template_utils import render_jinja_template

    if not messages and not generation_prompt:
        return "", []
    # transformers annotates it `-> str`; it returns (renderings, generation indices).
    result: Any = render_jinja_template(
        conversations=[messages], chat_template=template, add_generation_prompt=generation_prompt,
        return_assistant_tokens_mask=markers, **kwargs)
    rendered, indices = result
    return rendered[0], [(int(start), int(end)) for start, end in (indices[0] if markers else [])]


def _end_of_turn(text: str, special_tokens: Sequence[str]) -> int:
    """Length of the special token `text` starts with (the end-of-turn marker), else 0."""
    for token in sorted(special_tokens, key=len, reverse=True):
        if token and text.startswith(token):
            return len(token)
    return 0


def trained_spans(tokenizer: Any, messages: Sequence[Any], *, chat_template: str | None = None,
                  **template_kwargs: Any) -> tuple[str, list[tuple[int, int]]]:
    """The rendered chat and one `(start, end)` character span per assistant message."""
    msgs = _plain(messages)
    template = chat_template or tokenizer.chat_template
    if not template:
        raise TemplateError("the tokenizer has no chat template; pass chat_template=")
    kwargs = {**template_kwargs, **_special_kwargs(tokenizer)}
    assistants = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
    if has_generation_markers(template):
        text, marked = _render(template, msgs, markers=True, **kwargs)
        if len(marked) != len(assistants):
            raise TemplateError(f"the template marks {len(marked)} generation spans for "
                                f"{len(assistants)} assistant messages")
        return text, marked
    spans: list[tuple[int, int]] = []
    previous = ""
    for i, message in enumerate(msgs):
        text, _ = _render(template, msgs[: i + 1], **kwargs)
        if not text.startswith(previous):
            raise TemplateError(
                f"the chat template does not preserve prefixes: rendering message {i} "
                f"({message['role']}) changes the text of messages 0..{i - 1}, so masks cannot be "
                "found by prefix difference; use a template with {% generation %} markers")
        if message["role"] == "assistant":
            header, _ = _render(template, msgs[:i], generation_prompt=True, **kwargs)
            if not (header.startswith(previous) and text.startswith(header)):
                raise TemplateError(
                    f"the chat template's generation prompt is not a prefix of assistant message {i} "
                    "as rendered in the chat; masks cannot be found by prefix difference")
            added = text[len(header):]
            offset = added.find(message["content"])
            if offset < 0:
                raise TemplateError(f"the chat template changes the content of assistant message {i}")
            start = len(header) + offset
            end = start + len(message["content"])
            end += _end_of_turn(text[end:], tokenizer.all_special_tokens)
            spans.append((start, end))
        previous = text
    return previous, spans


def _special_kwargs(tokenizer: Any) -> dict[str, Any]:
    # What apply_chat_template passes to templates beside the messages.
    return {k: v for k, v in (("bos_token", tokenizer.bos_token), ("eos_token", tokenizer.eos_token))
            if v is not None}


def chat_masks(
    tokenizer: Any,
    messages: Sequence[Any],
    *,
    train_on: Literal["assistant", "completion"] = "assistant",
    prompt_messages: int = 0,
    chat_template: str | None = None,
    **template_kwargs: Any,
) -> dict[str, list[int]]:
    """`input_ids`, `attention_mask`, `mask` (1 = trained) and `labels` (-100 = not trained).

    `train_on="assistant"` trains every assistant message; `"completion"` only those at index
    `prompt_messages` or later (the episode's completion: assistant turns kept in a doctored
    episode's prompt are not trained again).
    """
    if train_on not in ("assistant", "completion"):
        raise ValueError(f"train_on must be 'assistant' or 'completion', not {train_on!r}")
    msgs = _plain(messages)
    text, spans = trained_spans(tokenizer, msgs, chat_template=chat_template, **template_kwargs)
    if train_on == "completion":
        assistants = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
        spans = [span for span, i in zip(spans, assistants) if i >= prompt_messages]
    ids: list[int] = []
    mask: list[int] = []
    cursor = 0
    for start, end in [*spans, (len(text), len(text))]:
        for piece, trained in ((text[cursor:start], 0), (text[start:end], 1)):
            if piece:
                piece_ids = tokenizer(piece, add_special_tokens=False)["input_ids"]
                ids += piece_ids
                mask += [trained] * len(piece_ids)
        cursor = end
    return {
        "input_ids": ids,
        "attention_mask": [1] * len(ids),
        "mask": mask,
        "labels": [t if m else IGNORE_INDEX for t, m in zip(ids, mask)],
    }
