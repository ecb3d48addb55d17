"""From raw per-series samples to one track value: the mean pod, or the track's total.

Per-pod for memory (a green track with 2 replicas is compared with a blue one with 10), total for
connections (what exhausts the database is the sum). Each series contributes its own window average and
its own robust slope; sums and means of those equal the level and (near enough) the trend of the
aggregate, without aligning jittered timestamps across series.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from controller.analysis.slope import span_of, theil_sen
from controller.analysis.source import Series
from controller.analysis.templates import Aggregation

MIN_SERIES_COVERAGE = 0.5
"""A series must cover half of the track's observed span to enter the trend (a pod restarted mid-window
does not); young tracks (green started 12 minutes ago) are judged over what they have."""
MIN_TREND_SPAN = 300.0
"""Five minutes at least: shorter spans mistake the GC sawtooth for a trend."""


@dataclass(frozen=True)
class Summary:
    level: float | None
    slope: float | None
    samples: int
    series: int


def _finite(series: Series) -> list[tuple[float, float]]:
    return [(t, v) for t, v in series.points if math.isfinite(v)]


def summarize(series: Sequence[Series], aggregation: Aggregation, window: float, slope: bool) -> Summary:
    """Level (window average) and slope of a track from raw samples; None where there is nothing to judge."""
    by_pod: dict[str, list[list[tuple[float, float]]]] = defaultdict(list)
    for s in series:
        points = _finite(s)
        if points:
            key = s.labels.get("pod", "") if aggregation == "per-pod" else str(sorted(s.labels.items()))
            by_pod[key].append(points)
    samples = sum(len(p) for group in by_pod.values() for p in group)
    if not by_pod:
        return Summary(None, None, 0, len(series))
    pod_levels = [sum(statistics.fmean(v for _, v in p) for p in group) for group in by_pod.values()]
    level = statistics.fmean(pod_levels) if aggregation == "per-pod" else sum(pod_levels)
    trend = _trend(list(by_pod.values()), aggregation, window) if slope else None
    return Summary(level, trend, samples, len(series))


def _trend(groups: list[list[list[tuple[float, float]]]], aggregation: Aggregation, window: float) -> float | None:
    first = min(p[0][0] for group in groups for p in group)
    last = max(p[-1][0] for group in groups for p in group)
    needed = max(MIN_TREND_SPAN, min(window, last - first) * MIN_SERIES_COVERAGE)
    slopes: list[float] = []
    for group in groups:
        usable = [p for p in group if span_of(p) >= needed]
        fitted = [theil_sen(p) for p in usable]
        known = [s for s in fitted if s is not None]
        if known:
            slopes.append(sum(known))
    if not slopes:
        return None
    return statistics.fmean(slopes) if aggregation == "per-pod" else sum(slopes)
