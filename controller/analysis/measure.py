"""Running a plan's queries for one track and reducing the answers to numbers.

Only this module turns a plan into PromQL strings for a track; everything substituted goes through
``promql`` so a track's names and regexes are validated before they reach a query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from controller.analysis.aggregate import summarize
from controller.analysis.plan import Plan
from controller.analysis.promql import dns_label, format_window, render, string_literal_body
from controller.analysis.slope import theil_sen
from controller.analysis.source import MetricSource, QueryRejected, Series
from controller.analysis.templates import TRAFFIC_PROBE

RANGE_POINTS = 120
MIN_STEP = 15.0
MIN_INNER_WINDOW = 60.0


@dataclass(frozen=True)
class TrackRef:
    """One track as queries see it: its namespace, Deployment, exact pod regex and (memory) container."""

    namespace: str
    deployment: str
    pods: str
    container: str | None = None


@dataclass(frozen=True)
class Measurement:
    level: float | None
    slope: float | None = None
    requests: float | None = None
    samples: int = 0


class AmbiguousResult(Exception):
    """A query meant to give one number per track returned several series."""


def variables(plan: Plan, track: TrackRef, window: float) -> dict[str, str]:
    return {
        "namespace": dns_label(track.namespace, "namespace"),
        "deployment": dns_label(track.deployment, "deployment"),
        "pods": string_literal_body(track.pods),
        "window": format_window(window),
        "quantile": repr(float(plan.quantile)),
        "container": dns_label(track.container, "container") if track.container else ".+",
    }


def _single(series: list[Series], query: str) -> float | None:
    if not series:
        return None
    if len(series) > 1:
        raise AmbiguousResult(f"returned {len(series)} series, expected one; aggregate it, e.g. sum(...): {query}")
    return series[0].value


def measure(plan: Plan, source: MetricSource, track: TrackRef, at: float, span: float) -> Measurement:
    """Level, slope (when a slope threshold is set), requests and sample count of one track over ``span``."""
    values = variables(plan, track, span)
    template = plan.template
    if template is not None and template.raw is not None:
        raw = source.instant(render(template.raw, values), at)
        summary = summarize(raw, template.aggregation, span, plan.needs_slope, at=at)
        return Measurement(summary.level, summary.slope, None, summary.samples)
    query = plan.level_query
    assert query is not None
    level = _single(source.instant(render(query, values), at), query)
    requests = None
    if template is not None and template.requests is not None:
        requests = _single(source.instant(render(template.requests, values), at), template.requests)
    slope = _range_slope(plan, source, track, at, span) if plan.needs_slope and level is not None else None
    samples = round(requests) if requests is not None and math.isfinite(requests) else int(level is not None)
    return Measurement(level, slope, requests, samples)


def _range_slope(plan: Plan, source: MetricSource, track: TrackRef, at: float, span: float) -> float | None:
    """Trend of an instant expression: evaluated every step over the span with a short inner window."""
    step = max(MIN_STEP, span / RANGE_POINTS)
    inner = max(MIN_INNER_WINDOW, 4 * step)
    if span <= inner:
        return None
    query = plan.level_query
    assert query is not None
    result = source.range(render(query, variables(plan, track, inner)), at - span + inner, at, step)
    if len(result) > 1:
        raise AmbiguousResult(f"returned {len(result)} series, expected one; aggregate it, e.g. sum(...): {query}")
    return theil_sen(result[0].points) if result else None


def served_requests(source: MetricSource, track: TrackRef, at: float, span: float) -> float | None:
    """Requests the track served in the window by the conventional counters; None when it has none at all."""
    values = {
        "namespace": dns_label(track.namespace, "namespace"),
        "pods": string_literal_body(track.pods),
        "window": format_window(span),
    }
    try:
        return _single(source.instant(render(TRAFFIC_PROBE, values), at), TRAFFIC_PROBE)
    except (QueryRejected, AmbiguousResult):
        return None
