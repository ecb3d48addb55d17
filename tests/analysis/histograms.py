"""Bucketed latency histograms for pure tests: expected counts of a log-normal, or a seeded sample of one."""

from __future__ import annotations

import math
import random
from statistics import NormalDist

from controller.analysis.quantile import Histogram

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""prometheus_client's default buckets."""
SIGMA = 0.45
_NORMAL = NormalDist()


def cdf(x: float, p99: float, tail: tuple[float, float] = (0.0, 0.0)) -> float:
    """Log-normal latency with the given p99; ``tail`` = (share, seconds added to it)."""
    mu = math.log(p99) - 2.326 * SIGMA

    def base(y: float) -> float:
        return 0.0 if y <= 0 else _NORMAL.cdf((math.log(y) - mu) / SIGMA)

    share, extra = tail
    return (1 - share) * base(x) + share * base(x - extra)


def expected(p99: float, n: int, buckets: tuple[float, ...] = DEFAULT_BUCKETS) -> Histogram:
    """The counts a very large sample would show, scaled to n (no sampling noise)."""
    return Histogram(buckets, tuple(n * cdf(e, p99) for e in buckets), float(n))


def sample(
    p99: float, n: int, seed: int, tail: tuple[float, float] = (0.0, 0.0), buckets: tuple[float, ...] = DEFAULT_BUCKETS
) -> Histogram:
    """n requests drawn one by one (seeded), counted into buckets as prometheus_client does."""
    rng = random.Random(seed)
    mu = math.log(p99) - 2.326 * SIGMA
    counts = [0] * (len(buckets) + 1)
    for _ in range(n):
        x = math.exp(rng.gauss(mu, SIGMA)) + (tail[1] if rng.random() < tail[0] else 0.0)
        k = next((i for i, e in enumerate(buckets) if x <= e), len(buckets))
        counts[k] += 1
    cumulative, running = [], 0
    for c in counts[:-1]:
        running += c
        cumulative.append(float(running))
    return Histogram(buckets, tuple(cumulative), float(n))
