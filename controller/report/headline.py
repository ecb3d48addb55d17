"""The headline table: green (3.12) against blue (3.11) over the same window, each figure with its interval.

Everything is measured over the comparison window (green's first traffic to the report's end), for both
tracks alike. A figure whose series do not exist (no cAdvisor, no postgres_exporter) is left out with a
note saying which series it looked for, rather than shown as zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from controller.analysis.source import MetricSource, QueryRejected, Series
from controller.model.spec import RolloutSpec
from controller.report import queries as q
from controller.report.model import Better, ChangeKind, HeadlineRow, Point, RolloutRun, Track
from controller.report.stats import (
    NOTHING,
    Estimate,
    batch_means,
    change_percent,
    difference,
    histogram_quantile,
    theil_sen,
    wilson,
)

QUANTILES = (0.5, 0.9, 0.99)
TRACKS: tuple[Track, Track] = ("green", "blue")


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def step(self) -> float:
        return q.range_step(self.start, self.end)


@dataclass
class Collector:
    """Runs the headline's queries for both tracks and collects notes about what was missing."""

    source: MetricSource
    tracks: dict[Track, q.TrackQuery]
    window: Window
    notes: list[str]

    def instant(self, track: Track, query: str) -> list[Series]:
        rendered = self.tracks[track].render(query, self.window.seconds)
        try:
            return self.source.instant(rendered, self.window.end)
        except QueryRejected as exc:
            self.notes.append(f"Prometheus rejected {rendered}: {exc}")
            return []

    def series(self, track: Track, alternatives: Sequence[str]) -> tuple[Point, ...]:
        """The first alternative that returns data, as one aggregated series over the window."""
        step = self.window.step
        for query in alternatives:
            rendered = self.tracks[track].render(query, self.window.seconds, q.rate_window(step))
            try:
                result = self.source.range(rendered, self.window.start, self.window.end, step)
            except QueryRejected as exc:
                self.notes.append(f"Prometheus rejected {rendered}: {exc}")
                continue
            points = tuple(p for s in result[:1] for p in s.points if math.isfinite(p[1]))
            if points:
                return points
        return ()


def _scalar(series: list[Series]) -> float | None:
    return series[0].value if series and math.isfinite(series[0].value) else None


def _buckets(series: list[Series]) -> list[tuple[float, float]]:
    out = []
    for s in series:
        try:
            out.append((float(s.labels.get("le", "nan")), s.value))
        except ValueError:
            continue
    return out


def _row(
    key: str,
    label: str,
    unit: str,
    g: Estimate,
    b: Estimate,
    *,
    change_kind: ChangeKind = "percent",
    note: str = "",
    better: Better = "lower",
) -> HeadlineRow:
    change = difference(g, b) if change_kind == "difference" else change_percent(g, b)
    return HeadlineRow(key, label, unit, g, b, change, change_kind, note, better)


def latency_rows(c: Collector) -> list[HeadlineRow]:
    buckets = {t: _buckets(c.instant(t, q.BUCKETS)) for t in TRACKS}
    if not any(buckets.values()):
        c.notes.append("latency: no http_request_duration_seconds_bucket series for either track")
        return []
    rows = []
    for quantile in QUANTILES:
        est = {t: histogram_quantile(quantile, buckets[t]) if buckets[t] else NOTHING for t in TRACKS}
        label = f"latency p{quantile * 100:g}"
        rows.append(_row(f"latency_p{quantile * 100:g}", label, "seconds", est["green"], est["blue"]))
    return rows


def traffic_rows(c: Collector) -> list[HeadlineRow]:
    requests = {t: _scalar(c.instant(t, q.REQUESTS)) for t in TRACKS}
    errors = {t: _scalar(c.instant(t, q.ERRORS)) or 0.0 for t in TRACKS}
    rate = {t: batch_means([v for _, v in c.series(t, q.THROUGHPUT)]) for t in TRACKS}
    if requests["green"] is None and requests["blue"] is None:
        c.notes.append("error rate and throughput: no http_requests_total series for either track")
        return []
    err = {t: wilson(errors[t], n) if (n := requests[t]) else NOTHING for t in TRACKS}
    return [
        _row(
            "throughput_per_pod",
            "throughput per pod",
            "rps",
            rate["green"],
            rate["blue"],
            better="neither",
            note="follows green's weight: compare capacity, not the share",
        ),
        _row("error_rate", "error rate", "ratio", err["green"], err["blue"], change_kind="difference"),
    ]


def gauge_rows(c: Collector, key: str, label: str, unit: str, alternatives: Sequence[str]) -> list[HeadlineRow]:
    """Level (window mean) and trend (Theil-Sen) of a gauge, for both tracks."""
    points = {t: c.series(t, alternatives) for t in TRACKS}
    if not any(points.values()):
        c.notes.append(f"{label}: none of these series exist for either track: {'; '.join(alternatives)}")
        return []
    level = {t: batch_means([v for _, v in points[t]]) for t in TRACKS}
    trend = {t: theil_sen(points[t]) for t in TRACKS}
    return [
        _row(key, label, unit, level["green"], level["blue"]),
        _row(
            f"{key}_trend",
            f"{label} trend",
            f"{unit}/s",
            trend["green"],
            trend["blue"],
            change_kind="difference",
            note="green minus blue; a leak is a positive difference",
        ),
    ]


def _with_note(rows: list[HeadlineRow], note: str) -> list[HeadlineRow]:
    return [replace(r, note=note) for r in rows]


def _source_of(spec: RolloutSpec, template: str, default: tuple[str, ...]) -> tuple[str, ...]:
    chosen = next((c.source for c in spec.analysis.checks if c.template == template and c.source), None)
    return (chosen, *[s for s in default if s != chosen]) if chosen else default


def headline_rows(
    source: MetricSource, run: RolloutRun, tracks: dict[Track, q.TrackQuery]
) -> tuple[list[HeadlineRow], list[str]]:
    c = Collector(source, tracks, Window(run.judged_from, run.end), [])
    memory = [q.MEMORY[s] for s in _source_of(run.spec, "memory", ("container", "process"))]
    connections = [q.CONNECTIONS[s] for s in _source_of(run.spec, "db-connections", ("server", "pool"))]
    sections: list[Callable[[], list[HeadlineRow]]] = [
        lambda: latency_rows(c),
        lambda: traffic_rows(c),
        lambda: gauge_rows(c, "memory", "memory", "bytes", memory),
        lambda: gauge_rows(c, "db_connections", "DB connections", "count", connections),
        lambda: _with_note(gauge_rows(c, "cpu", "CPU", "cores", q.CPU)[:1], "per pod; follows each pod's traffic"),
    ]
    rows = [row for section in sections for row in section()]
    return rows, c.notes
