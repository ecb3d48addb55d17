"""Errors of gauge levels and trends: honest for autocorrelated series, even from short windows."""

from __future__ import annotations

import math
import random

import pytest

from controller.analysis.estimate import Estimate, NoiseModel, fit, learn_noise, mean, total
from controller.analysis.stats import t_of

MIB = 2.0**20
Points = list[tuple[float, float]]


def heap(seed: int, minutes: float, scrape: float = 30.0) -> Points:
    """A garbage-collected heap: climbs for 60-120 s, drops, scraped with jitter."""
    rng = random.Random(seed)
    next_gc, points, t = rng.uniform(60, 120), [], rng.uniform(0, scrape)
    while t < minutes * 60:
        ts = t + rng.uniform(-1.5, 1.5)
        while ts >= next_gc:
            next_gc += rng.uniform(60, 120)
        points.append((ts, 250 * MIB + 6 * MIB * (1 - (next_gc - ts) / 120) + rng.gauss(0, 0.4 * MIB)))
        t += scrape
    return points


def pool(seed: int, minutes: float, scrape: float = 30.0) -> Points:
    """Connections that wander with load and drift back (AR(1), 0.85 per scrape), as integers."""
    rng = random.Random(seed)
    level, points, t = 12.0, [], rng.uniform(0, scrape)
    while t < minutes * 60:
        level += 0.15 * (12.0 - level) + rng.gauss(0, 1.0)
        points.append((t, float(max(0, round(level)))))
        t += scrape
    return points


def false_alarms(make: object, minutes: float, alpha: float, runs: int = 400) -> float:
    """Share of flat series whose trend's one-sided test at ``alpha`` says it rises."""
    assert callable(make)
    hits = 0
    for seed in range(runs):
        noise = learn_noise([make(10_000 + seed, 120)])
        _, slope = fit(make(seed, minutes), slope=True, noise=noise)
        assert slope is not None
        hits += slope.se > 0 and slope.value / slope.se > t_of(alpha, slope.dof)
    return hits / runs


@pytest.mark.parametrize("minutes", [5, 10, 30])
def test_flat_heap_trends_are_not_called_rising_more_often_than_said(minutes: float) -> None:
    assert false_alarms(heap, minutes, 0.01) <= 0.02


@pytest.mark.parametrize("minutes", [5, 10, 30])
def test_a_wandering_pool_does_not_fool_short_windows(minutes: float) -> None:
    """A pool that takes minutes to forget looks independent in a short window; blue's history knows better."""
    assert false_alarms(pool, minutes, 0.01) <= 0.025


def test_without_history_a_short_window_of_a_wandering_pool_is_overconfident() -> None:
    """Why blue's history is needed: the window's own residuals underestimate the error."""
    ses, slopes = [], []
    for seed in range(300):
        _, slope = fit(pool(seed, 5), slope=True)
        assert slope is not None
        ses.append(slope.se)
        slopes.append(slope.value)
    spread = math.sqrt(sum(s * s for s in slopes) / len(slopes))
    assert sorted(ses)[len(ses) // 2] < 0.8 * spread


def test_noise_model_matches_an_ar1_process() -> None:
    model = learn_noise([pool(1, 600)])
    assert model is not None
    assert 0.75 < model.rho < 0.92 and 2.5 < model.variance < 5.0 and model.dof > 20
    assert learn_noise([pool(1, 5)]) is None  # ten points cannot tell


def test_level_and_slope_variances_shrink_with_longer_windows() -> None:
    model = NoiseModel(0.85, 3.6)
    assert model.level_variance(120) < model.level_variance(30)
    times = [30.0 * i for i in range(60)]
    assert model.slope_variance(times) < model.slope_variance(times[:20])


def test_sums_and_means_combine_variances_and_degrees_of_freedom() -> None:
    a, b = Estimate(1.0, 4.0, 10.0), Estimate(2.0, 4.0, 10.0)
    both = total([a, b])
    assert (both.value, both.variance) == (3.0, 8.0) and both.dof == pytest.approx(20.0)
    assert mean([a, b]).variance == 2.0 and mean([a, b]).value == 1.5
    assert total([a, Estimate(1.0, math.inf)]).variance == math.inf
