"""Quantiles from bucket counts: estimates, order-statistic intervals, interpolation error, pairing."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from statistics import NormalDist

import pytest

from controller.analysis.judge import QuantileOf, interval
from controller.analysis.quantile import (
    MAX_BUCKETS,
    Histogram,
    HistogramError,
    bounds,
    histogram,
    quantile_values,
)
from controller.analysis.source import Series
from tests.analysis.histograms import DEFAULT_BUCKETS, expected, sample

RATIO = "max_ratio_to_blue"


@pytest.mark.parametrize("p99", [0.13, 0.16, 0.2, 0.248, 0.3, 0.4])
def test_estimate_recovers_a_lognormal_p99_anywhere_in_a_coarse_bucket(p99: float) -> None:
    v = quantile_values(expected(p99, 10**7), 0.99, 0.01)
    assert v is not None
    assert v.centre.estimate == pytest.approx(p99, rel=0.01)
    assert v.centre.low <= p99 <= v.centre.high  # the interpolation bracket holds the truth


def test_interval_covers_the_true_quantile_as_often_as_it_says() -> None:
    """200 seeded samples of 3,000 requests, bounds one-sided at 5%: each side misses about 5% of the time."""
    p99, misses_low, misses_high = 0.2, 0, 0
    for seed in range(200):
        v = quantile_values(sample(p99, 3000, seed), 0.99, 0.05)
        assert v is not None
        low, high = bounds(v)
        misses_low += low > p99
        misses_high += high < p99
    assert misses_low <= 20 and misses_high <= 20  # at most twice the nominal 10 of 200


def test_where_the_data_cannot_say_more_the_interval_is_the_bucket() -> None:
    h = Histogram(DEFAULT_BUCKETS, tuple(0.0 if e < 0.25 else 40.0 for e in DEFAULT_BUCKETS), 40.0)
    v = quantile_values(h, 0.99, 0.05)
    assert v is not None
    assert bounds(v) == pytest.approx((0.1, 0.25))


def test_beyond_the_last_bucket_only_its_edge_is_known() -> None:
    h = Histogram((0.1, 0.5), (10.0, 20.0), 1000.0)
    v = quantile_values(h, 0.5, 0.05)
    assert v is not None
    low, high = bounds(v)
    assert low == 0.5 and math.isinf(high)


def test_histogram_from_bucket_series_repairs_extrapolated_dips() -> None:
    series = [Series({"le": le}, ((0.0, v),)) for le, v in (("0.1", 10.2), ("0.25", 9.8), ("+Inf", 12.0), ("1", 13.0))]
    h = histogram(series)
    assert h == Histogram((0.1, 0.25, 1.0), (10.2, 10.2, 12.0), 12.0)
    assert histogram([]) is None


@pytest.mark.parametrize(
    ("series", "problem"),
    [
        ([Series({"le": "0.1"}, ((0.0, 1.0),))], "+Inf"),
        ([Series({"le": "fast"}, ((0.0, 1.0),)), Series({"le": "+Inf"}, ((0.0, 1.0),))], "not a number"),
        ([Series({}, ((0.0, 1.0),))], "'le' label"),
        (
            [Series({"le": str(i + 1)}, ((0.0, 1.0),)) for i in range(MAX_BUCKETS + 1)]
            + [Series({"le": "+Inf"}, ((0.0, 1.0),))],
            "buckets",
        ),
    ],
)
def test_what_is_not_a_histogram_is_refused(series: list[Series], problem: str) -> None:
    with pytest.raises(HistogramError, match=problem.replace("+", r"\+")):
        histogram(series)


def test_the_same_distribution_in_both_tracks_is_a_ratio_near_one_wherever_the_p99_sits() -> None:
    """With each interpolation rule applied to both tracks alike, bucket shape errors cancel out."""
    for p99 in (0.16, 0.2, 0.245, 0.3):
        low, high = interval(
            RATIO, QuantileOf(expected(p99, 10**6), 0.99), QuantileOf(expected(p99, 10**7), 0.99), 0.05
        )
        assert 0.97 < low <= 1.0 <= high < 1.03, (p99, low, high)


def test_a_lone_slow_request_past_an_edge_blue_never_crossed_is_no_regression() -> None:
    """Green: 300 requests, one beyond 0.25 s; blue: 5,700 and none. Chords through that one request would
    put green's p99 at 1.25x blue's; the interval must not claim that."""
    green = Histogram(DEFAULT_BUCKETS, (0, 0, 8, 142, 236, 273, 299, *([300] * 7)), 300.0)
    blue = Histogram(DEFAULT_BUCKETS, (0, 0, 290, 2597, 4479, 5253, *([5700] * 8)), 5700.0)
    low, high = interval(RATIO, QuantileOf(green, 0.99), QuantileOf(blue, 0.99), 1e-5)
    assert low < 1.1 < high


@pytest.mark.parametrize("p99", [0.16, 0.2, 0.245, 0.3])
def test_p99_one_point_three_times_blue_shows_from_six_thousand_green_requests(p99: float) -> None:
    green, blue = sample(p99 * 1.3, 6000, seed=1), sample(p99, 114_000, seed=2)
    low, _ = interval(RATIO, QuantileOf(green, 0.99), QuantileOf(blue, 0.99), 1e-5)
    assert low > 1.1, (p99, low)


def test_five_percent_of_requests_300ms_slower_shows_in_the_tail() -> None:
    green, blue = sample(0.2, 3000, seed=3, tail=(0.05, 0.3)), sample(0.2, 57_000, seed=4)
    low, _ = interval(RATIO, QuantileOf(green, 0.99), QuantileOf(blue, 0.99), 1e-5)
    assert low > 1.1


def test_no_shape_fools_the_paired_interval_into_a_false_fail() -> None:
    """Log-normal, Weibull and bimodal latencies of every scale, 40 to 30,000 green requests, the same
    distribution in both tracks: at a budgeted tail of 1e-5 the ratio's lower bound never passes 1.10."""
    rng = random.Random(11)
    worst = 0.0
    for _ in range(600):
        shape = rng.choice(["lognormal", "weibull", "bimodal"])
        scale = math.exp(rng.uniform(math.log(0.02), math.log(0.6)))
        cdf = SHAPES[shape](scale, rng.uniform(0.3, 2.5))
        n = rng.choice([40, 300, 3000, 30_000])
        green, blue = counted(cdf, n, rng), counted(cdf, n * rng.choice([1, 3, 19]), rng)
        low, _ = interval(RATIO, QuantileOf(green, 0.99), QuantileOf(blue, 0.99), 1e-5)
        worst = max(worst, low)
    assert worst < 1.10


def _lognormal(scale: float, spread: float) -> Callable[[float], float]:
    return lambda x: NormalDist().cdf(math.log(x / scale) / max(spread / 2, 0.2))


def _weibull(scale: float, k: float) -> Callable[[float], float]:
    return lambda x: 1 - math.exp(-((x / scale) ** max(k, 0.8)))


def _bimodal(scale: float, spread: float) -> Callable[[float], float]:
    base = _lognormal(scale, spread)
    return lambda x: 0.97 * base(x) + 0.03 * (base(x - 0.2) if x > 0.2 else 0.0)


SHAPES: dict[str, Callable[[float, float], Callable[[float], float]]] = {
    "lognormal": _lognormal,
    "weibull": _weibull,
    "bimodal": _bimodal,
}


def counted(cdf: Callable[[float], float], n: int, rng: random.Random) -> Histogram:
    """Bucket counts of n requests: Poisson per bucket (normal beyond 50 expected)."""
    cum = [cdf(e) for e in DEFAULT_BUCKETS]
    counts = []
    for share in (b - a for a, b in zip([0.0, *cum], [*cum, 1.0], strict=True)):
        lam = n * share
        counts.append(max(0, round(rng.gauss(lam, math.sqrt(lam)))) if lam > 50 else _poisson(rng, lam))
    cumulative, running = [], 0
    for c in counts[:-1]:
        running += c
        cumulative.append(float(running))
    return Histogram(DEFAULT_BUCKETS, tuple(cumulative), float(running + counts[-1]))


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
