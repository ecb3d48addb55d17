"""Confidence intervals for the report's headline figures: small, exact formulas, no statistics package.

Each estimator returns an :class:`Estimate` (point, interval, sample count). The intervals are the
textbook ones for the data the report has, and say what they assume:

* quantiles from a histogram: the distribution-free rank interval of an order statistic (binomial ranks
  ``nq ± z·sqrt(nq(1-q))``), mapped through the histogram's linear interpolation, as
  ``histogram_quantile`` does; the bucket width bounds the resolution;
* a share (error rate): Wilson's score interval, sound at 0 errors and small counts;
* the mean of a time series (memory, connections, CPU, throughput): batch means, a t interval over the
  means of contiguous batches, which tolerates the autocorrelation of scraped gauges;
* a trend: Theil-Sen's median slope with Sen's rank interval (Kendall's S variance);
* a relative change: green over blue from the two intervals' far ends, a conservative interval.

Kept apart from ``controller.analysis`` (which judges the rollout, at budgeted one-sided tails) on purpose:
the report only describes, at 95%; the formulas both need (Wilson's score interval) are analysis's.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from controller.analysis.stats import wilson as score_interval

Z95 = statistics.NormalDist().inv_cdf(0.975)
"""Two-sided 95%: every interval in the report is a 95% interval."""
MIN_BATCHES = 5
MAX_BATCHES = 20
MIN_BATCH_SIZE = 3
MIN_TREND_POINTS = 6
MAX_TREND_POINTS = 300
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
_T95.update({11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093})
_T95.update({20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980})


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% interval (None when the data cannot give one) and its sample count."""

    value: float | None
    low: float | None = None
    high: float | None = None
    samples: int = 0

    @property
    def known(self) -> bool:
        return self.value is not None

    def to_json(self) -> dict[str, float | int | None]:
        return {"value": self.value, "low": self.low, "high": self.high, "samples": self.samples}


NOTHING = Estimate(None)


def t95(df: int) -> float:
    """Student's t quantile for a two-sided 95% interval (table, interpolated in 1/df; z beyond 120)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df in _T95:
        return _T95[df]
    if df > 120:
        return Z95 + (_T95[120] - Z95) * 120 / df
    keys = sorted(_T95)
    hi = keys[bisect.bisect_left(keys, df)]
    lo = keys[bisect.bisect_left(keys, df) - 1]
    frac = (1 / df - 1 / lo) / (1 / hi - 1 / lo)
    return _T95[lo] + (_T95[hi] - _T95[lo]) * frac


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def wilson(successes: float, trials: float) -> Estimate:
    """Share ``successes / trials`` with Wilson's score interval; counts may be fractional (``increase()``)."""
    if not (math.isfinite(successes) and math.isfinite(trials)) or trials <= 0 or successes < 0:
        return Estimate(None, samples=max(0, round(trials)) if math.isfinite(trials) else 0)
    k, n = min(successes, trials), trials
    low, high = score_interval(k, n, Z95)
    return Estimate(k / n, low, high, round(n))


def batch_means(values: Sequence[float]) -> Estimate:
    """Mean of an evenly sampled series with a batch-means t interval (None below 15 finite points)."""
    xs = _finite(values)
    if not xs:
        return NOTHING
    mean = statistics.fmean(xs)
    batches = min(MAX_BATCHES, len(xs) // MIN_BATCH_SIZE)
    if batches < MIN_BATCHES:
        return Estimate(mean, samples=len(xs))
    size = len(xs) // batches
    means = [statistics.fmean(xs[i * size : (i + 1) * size]) for i in range(batches)]
    half = t95(batches - 1) * statistics.stdev(means) / math.sqrt(batches)
    return Estimate(mean, mean - half, mean + half, len(xs))


def _interpolate(buckets: Sequence[tuple[float, float]], rank: float) -> float:
    """The value at ``rank`` (0..n) of cumulative ``(upper bound, count)`` buckets, as histogram_quantile does."""
    finite = [b for b in buckets if math.isfinite(b[0])]
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank and count > previous_count:
            if not math.isfinite(bound):
                return finite[-1][0] if finite else math.nan
            if bound <= 0:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / (count - previous_count)
        previous_bound, previous_count = bound, count
    return finite[-1][0] if finite else math.nan


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> Estimate:
    """Quantile ``q`` of a cumulative histogram (``le`` bound, count) with its rank interval.

    Counts may be fractional (``increase()`` extrapolates); non-monotonic counts (a reset inside the
    window) are clipped to the running maximum, as Prometheus does.
    """
    if not 0 < q < 1:
        raise ValueError(f"quantile must be in (0, 1), got {q}")
    clean = sorted((b, c) for b, c in buckets if not math.isnan(b) and math.isfinite(c))
    if len(clean) < 2 or not math.isinf(clean[-1][0]):  # a finite bucket and +Inf at least
        return NOTHING
    running, monotonic = 0.0, []
    for bound, count in clean:
        running = max(running, count)
        monotonic.append((bound, running))
    n = monotonic[-1][1]
    if n <= 0:
        return NOTHING
    half = Z95 * math.sqrt(n * q * (1 - q))
    rank = n * q
    low, high = max(0.0, rank - half), min(n, rank + half)
    return Estimate(
        _interpolate(monotonic, rank), _interpolate(monotonic, low), _interpolate(monotonic, high), round(n)
    )


def _thin(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    pts = sorted((t, v) for t, v in points if math.isfinite(t) and math.isfinite(v))
    if len(pts) > MAX_TREND_POINTS:  # keep O(n²) bounded: thin evenly, keeping both ends
        step = (len(pts) - 1) / (MAX_TREND_POINTS - 1)
        pts = [pts[round(i * step)] for i in range(MAX_TREND_POINTS)]
    return pts


def theil_sen(points: Sequence[tuple[float, float]]) -> Estimate:
    """Median pairwise slope (units per second) with Sen's 95% rank interval; None below six points.

    The interval assumes independent residuals; a GC sawtooth sampled every few seconds is not, so read it
    as a lower bound on the uncertainty. ``samples`` counts the points fitted.
    """
    pts = _thin(points)
    n = len(pts)
    if n < MIN_TREND_POINTS or pts[-1][0] <= pts[0][0]:
        return Estimate(None, samples=n)
    slopes = sorted((vj - vi) / (tj - ti) for i, (ti, vi) in enumerate(pts) for tj, vj in pts[i + 1 :] if tj > ti)
    pairs = len(slopes)
    spread = Z95 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    lower = max(0, math.floor((pairs - spread) / 2) - 1)
    upper = min(pairs - 1, math.ceil((pairs + spread) / 2))
    return Estimate(statistics.median(slopes), slopes[lower], slopes[upper], n)


def change_percent(green: Estimate, blue: Estimate) -> Estimate:
    """Green relative to blue in percent, ``100 (g/b - 1)``; the interval pairs the intervals' far ends.

    Conservative (wider than a joint interval would be) and honest where a ratio is undefined: no value
    when blue is 0 or unknown, no interval when blue's interval reaches 0.
    """
    if green.value is None or blue.value is None or blue.value <= 0 or green.value < 0:
        return NOTHING
    value = 100 * (green.value / blue.value - 1)
    samples = min(green.samples, blue.samples)
    if None in (green.low, green.high, blue.low, blue.high) or (blue.low or 0) <= 0:
        return Estimate(value, samples=samples)
    assert green.low is not None and green.high is not None and blue.low is not None and blue.high is not None
    return Estimate(value, 100 * (green.low / blue.high - 1), 100 * (green.high / blue.low - 1), samples)


def difference(green: Estimate, blue: Estimate) -> Estimate:
    """Green minus blue (for trends, where a percentage of a near-zero slope means nothing)."""
    if green.value is None or blue.value is None:
        return NOTHING
    value = green.value - blue.value
    samples = min(green.samples, blue.samples)
    if None in (green.low, green.high, blue.low, blue.high):
        return Estimate(value, samples=samples)
    assert green.low is not None and green.high is not None and blue.low is not None and blue.high is not None
    return Estimate(value, green.low - blue.high, green.high - blue.low, samples)
