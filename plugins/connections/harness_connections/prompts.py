"""What the model reads: the rules, the board, and the feedback after each guess (our wording)."""

from __future__ import annotations

from collections.abc import Sequence

from harness_connections.guess import format_guess


def system_prompt(groups: int, group_size: int, max_mistakes: int, max_turns: int) -> str:
    example = format_guess([f"WORD{i}" for i in range(1, group_size + 1)])
    return (
        "Let's play Connections. The board holds "
        f"{groups * group_size} words that split into {groups} groups of {group_size}; "
        "the words of a group share a hidden theme (a category, a phrase they complete, a "
        "property of their spelling, ...). Some words seem to fit more than one group, but the "
        "puzzle has exactly one solution.\n\n"
        "Each turn, think it through, then name one group you believe in, ending your reply "
        f"with a guess in this exact format:\n{example}\n"
        "Put every word in backticks, spelled as on the board (case does not matter). Only the "
        "last <guess> tag of your reply counts.\n\n"
        "A correct guess reveals the group's theme and takes its words off the board. A guess "
        f"with {group_size - 1} of {group_size} words from one group is answered with \"one "
        "away\". Wrong guesses, one-away included, are mistakes: after "
        f"{max_mistakes} mistakes the game is lost. A guess that breaks the rules (wrong number "
        "of words, a word not on the board or already found, a word twice, no guess tag) is "
        "invalid: it costs no mistake but uses up the turn. When one group is left it completes "
        f"itself. You have at most {max_turns} turns."
    )


def board_message(words: Sequence[str]) -> str:
    return "The words:\n" + ", ".join(f"`{w}`" for w in words) + "\n\nMake your first guess."
