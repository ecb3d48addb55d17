"""How much data a trend needs: five minutes, or the check's whole window when that is shorter.

Pure tests of the rule on synthetic samples; ``test_scenarios`` checks the same rule through a real Prometheus.
"""

from __future__ import annotations

import pytest

from controller.analysis.aggregate import MIN_TREND_SPAN, min_trend_span, summarize
from controller.analysis.source import Series

AT = 1_000_000.0
MIB = 2.0**20


def track(age: float, window: float, scrape: float, slope: float = MIB / 60, pod: str = "g-1") -> Series:
    """A pod ``age`` seconds old at ``AT`` as a range selector over ``window`` returns it: (AT - window, AT]."""
    start = max(AT - age, AT - window + 0.4 * scrape)  # Prometheus' scrape phase: never exactly on the edge
    points = []
    t = start
    while t <= AT:
        points.append((t, 100 * MIB + slope * (t - (AT - age))))
        t += scrape
    return Series({"pod": pod}, tuple(points))


@pytest.mark.parametrize(("window", "needed"), [(1800.0, 300.0), (300.0, 300.0), (120.0, 120.0), (90.0, 90.0)])
def test_minimum_span_is_five_minutes_or_the_whole_shorter_window(window: float, needed: float) -> None:
    assert min_trend_span(window) == needed
    assert MIN_TREND_SPAN == 300.0


@pytest.mark.parametrize(("window", "scrape"), [(120.0, 15.0), (90.0, 1.0), (60.0, 1.0), (1800.0, 30.0)])
def test_a_window_full_of_data_is_judged(window: float, scrape: float) -> None:
    """A range selector returns samples spanning about one scrape less than the window: that counts as full."""
    summary = summarize([track(age=window + 600, window=window, scrape=scrape)], "per-pod", window, True, at=AT)
    assert summary.slope is not None and summary.slope.value == pytest.approx(MIB / 60)


@pytest.mark.parametrize(("window", "age"), [(1800.0, 240.0), (1800.0, 290.0), (120.0, 90.0), (60.0, 45.0)])
def test_a_younger_series_than_the_minimum_span_has_no_trend(window: float, age: float) -> None:
    young = track(age=age, window=window, scrape=15.0 if window > 60 else 1.0)
    summary = summarize([young], "per-pod", window, True, at=AT)
    assert summary.level is not None and summary.slope is None


def test_thirty_minute_window_is_judged_from_five_minutes_of_data() -> None:
    summary = summarize([track(age=320.0, window=1800.0, scrape=15.0)], "per-pod", 1800.0, True, at=AT)
    assert summary.slope is not None and summary.slope.value == pytest.approx(MIB / 60)


def test_a_pod_that_died_mid_window_stays_out_of_the_trend() -> None:
    alive = track(age=600.0, window=120.0, scrape=1.0, slope=0.0, pod="g-1")
    dead = Series({"pod": "g-2"}, tuple((t, v + MIB * (t - AT + 120)) for t, v in alive.points if t < AT - 70))
    summary = summarize([alive, dead], "per-pod", 120.0, True, at=AT)
    assert summary.slope is not None and summary.slope.value == pytest.approx(0.0)


@pytest.mark.parametrize("window", [60.0, 300.0])
@pytest.mark.parametrize("newest_age", [1.2, 1.9])
def test_a_late_newest_scrape_still_covers_the_window(window: float, newest_age: float) -> None:
    """On a busy node the newest sample is often more than one scrape old: the window is still full.

    The CI run that found this: a 60 s memory window scraped every second lost its trend whenever the newest
    sample was over a second old, so a 30 MB/min leak stayed Inconclusive for half a minute past its bound.
    """
    scrape = 1.0 if window == 60.0 else 15.0
    full = track(age=window + 600, window=window, scrape=scrape)
    shift = AT - full.points[-1][0] - newest_age * scrape
    lagging = Series(full.labels, tuple((t + shift, v) for t, v in full.points))
    summary = summarize([lagging], "per-pod", window, True, at=AT)
    assert summary.slope is not None and summary.slope.value == pytest.approx(MIB / 60)


@pytest.mark.parametrize("gone", [2.5, 10.0])
def test_a_series_that_stopped_scrapes_ago_does_not_cover_the_window_end(gone: float) -> None:
    """The allowance is two scrapes, not more: a pod whose newest sample is older is not judged whole."""
    full = track(age=600.0, window=60.0, scrape=1.0)
    stopped = Series(full.labels, tuple(p for p in full.points if p[0] <= AT - gone))
    assert AT - stopped.points[-1][0] > 2.0
    summary = summarize([stopped], "per-pod", 60.0, True, at=AT)
    assert summary.level is not None and summary.slope is None
