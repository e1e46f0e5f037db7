"""pass@k: the stable product against exact binomials, edge cases, the k <= n rule."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.rlvr import mean_pass_at_k, pass_at_k


@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_matches_the_exact_formula(nck):
    n, c, k = nck
    exact = 1 - Fraction(comb(n - c, k), comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-9)


def test_known_values_and_edges():
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 10) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 1, 10) == 1.0
    assert pass_at_k(2000, 1000, 100) == pytest.approx(1.0)  # no overflow where comb would be huge
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 6)


def test_mean_is_reported_only_for_k_up_to_n():
    counts = [(10, 0), (10, 5), (10, 10)]
    assert mean_pass_at_k(counts, 1) == pytest.approx((0 + 0.5 + 1) / 3)
    assert mean_pass_at_k(counts, 11) is None
    assert mean_pass_at_k([], 1) is None
    assert mean_pass_at_k([(3, 1), (1, 1)], 2) is None
