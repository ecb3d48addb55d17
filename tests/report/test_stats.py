"""The report's intervals against known answers, and their coverage on simulated data."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.report.stats import (
    Estimate,
    batch_means,
    change_percent,
    difference,
    histogram_quantile,
    t95,
    theil_sen,
    wilson,
)


def test_t_quantiles_match_the_table_and_approach_the_normal() -> None:
    assert t95(1) == pytest.approx(12.706)
    assert t95(10) == pytest.approx(2.228)
    assert 2.021 < t95(35) < 2.042  # interpolated between 30 and 40
    assert t95(10_000) == pytest.approx(1.960, abs=0.001)
    with pytest.raises(ValueError, match="degrees of freedom"):
        t95(0)


def test_wilson_matches_published_values() -> None:
    ten = wilson(10, 100)
    assert ten.value == pytest.approx(0.10)
    assert ten.low == pytest.approx(0.0552, abs=1e-4) and ten.high == pytest.approx(0.1744, abs=1e-4)
    zero = wilson(0, 100)
    assert zero.value == 0 and zero.low == 0 and zero.high == pytest.approx(0.0370, abs=1e-4)
    assert zero.samples == 100


@pytest.mark.parametrize(("errors", "requests"), [(1, 0), (math.nan, 10), (3, math.inf), (-1, 10)])
def test_wilson_refuses_what_is_not_a_share(errors: float, requests: float) -> None:
    assert wilson(errors, requests).value is None


def test_histogram_quantile_interpolates_like_prometheus_and_brackets_the_rank() -> None:
    # 1000 requests spread evenly over 0..10 s in 1 s buckets: the median is 5 s.
    buckets = [(float(le), le * 100.0) for le in range(1, 11)] + [(math.inf, 1000.0)]
    median = histogram_quantile(0.5, buckets)
    half = 1.96 * math.sqrt(1000 * 0.25) / 100  # rank spread mapped through 100 requests per second
    assert median.value == pytest.approx(5.0)
    assert median.low == pytest.approx(5.0 - half, rel=1e-3) and median.high == pytest.approx(5.0 + half, rel=1e-3)
    assert median.samples == 1000
    assert histogram_quantile(0.99, buckets).value == pytest.approx(9.9)


def test_histogram_quantile_caps_at_the_last_finite_bucket_and_handles_resets() -> None:
    tail = [(0.1, 10.0), (0.2, 20.0), (math.inf, 100.0)]
    assert histogram_quantile(0.99, tail).value == 0.2  # as histogram_quantile: the +Inf bucket has no width
    reset = [(0.1, 50.0), (0.2, 40.0), (math.inf, 100.0)]  # non-monotonic (a counter reset inside the window)
    assert histogram_quantile(0.5, reset).value == pytest.approx(0.1)
    assert histogram_quantile(0.5, [(0.1, 1.0)]).value is None  # no +Inf bucket: not a histogram
    assert histogram_quantile(0.5, [(math.inf, 0.0)]).value is None
    with pytest.raises(ValueError, match="quantile"):
        histogram_quantile(1.0, tail)


def test_batch_means_covers_the_true_mean_about_95_percent_of_the_time() -> None:
    """AR(1) noise (as scraped gauges are): a naive interval would cover far less."""
    rng = random.Random(7)
    covered, trials = 0, 400
    for _ in range(trials):
        x, series = 0.0, []
        for _ in range(300):
            x = 0.8 * x + rng.gauss(0, 1)
            series.append(50.0 + x)
        e = batch_means(series)
        assert e.low is not None and e.high is not None
        covered += e.low <= 50.0 <= e.high
    assert 0.88 <= covered / trials <= 0.99, covered / trials


def test_batch_means_without_enough_points_gives_no_interval() -> None:
    assert batch_means([1.0, 2.0, 3.0]) == Estimate(2.0, samples=3)
    assert batch_means([math.nan, math.inf]).value is None
    flat = batch_means([4.0] * 60)
    assert (flat.value, flat.low, flat.high) == (4.0, 4.0, 4.0)


def test_theil_sen_sees_the_trend_through_outliers() -> None:
    rng = random.Random(3)
    points = [(float(t), 2.0 * t + rng.gauss(0, 1)) for t in range(120)]
    points[10] = (10.0, 5000.0)
    points[80] = (80.0, -5000.0)
    e = theil_sen(points)
    assert e.value == pytest.approx(2.0, abs=0.05)
    assert e.low is not None and e.high is not None and e.low < 2.0 < e.high
    assert e.high - e.low < 0.2
    assert theil_sen(points[:5]).value is None


@given(st.lists(st.floats(-1e6, 1e6), min_size=6, max_size=60))
def test_theil_sen_interval_always_contains_its_estimate(values: list[float]) -> None:
    e = theil_sen([(float(i), v) for i, v in enumerate(values)])
    assert e.value is not None and e.low is not None and e.high is not None
    assert e.low <= e.value <= e.high


def test_change_percent_pairs_the_far_ends() -> None:
    green, blue = Estimate(110.0, 100.0, 120.0, 50), Estimate(100.0, 95.0, 105.0, 40)
    change = change_percent(green, blue)
    assert change.value == pytest.approx(10.0)
    assert change.low == pytest.approx(100 * (100 / 105 - 1)) and change.high == pytest.approx(100 * (120 / 95 - 1))
    assert change.samples == 40
    assert change_percent(green, Estimate(0.0)).value is None
    assert change_percent(green, Estimate(100.0)).low is None  # blue without an interval: no interval either


def test_difference_of_trends() -> None:
    d = difference(Estimate(5.0, 4.0, 6.0, 10), Estimate(1.0, 0.5, 1.5, 12))
    assert (d.value, d.low, d.high, d.samples) == (4.0, 2.5, 5.5, 10)
    assert difference(Estimate(None), Estimate(1.0)).value is None
