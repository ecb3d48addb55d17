"""A trend estimator that sees through GC sawtooth and scrape jitter: Theil-Sen over well-separated pairs.

Why not least squares or PromQL ``deriv()``: a garbage-collected heap climbs for a while and drops
sharply; least squares lets every drop and every outlier pull the line, so the estimate swings with the
phase of the sawtooth at the window's edges. Theil-Sen takes the median of pairwise slopes and ignores
up to ~29% wild points. Pairs closer than a quarter of the span are skipped: over such short lags the
slope measures the sawtooth's climb (hundreds of MiB/h), not the trend, and would bias the median
upwards. Raw sample timestamps are used, so jittered scrapes are weighted by their true spacing.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

Point = tuple[float, float]
MIN_POINTS = 6
MAX_POINTS = 360
MIN_LAG_FRACTION = 0.25


def _clean(points: Iterable[Point]) -> list[Point]:
    pts = sorted((t, v) for t, v in points if math.isfinite(t) and math.isfinite(v))
    if len(pts) > MAX_POINTS:  # keep O(n²) bounded: thin evenly, keeping both ends
        step = (len(pts) - 1) / (MAX_POINTS - 1)
        pts = [pts[round(i * step)] for i in range(MAX_POINTS)]
    return pts


def theil_sen(points: Iterable[Point], min_lag_fraction: float = MIN_LAG_FRACTION) -> float | None:
    """Median slope (units per second) over pairs at least ``min_lag_fraction`` of the span apart.

    None when there are fewer than ``MIN_POINTS`` finite points or no time span: too little to call a trend.
    """
    pts = _clean(points)
    if len(pts) < MIN_POINTS:
        return None
    span = pts[-1][0] - pts[0][0]
    if span <= 0:
        return None
    min_lag = span * min_lag_fraction
    slopes = [
        (vj - vi) / (tj - ti)
        for i, (ti, vi) in enumerate(pts)
        for tj, vj in pts[i + 1 :]
        if tj - ti >= min_lag and tj > ti
    ]
    return statistics.median(slopes) if slopes else None


def span_of(points: Sequence[Point]) -> float:
    return points[-1][0] - points[0][0] if len(points) > 1 else 0.0
