"""The trend estimator: robust to GC sawtooth, scrape jitter and outliers, and honest about too little data."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.analysis.slope import MIN_POINTS, theil_sen

MIB = 2.0**20


def sawtooth_trace(slope_per_hour: float, seed: int, minutes: int = 30) -> list[tuple[float, float]]:
    """A heap that climbs between collections at random 60-120s periods, scraped every 15s +-1.5s."""
    rng = random.Random(seed)
    next_gc, points, t = rng.uniform(60, 120), [], 0.0
    while t < minutes * 60:
        ts = t + rng.uniform(-1.5, 1.5)
        while ts >= next_gc:
            next_gc += rng.uniform(60, 120)
        heap = 6 * MIB * (1 - (next_gc - ts) / 120)
        points.append((ts, 300 * MIB + slope_per_hour * MIB * ts / 3600 + heap + rng.gauss(0, 0.4 * MIB)))
        t += 15
    return points


def least_squares(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    return sum((t - mt) * (v - mv) for t, v in points) / sum((t - mt) ** 2 for t, _ in points)


@settings(max_examples=60, deadline=None)
@given(slope=st.floats(min_value=-50, max_value=100), seed=st.integers(0, 10_000))
def test_recovers_trend_under_sawtooth_and_jitter(slope: float, seed: int) -> None:
    estimate = theil_sen(sawtooth_trace(slope, seed))
    assert estimate is not None
    assert abs(estimate * 3600 / MIB - slope) < 6.0  # MiB/h, over a 30-minute window


def test_outliers_do_not_move_it_like_least_squares() -> None:
    points = sawtooth_trace(0.0, seed=7)
    for i in range(len(points) - 8, len(points)):  # a burst of page-cache noise at the end of the window
        points[i] = (points[i][0], points[i][1] + 80 * MIB)
    robust = theil_sen(points)
    assert robust is not None
    assert abs(robust * 3600 / MIB) < 5
    assert abs(least_squares(points) * 3600 / MIB) > 3 * abs(robust * 3600 / MIB)


def test_exact_line() -> None:
    points = [(float(t), 2.0 * t + 1) for t in range(0, 600, 15)]
    assert theil_sen(points) == 2.0


def test_too_little_data_is_none_not_zero() -> None:
    assert theil_sen([]) is None
    assert theil_sen([(float(t), 1.0) for t in range(MIN_POINTS - 1)]) is None
    assert theil_sen([(0.0, float(v)) for v in range(10)]) is None  # no time span
    assert theil_sen([(float(t), float("nan")) for t in range(20)]) is None
