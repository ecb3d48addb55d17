"""One evaluation of every check of a rollout: the API the operator, the demo and ``greenlane analyze`` call.

The caller supplies everything that varies (the source, the instant ``at``, each track's exact pod regex,
when green's warm-up ends, green's verified weight), so evaluations are reproducible and backtestable.
Outcomes are kept apart: an unavailable source is Inconclusive with ``outage`` (and stops querying for the
rest of this evaluation), a rejected query is a Fail naming the template, missing series are a Fail only
while green serves traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from controller.analysis.aggregate import min_trend_span
from controller.analysis.judge import combine, outcomes
from controller.analysis.measure import AmbiguousResult, Measurement, TrackRef, measure, served_requests
from controller.analysis.plan import Plan, plan_for
from controller.analysis.promql import default_pods_regex, dns_label, format_window, pods_regex
from controller.analysis.python_check import judge_python_version
from controller.analysis.source import MetricSource, QueryRejected, SourceUnavailable
from controller.core.results import FAIL, INCONCLUSIVE, CheckResult
from controller.model.spec import Check, RolloutSpec

MIN_LEVEL_SPAN = 60.0
"""Level checks need a minute of post-warm-up data (a few scrapes) to say anything."""


@dataclass(frozen=True)
class Context:
    source: MetricSource
    blue: TrackRef
    green: TrackRef
    green_expect: str | None
    at: float
    warmup_until: float | None
    green_weight: int | None


def tracks(
    spec: RolloutSpec, namespace: str, blue_pods: str | None = None, green_pods: str | None = None
) -> tuple[TrackRef, TrackRef]:
    """Validated track references; pod regexes default to each Deployment's exact pods."""
    refs = []
    namespace = dns_label(namespace, "namespace")
    for track, given in ((spec.blue, blue_pods), (spec.green, green_pods)):
        pods = pods_regex(given) if given is not None else default_pods_regex(track.deployment)
        refs.append(TrackRef(namespace, track.deployment, pods, track.container))
    return refs[0], refs[1]


def evaluate(
    spec: RolloutSpec,
    source: MetricSource,
    *,
    namespace: str,
    at: float,
    blue_pods: str | None = None,
    green_pods: str | None = None,
    warmup_until: float | None = None,
    green_weight: int | None = None,
) -> list[CheckResult]:
    """Evaluate every check at unix time ``at``.

    ``blue_pods``/``green_pods``: exact pod regexes (the operator passes ``<deployment>-<pod-template-hash>-
    [a-z0-9]{5}``); default ``<deployment>-[a-z0-9]{6,10}-[a-z0-9]{5}``. ``warmup_until``: unix time before
    which green's samples are excluded from every window (green ready time + ``spec.analysis.warmup``).
    ``green_weight``: green's verified share; None infers "serving" from green's request counters.
    Raises ``promql.UnsafeValue`` for a namespace or pod regex that cannot be put into PromQL.
    """
    blue, green = tracks(spec, namespace, blue_pods, green_pods)
    ctx = Context(source, blue, green, spec.green.expect_python, at, warmup_until, green_weight)
    results: list[CheckResult] = []
    outage: SourceUnavailable | None = None
    for check in spec.analysis.checks:
        if outage is None:
            try:
                results.append(evaluate_check(check, ctx))
                continue
            except SourceUnavailable as exc:
                outage = exc
            except Exception as exc:  # one broken check must not stop the others or the reconcile
                results.append(_broken(check, exc))
                continue
        results.append(_outage(check, outage))
    return results


def _broken(check: Check, exc: Exception) -> CheckResult:
    """An unexpected error inside one check (a NaN where a count was expected, a bug): Inconclusive, with why."""
    detail = " ".join(str(exc).split())[:200] or type(exc).__name__
    return CheckResult(
        check.name,
        INCONCLUSIVE,
        f"{check.name}: could not be evaluated ({type(exc).__name__}: {detail}); holding",
    )


def evaluate_check(check: Check, ctx: Context) -> CheckResult:
    """One check; raises SourceUnavailable so the caller can stop querying a dead source."""
    plan = plan_for(check)
    try:
        if check.template == "python-version":
            return judge_python_version(
                check,
                source=ctx.source,
                green=ctx.green,
                expected=ctx.green_expect,
                at=ctx.at,
                serving=lambda: _serving(ctx, plan.window),
            )
        return _evaluate_metric(plan, ctx)
    except QueryRejected as exc:
        what = f"the {check.template} template's query" if check.template else "the check's query"
        return CheckResult(
            check.name,
            FAIL,
            f"{check.name}: Prometheus rejected {what} ({exc}); fix {what}: {exc.query}",
            threshold="query must be valid",
        )
    except AmbiguousResult as exc:
        return CheckResult(check.name, FAIL, f"{check.name}: the check's query {exc}", threshold="one series")


def _evaluate_metric(plan: Plan, ctx: Context) -> CheckResult:
    name = plan.check.name
    span = plan.window if ctx.warmup_until is None else min(plan.window, ctx.at - ctx.warmup_until)
    # Trend checks need five minutes of post-warm-up data, or their whole window when it is shorter.
    needed = min_trend_span(plan.window) if plan.needs_slope else MIN_LEVEL_SPAN
    if span < needed:
        return CheckResult(
            name,
            INCONCLUSIVE,
            f"{name}: only {max(span, 0):.0f}s of green data after warm-up, need {needed:.0f}s; waiting",
        )
    green = measure(plan, ctx.source, ctx.green, ctx.at, span)
    if green.level is None:
        return _missing(plan, ctx, span)
    short = _too_few_requests(plan, "green", green, span)
    if short:
        return short
    blue = measure(plan, ctx.source, ctx.blue, ctx.at, span) if plan.needs_blue else None
    if blue is not None and blue.level is not None:
        short = _too_few_requests(plan, "blue", blue, span)
        if short:
            return short
    result = combine(name, outcomes(plan, green, blue), green.samples)
    blue_level, blue_slope = (None, None) if blue is None else (blue.level, blue.slope)
    return replace(
        result,
        unit=plan.unit.name,
        levels=(green.level, blue_level),
        slopes=(green.slope, blue_slope) if plan.needs_slope else None,
    )


def _too_few_requests(plan: Plan, track: str, m: Measurement, span: float) -> CheckResult | None:
    if not plan.traffic:
        return None
    served = m.requests if m.requests is not None and math.isfinite(m.requests) else 0.0
    if served >= max(plan.min_requests, 1):
        return None
    name = plan.check.name
    message = (
        f"{name}: {track} served {served:.0f} requests in {format_window(span)}, "
        f"fewer than minRequests {plan.min_requests}; too few to judge"
    )
    return CheckResult(name, INCONCLUSIVE, message, samples=round(served))


def _serving(ctx: Context, span: float) -> tuple[bool, str]:
    if ctx.green_weight is not None:
        return ctx.green_weight > 0, f"green has {ctx.green_weight}% of traffic"
    served = served_requests(ctx.source, ctx.green, ctx.at, span)
    return bool(served and served > 0), f"green served {served or 0:.0f} requests in {format_window(span)}"


def _missing(plan: Plan, ctx: Context, span: float) -> CheckResult:
    """No green series: the template does not fit the metrics if green serves traffic, else nothing to judge."""
    name = plan.check.name
    serving, evidence = _serving(ctx, span)
    what = f"the {plan.template.key} template" if plan.template else "the check's query"
    if serving:
        needs = f"; it reads {', '.join(plan.template.inputs)}" if plan.template else ""
        return CheckResult(
            name,
            FAIL,
            f"{name}: {what} found no series for green pods {ctx.green.pods!r} although "
            f"{evidence}; the template does not match your metrics{needs} (see `greenlane templates`)",
            threshold="series must exist",
        )
    return CheckResult(
        name,
        INCONCLUSIVE,
        f"{name}: {what} found no series for green and green has no traffic ({evidence}); nothing to judge yet",
    )


def _outage(check: Check, exc: SourceUnavailable) -> CheckResult:
    return CheckResult(
        check.name,
        INCONCLUSIVE,
        f"{check.name}: Prometheus unavailable ({exc}); holding, this says nothing about green",
        outage=True,
    )
