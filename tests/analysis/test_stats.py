"""The distributions judgement rests on, checked against exact enumeration and published examples."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.analysis.stats import binomial_bounds, clopper_pearson, newcombe, t_of, wilson, z_of


def exact_bounds(n: int, p: float, alpha: float) -> tuple[int, int]:
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    lo = max(k for k in range(n + 1) if sum(pmf[:k]) <= alpha)
    hi = min(k for k in range(n + 1) if sum(pmf[k + 1 :]) <= alpha)
    return lo, hi


@given(n=st.integers(1, 300), p=st.floats(0.001, 0.999), alpha=st.sampled_from([0.2, 0.05, 1e-3, 1e-6]))
def test_binomial_bounds_match_exact_enumeration(n: int, p: float, alpha: float) -> None:
    lo, hi = binomial_bounds(n, p, alpha)
    elo, ehi = exact_bounds(n, p, alpha)
    assert abs(lo - elo) <= 1 and abs(hi - ehi) <= 1  # float summation may land on the other side of a tie
    assert lo <= hi


def test_binomial_bounds_for_millions_of_requests() -> None:
    lo, hi = binomial_bounds(1_000_000, 0.01, 1e-9)
    sd = math.sqrt(1_000_000 * 0.01 * 0.99)
    assert 10_000 - 6.2 * sd < lo < 10_000 - 5.8 * sd and 10_000 + 5.8 * sd < hi < 10_000 + 6.2 * sd


def test_wilson_and_newcombe_reproduce_the_published_examples() -> None:
    lo, hi = wilson(81, 263, z_of(0.025))  # Newcombe 1998, table I
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    lo, hi = newcombe(56, 70, 48, 80, z_of(0.025))  # Newcombe 1998 (method 10): 0.0524 to 0.3339
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)


def test_wilson_stays_inside_zero_and_one_with_no_events() -> None:
    lo, hi = wilson(0, 300, z_of(1e-6))
    assert lo == 0.0 and 0 < hi < 0.1


@pytest.mark.parametrize(("alpha", "df", "expected"), [(0.025, 10, 2.228), (0.005, 5, 4.032), (0.05, 1, 6.314)])
def test_student_t_quantiles(alpha: float, df: float, expected: float) -> None:
    assert t_of(alpha, df) == pytest.approx(expected, abs=2e-3)


def test_t_is_normal_for_unknown_or_large_dof_and_tails_stay_finite() -> None:
    assert t_of(0.01, math.inf) == pytest.approx(z_of(0.01))
    assert math.isfinite(z_of(1e-300)) and z_of(0.5) == 0.0


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 120), p=st.floats(0.001, 0.5), alpha=st.sampled_from([0.05, 1e-3, 1e-5]))
def test_exact_bounds_never_claim_more_than_they_may(n: int, p: float, alpha: float) -> None:
    """P(lower bound > p) <= alpha and P(upper bound < p), summed exactly over every possible count."""
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    too_high = sum(pmf[k] for k in range(n + 1) if clopper_pearson(k, n, alpha)[0] > p)
    too_low = sum(pmf[k] for k in range(n + 1) if clopper_pearson(k, n, alpha)[1] < p)
    assert too_high <= alpha * 1.0001 and too_low <= alpha * 1.0001


def test_exact_bounds_where_wilson_is_too_narrow() -> None:
    """13 errors in 437 requests at a 1e-4 tail: Wilson's lower bound passes 1%, the exact one does not."""
    assert wilson(13, 437, z_of(1e-4))[0] > 0.01 > clopper_pearson(13, 437, 1e-4)[0]
    assert clopper_pearson(0, 300, 0.05)[1] == pytest.approx(1 - 0.05 ** (1 / 300), rel=1e-6)
