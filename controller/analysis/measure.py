"""Running a plan's queries for one track and reducing the answers to evidence: counts, not point values.

Only this module turns a plan into PromQL strings for a track; everything substituted goes through
``promql`` so a track's names and regexes are validated before they reach a query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from controller.analysis.aggregate import summarize
from controller.analysis.estimate import Estimate, NoiseModel, fit, learn_noise
from controller.analysis.noise_cache import Learned, NoiseCache
from controller.analysis.plan import Plan
from controller.analysis.promql import dns_label, format_window, render, string_literal_body
from controller.analysis.quantile import Histogram, HistogramError, histogram
from controller.analysis.source import MetricSource, QueryRejected, Series
from controller.analysis.templates import TRAFFIC_PROBE

RANGE_POINTS = 120
MIN_STEP = 15.0
MIN_INNER_WINDOW = 60.0
NOISE_HISTORY = 7200.0
"""How much of blue's past a gauge's noise model is learned from."""


@dataclass(frozen=True)
class TrackRef:
    """One track as queries see it: its namespace, Deployment, exact pod regex and (memory) container."""

    namespace: str
    deployment: str
    pods: str
    container: str | None = None


@dataclass(frozen=True)
class Measurement:
    """One track's evidence over a window: a latency histogram, error and request counts, or a gauge's
    level and trend with their errors. ``samples`` is requests for traffic checks and points for gauges."""

    level: Estimate | None = None
    slope: Estimate | None = None
    requests: float | None = None
    errors: float | None = None
    histogram: Histogram | None = None
    samples: int = 0

    @property
    def found(self) -> bool:
        return self.level is not None or self.histogram is not None or self.requests is not None


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


def _count(value: float | None) -> float | None:
    """A request count from ``increase()``: NaN, infinities and negatives mean nothing was counted."""
    if value is None:
        return None
    return value if math.isfinite(value) and value > 0 else 0.0


def measure_queries(plan: Plan, track: TrackRef, span: float) -> list[str]:
    """The instant queries :func:`measure` asks for the track over ``span`` seconds, in the order it asks them.

    One definition for the measurement and for the operator's forecast of its next evaluation
    (``evaluate.expected_queries``), so the batch is told exactly the queries that will come.
    """
    values = variables(plan, track, span)
    template = plan.template
    if template is not None and template.raw is not None:
        return [render(template.raw, values)]
    if template is not None and template.buckets is not None:
        return [render(template.buckets, values)]
    if template is not None and template.errors is not None and template.requests is not None:
        return [render(template.requests, values), render(template.errors, values)]
    query = plan.level_query
    assert query is not None
    return [render(query, values)]


def measure(
    plan: Plan, source: MetricSource, track: TrackRef, at: float, span: float, noise: NoiseModel | None = None
) -> Measurement:
    """The track's evidence over ``span`` seconds ending at ``at``."""
    queries = measure_queries(plan, track, span)
    template = plan.template
    if template is not None and template.raw is not None:
        raw = source.instant(queries[0], at)
        summary = summarize(raw, template.aggregation, span, plan.needs_slope, at=at, noise=noise)
        return Measurement(summary.level, summary.slope, samples=summary.samples)
    if template is not None and template.buckets is not None:
        return _histogram(source.instant(queries[0], at), template.buckets)
    if template is not None and template.errors is not None and template.requests is not None:
        requests = _count(_single(source.instant(queries[0], at), template.requests))
        if requests is None:
            return Measurement()
        errors = _count(_single(source.instant(queries[1], at), template.errors)) or 0.0
        return Measurement(requests=requests, errors=min(errors, requests), samples=round(requests))
    query = plan.level_query
    assert query is not None
    level = _single(source.instant(queries[0], at), query)
    if level is None:
        return Measurement()
    slope = _range_slope(plan, source, track, at, span) if plan.needs_slope else None
    return Measurement(Estimate(level, 0.0), slope, samples=1)


def _histogram(series: list[Series], query: str) -> Measurement:
    try:
        h = histogram(series)
    except HistogramError as exc:
        raise AmbiguousResult(f"is not a histogram ({exc}): {query}") from None
    if h is None:
        return Measurement()
    return Measurement(requests=h.total, histogram=h, samples=h.requests)


def noise_model(
    plan: Plan, source: MetricSource, track: TrackRef, at: float, cache: NoiseCache | None = None
) -> NoiseModel | None:
    """An AR(1) noise model of a gauge from the track's last two hours (blue's: healthy by definition).

    With a ``cache`` (the operator's), a model learned a little earlier from nearly the same history is
    reused instead of fetching two hours of samples again (see :mod:`controller.analysis.noise_cache`).
    """
    query = noise_query(plan, track)
    if query is None:
        return None
    if cache is not None and (learned := cache.get(query, at)) is not None:
        return learned.model
    raw = source.instant(query, at)
    model = learn_noise([s.points for s in raw])
    if cache is not None:
        oldest = min((t for s in raw for t, _ in s.points if math.isfinite(t)), default=at)
        cache.put(query, Learned(at, min(max(at - oldest, 0.0), NOISE_HISTORY), model))
    return model


def noise_query(plan: Plan, track: TrackRef) -> str | None:
    """The query of the track's noise history (``NOISE_HISTORY``); None for templates without raw samples."""
    template = plan.template
    if template is None or template.raw is None:
        return None
    return render(template.raw, variables(plan, track, NOISE_HISTORY))


def _range_slope(plan: Plan, source: MetricSource, track: TrackRef, at: float, span: float) -> Estimate | None:
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
    return fit(result[0].points, slope=True)[1] if result else None


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
