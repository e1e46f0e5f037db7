"""Exact match and token F1 with SQuAD-style normalisation."""

from __future__ import annotations

import pytest

from harness_search.scoring import exact_match, normalize_answer, token_f1


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("The Brindlemoor Academy", "brindlemoor academy"),
        ("  an  Apple a day ", "apple day"),
        ("9,000", "9000"),
        ("Utzon’s «house»!", "utzons house"),
        ("Theatre anthem", "theatre anthem"),  # articles only as whole words
        ("$5 + <b>", "5 b"),  # SQuAD's ASCII punctuation includes these symbols
        ("", ""),
    ],
)
def test_normalize_answer(text, normalised):
    assert normalize_answer(text) == normalised


def test_exact_match_takes_any_gold_answer():
    assert exact_match("the keep", ["keep"]) == 1.0
    assert exact_match("Keep.", ["castle keep", "keep"]) == 1.0
    assert exact_match("the castle", ["keep"]) == 0.0


def test_token_f1_takes_the_best_gold_answer():
    assert token_f1("Maelis Varrow", ["Varrow", "Maelis Varrow"]) == 1.0
    assert token_f1("Varrow", ["Maelis Varrow"]) == pytest.approx(2 / 3)
    assert token_f1("red red blue", ["red"]) == pytest.approx(0.5)  # precision 1/3, recall 1
    assert token_f1("nothing shared", ["keep"]) == 0.0
    assert token_f1("the", ["a"]) == 0.0  # both normalise to nothing
