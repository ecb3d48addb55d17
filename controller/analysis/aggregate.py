"""From raw per-series samples to one track value: the mean pod, or the track's total.

Per-pod for memory (a green track with 2 replicas is compared with a blue one with 10), total for
connections (what exhausts the database is the sum). Each series contributes its own window average and
its own robust slope; sums and means of those equal the level and (near enough) the trend of the
aggregate, without aligning jittered timestamps across series.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from controller.analysis.estimate import Estimate, NoiseModel, fit, mean, total
from controller.analysis.slope import span_of
from controller.analysis.source import Series
from controller.analysis.templates import Aggregation

MIN_SERIES_COVERAGE = 0.5
"""A series must cover half of the track's observed span to enter the trend (a pod restarted mid-window
does not); young tracks (green started 12 minutes ago) are judged over what they have."""
LATE_SCRAPES = 2
"""A series reaches the judged window's end when its newest sample is at most this many of its scrape intervals
old: one for Prometheus' scrape phase, one for a scrape that ran late, failed or is not ingested yet. On a busy
node the newest sample is often more than one interval old; allowing one only, a window no longer than five
minutes (which must be covered whole) lost its trend to that jitter, and a leak stayed unjudged for evaluation
after evaluation. The window's start needs no such allowance: its first sample is old and settled."""
MIN_TREND_SPAN = 300.0
"""Five minutes at least for the usual half-hour windows: shorter spans mistake the GC sawtooth for a trend."""


def min_trend_span(window: float) -> float:
    """The least span of data a trend is judged over: five minutes, or the check's whole window if shorter.

    The author who sets a 90 s window (a sandbox scraping every second) asks for that window's trend; a
    default 30-minute window still waits for five minutes of data.
    """
    return min(MIN_TREND_SPAN, window)


@dataclass(frozen=True)
class Summary:
    level: Estimate | None
    slope: Estimate | None
    samples: int
    series: int


def _finite(series: Series) -> list[tuple[float, float]]:
    return [(t, v) for t, v in series.points if math.isfinite(v)]


def summarize(
    series: Sequence[Series],
    aggregation: Aggregation,
    window: float,
    slope: bool,
    *,
    at: float | None = None,
    noise: NoiseModel | None = None,
) -> Summary:
    """Level (window average) and slope of a track from raw samples; None where there is nothing to judge.

    ``window`` is the span judged, ending at ``at`` (default: the last sample); ``noise`` (blue's history)
    keeps the errors of short windows honest.
    """
    by_pod: dict[str, list[list[tuple[float, float]]]] = defaultdict(list)
    for s in series:
        points = _finite(s)
        if points:
            key = s.labels.get("pod", "") if aggregation == "per-pod" else str(sorted(s.labels.items()))
            by_pod[key].append(points)
    samples = sum(len(p) for group in by_pod.values() for p in group)
    if not by_pod:
        return Summary(None, None, 0, len(series))
    pod_levels = [total([_level(p, noise) for p in group]) for group in by_pod.values()]
    level = mean(pod_levels) if aggregation == "per-pod" else total(pod_levels)
    trend = _trend(list(by_pod.values()), aggregation, window, at, noise) if slope else None
    return Summary(level, trend, samples, len(series))


def _level(points: list[tuple[float, float]], noise: NoiseModel | None) -> Estimate:
    level, _ = fit(points, slope=False, noise=noise)
    assert level is not None  # points are finite and non-empty
    return level


def _covered(points: list[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of the window ``[start, end]`` a series covers.

    A series whose first sample lies within one of its scrape intervals of the window's start covers the
    window from the start: a range selector over a window of W seconds scraped every s seconds returns
    samples spanning only W - s or so, and a full window must count as full. Its newest sample may be
    ``LATE_SCRAPES`` intervals old and still cover the window to its end. A pod that started (or died)
    inside the window covers only the time between its samples.
    """
    if len(points) < 2:
        return 0.0
    spacing = statistics.median(b[0] - a[0] for a, b in itertools.pairwise(points))
    lo = start if points[0][0] - start <= spacing else points[0][0]
    hi = end if end - points[-1][0] <= LATE_SCRAPES * spacing else points[-1][0]
    return max(hi - lo, span_of(points))


def _trend(
    groups: list[list[list[tuple[float, float]]]],
    aggregation: Aggregation,
    window: float,
    at: float | None,
    noise: NoiseModel | None,
) -> Estimate | None:
    first = min(p[0][0] for group in groups for p in group)
    last = max(p[-1][0] for group in groups for p in group)
    end = last if at is None else at
    needed = max(min_trend_span(window), min(window, last - first) * MIN_SERIES_COVERAGE)
    slopes: list[Estimate] = []
    for group in groups:
        usable = [p for p in group if _covered(p, end - window, end) >= needed]
        fitted = [fit(p, slope=True, noise=noise)[1] for p in usable]
        known = [s for s in fitted if s is not None]
        if known:
            slopes.append(total(known))
    if not slopes:
        return None
    return mean(slopes) if aggregation == "per-pod" else total(slopes)
