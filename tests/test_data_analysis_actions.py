"""Reading reasoning and code out of the model's message."""

from __future__ import annotations

import pytest

from harness_data_analysis.actions import parse_action


def test_reasoning_then_code():
    action = parse_action("I'll average.\n\n```python\nm = df.mean()\nprint(m)\n```\nDone.", 1000)
    assert action.invalid is None
    assert action.reasoning == "I'll average."
    assert action.code == "m = df.mean()\nprint(m)"


def test_the_closing_fence_may_follow_code_on_its_line():
    assert parse_action("```python\ndf['age'].mean()```", 1000).code == "df['age'].mean()"


@pytest.mark.parametrize("tag", ["python", "Python", "py", "python3", ""])
def test_python_tags_and_bare_fences_count(tag):
    assert parse_action(f"```{tag}\nx = 1\n```", 1000).code == "x = 1"


def test_several_python_blocks_run_in_order_and_other_languages_are_ignored():
    text = "First\n```python\na = 1\n```\n```bash\nrm -rf /\n```\nthen\n```py\nb = a + 1\n```"
    action = parse_action(text, 1000)
    assert action.code == "a = 1\n\nb = a + 1"
    assert action.reasoning == "First"


def test_indented_blocks_are_dedented():
    text = "1. Step:\n   ```python\n   x = 1\n   y = 2\n   ```"
    assert parse_action(text, 1000).code == "x = 1\ny = 2"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no_code_block"),
        ("just words", "no_code_block"),
        ("```python\nx = 1", "unterminated_code_block"),
        ("```python\n   \n```", "empty_code_block"),
        ("y" * 1001, "action_too_long"),
    ],
)
def test_invalid_messages_say_why(text, reason):
    action = parse_action(text, 1000)
    assert action.invalid == reason and action.feedback and not action.code
