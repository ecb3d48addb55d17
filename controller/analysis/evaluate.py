"""One evaluation of every check of a rollout: the API the operator, the demo, ``greenlane analyze`` and the
judgement bench call, so all four judge alike.

``evaluate_rollout(spec, status, source, ...)`` derives everything that depends on the rollout's state from
its status (:func:`controller.core.judging.judging_for`): where a step's evidence starts, green's warm-up,
green's weight, the share of the false-rollback budget this evaluation may spend, blue's stored baseline.
``evaluate`` takes that context explicitly (``judging``) for callers without a status.

Outcomes are kept apart: an unavailable source is Inconclusive with ``outage`` (and stops querying for the
rest of this evaluation), a rejected query is a Fail naming the template, missing series are a Fail only
while green serves traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

from controller.analysis.aggregate import min_trend_span
from controller.analysis.estimate import NoiseModel
from controller.analysis.judge import Alphas, outcomes
from controller.analysis.measure import (
    AmbiguousResult,
    Measurement,
    TrackRef,
    measure,
    measure_queries,
    noise_model,
    noise_query,
    served_requests,
)
from controller.analysis.noise_cache import NoiseCache
from controller.analysis.plan import Plan, plan_for
from controller.analysis.promql import default_pods_regex, dns_label, format_window, pods_regex
from controller.analysis.python_check import judge_python_version
from controller.analysis.report import Evidence, candidate, combine, describe, from_baseline
from controller.analysis.source import MetricSource, QueryRejected, SourceUnavailable
from controller.analysis.spans import shared_span
from controller.analysis.versions import version_query
from controller.core.judging import PASS_CONFIDENCE, Judging, fail_alpha, judging_for
from controller.core.results import FAIL, INCONCLUSIVE, CheckResult
from controller.model.spec import Check, RolloutSpec
from controller.model.status import RolloutStatus

MIN_LEVEL_SPAN = 60.0
"""Level checks need a minute of data (two scrapes at the common 30 s interval) to say anything, or a quarter
of their window when that is shorter (a sandbox scraping every second judges a 60 s window after 15 s)."""
MISSING_AFTER = 300.0
"""A traffic check's series may be absent from a young step's window (``increase()`` needs two samples, and
with scrape jitter a minute sometimes holds one); only after this long without any is it the template
that does not match."""
STEP_EVIDENCE_MAX = 4 * 3600.0
"""A step's traffic evidence reaches back at most this far."""


def min_level_span(window: float) -> float:
    return min(MIN_LEVEL_SPAN, window / 4)


def _shared_start(at: float, start: float, window: float, needed: float) -> float:
    """``start`` moved forward onto a shared span, unless it is the check's own window (shared already) or
    sharing would leave less than the check ``needed``."""
    span = at - start
    if span == window or not math.isfinite(span) or span < needed:
        return start
    return at - max(shared_span(span), needed)


@dataclass(frozen=True)
class Context:
    spec: RolloutSpec
    source: MetricSource
    blue: TrackRef
    green: TrackRef
    at: float
    judging: Judging
    noise_cache: NoiseCache | None = None


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


def evaluate_rollout(
    spec: RolloutSpec,
    status: RolloutStatus,
    source: MetricSource,
    *,
    namespace: str,
    now: datetime,
    blue_pods: str | None = None,
    green_pods: str | None = None,
    noise_cache: NoiseCache | None = None,
) -> list[CheckResult]:
    """Evaluate every check at ``now`` as the rollout in ``status`` is judged (the one judging path)."""
    return evaluate(
        spec,
        source,
        namespace=namespace,
        at=now.timestamp(),
        blue_pods=blue_pods,
        green_pods=green_pods,
        judging=judging_for(spec, status, now),
        noise_cache=noise_cache,
    )


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
    judging: Judging | None = None,
    noise_cache: NoiseCache | None = None,
) -> list[CheckResult]:
    """Evaluate every check at unix time ``at``.

    ``blue_pods``/``green_pods``: exact pod regexes (the operator passes ``<deployment>-<pod-template-hash>-
    [a-z0-9]{5}``); default ``<deployment>-[a-z0-9]{6,10}-[a-z0-9]{5}``. Without ``judging`` (no rollout
    status), ``warmup_until`` excludes green's earlier samples, ``green_weight`` says whether green serves
    (None: inferred from its request counters), and the evaluation spends the budget of a rollout's first.
    ``noise_cache`` (a long-lived caller's, shared across evaluations) saves learning blue's noise again.
    Raises ``promql.UnsafeValue`` for a namespace or pod regex that cannot be put into PromQL.
    """
    blue, green = tracks(spec, namespace, blue_pods, green_pods)
    if judging is None:
        judging = Judging(warmup_until=warmup_until, green_weight=green_weight)
    ctx = Context(spec, source, blue, green, at, judging, noise_cache)
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


def expected_queries(
    spec: RolloutSpec,
    status: RolloutStatus,
    *,
    namespace: str,
    now: datetime,
    blue_pods: str | None = None,
    green_pods: str | None = None,
    noise_cache: NoiseCache | None = None,
) -> list[str]:
    """The instant queries :func:`evaluate_rollout` will ask at ``now`` if Prometheus answers as it usually
    does (green's series found, with enough requests), each once.

    Why: the operator batches a round's queries (``analysis/batch.py``) and can only put a track into the
    round's one query per template if it knows the track will ask. A track asking a window for the first
    time (a new step, gauge evidence that just became sufficient, a step older than a check's window, a
    noise history due again) used to cost a query of its own; told this forecast one evaluation ahead, the
    batch asks for it with the others. Built from the same functions as the evaluation (the windows, the
    queries of a measurement, the noise cache's reuse rule), so the two cannot drift apart; a forecast
    that is wrong costs only a query, never a verdict. Custom queries are left out: they are sent as they are.
    """
    blue, green = tracks(spec, namespace, blue_pods, green_pods)
    judging = judging_for(spec, status, now)
    at = now.timestamp()
    out: list[str] = []
    for check in spec.analysis.checks:
        if check.template is None:
            continue
        if check.template == "python-version":
            out.append(version_query(green.namespace, green.pods))
            continue
        plan = plan_for(check)
        if at - _data_starts(plan, judging, at)[0] < _needed(plan):
            continue  # too little data yet: the check asks nothing
        noise = noise_query(plan, blue)
        if noise is not None and (noise_cache is None or not noise_cache.fresh(noise, at)):
            out.append(noise)
        stored = judging.blue_idle and check.name in judging.baselines
        for start in evidence_starts(plan, judging, at):
            out += measure_queries(plan, green, at - start)
            if not stored:
                out += measure_queries(plan, blue, at - start)
    return list(dict.fromkeys(out))


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
                expected=ctx.spec.green.expect_python,
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


def evidence_starts(plan: Plan, judging: Judging, at: float) -> list[float]:
    """Where each judged window starts, longest first: after green's warm-up, traffic checks in this step only.

    Gauges judge their ``window``. Traffic checks judge two: all requests since the step's weight was
    verified (up to ``STEP_EVIDENCE_MAX``), so that a low-traffic step accumulates enough for a verdict,
    and the recent ``window``, so that a regression that starts mid-step is not diluted by the step's
    healthy past. They coincide while the step is younger than the window. A start other than ``at - window``
    is moved onto a shared span (``shared_span``), so that a fleet's evaluations can share queries.
    """
    needed = _needed(plan)
    return sorted({_shared_start(at, start, plan.window, needed) for start in _data_starts(plan, judging, at)})


def _data_starts(plan: Plan, judging: Judging, at: float) -> list[float]:
    """The windows' starts as the data allows, before sharing (what the waiting message tells)."""
    floor = judging.warmup_until if judging.warmup_until is not None else -math.inf
    recent = max(at - plan.window, floor)
    if not plan.traffic or judging.step_started is None:
        return [recent]
    step = max(at - STEP_EVIDENCE_MAX, judging.step_started, floor)
    recent = max(recent, step)
    return [step, recent] if recent - step >= min_level_span(plan.window) else [step]


def _needed(plan: Plan) -> float:
    return min_trend_span(plan.window) if plan.needs_slope else min_level_span(plan.window)


def _evaluate_metric(plan: Plan, ctx: Context) -> CheckResult:
    name = plan.check.name
    span = ctx.at - _data_starts(plan, ctx.judging, ctx.at)[0]
    needed = _needed(plan)
    if span < needed:
        where = "at this weight " if plan.traffic and ctx.judging.step_started is not None else ""
        return CheckResult(
            name,
            INCONCLUSIVE,
            f"{name}: only {max(span, 0):.0f}s of green data {where}after warm-up, need {needed:.0f}s; waiting",
        )
    starts = evidence_starts(plan, ctx.judging, ctx.at)
    noise = noise_model(plan, ctx.source, ctx.blue, ctx.at, ctx.noise_cache)  # None for templates without raw
    alphas = _alphas(plan.check, ctx, len(starts))
    judged = [_judge_window(plan, ctx, start, noise, alphas) for start in starts]
    failing = [r for r in judged if r.verdict == FAIL]
    return failing[0] if failing else judged[0]


def _judge_window(plan: Plan, ctx: Context, start: float, noise: NoiseModel | None, alphas: Alphas) -> CheckResult:
    span = ctx.at - start
    green = measure(plan, ctx.source, ctx.green, ctx.at, span, noise)
    if not green.found:
        if plan.traffic and span < MISSING_AFTER:
            return CheckResult(
                plan.check.name,
                INCONCLUSIVE,
                f"{plan.check.name}: no green samples in the last {span:.0f}s yet; waiting",
            )
        return _missing(plan, ctx, span)
    short = _too_few_requests(plan, green, span)
    if short:
        return short
    blue, baseline = _blue(plan, ctx, span, noise)
    note = ""
    if ctx.judging.blue_idle and not baseline and plan.needs_blue:
        note = "; blue serves no traffic and no baseline was kept before the cutover"
    ev = Evidence(plan, green, blue, start, ctx.at, baseline, note)
    result = combine(ev, outcomes(plan, green, blue, alphas))
    return replace(result, baseline_candidate=candidate(ev, ctx.judging.green_weight))


def _alphas(check: Check, ctx: Context, windows: int) -> Alphas:
    """This evaluation's share of the budget, split between the windows judged (a Fail in either counts)."""
    passing = 1 - PASS_CONFIDENCE
    return Alphas(min(fail_alpha(ctx.spec, check, ctx.judging.slot) / windows, passing), passing)


def _blue(plan: Plan, ctx: Context, span: float, noise: NoiseModel | None) -> tuple[Measurement | None, str]:
    """Blue's evidence: live, or its stored window once blue serves no traffic."""
    stored = ctx.judging.baselines.get(plan.check.name)
    if ctx.judging.blue_idle and stored is not None:
        return from_baseline(stored), describe(stored)
    blue = measure(plan, ctx.source, ctx.blue, ctx.at, span, noise)
    if not blue.found:
        return None, ""
    return blue, ""


def _too_few_requests(plan: Plan, m: Measurement, span: float) -> CheckResult | None:
    if not plan.traffic:
        return None
    served = m.requests if m.requests is not None and math.isfinite(m.requests) else 0.0
    if served >= max(plan.min_requests, 1):
        return None
    name = plan.check.name
    floor = max(plan.min_requests, 1)
    message = (
        f"{name}: green served {served:.0f} requests in {format_window(span)}, "
        f"fewer than {'minRequests ' if plan.min_requests else ''}{floor}; too few to judge"
    )
    return CheckResult(name, INCONCLUSIVE, message, samples=round(served), needs=floor - served, needs_unit="requests")


def _serving(ctx: Context, span: float) -> tuple[bool, str]:
    weight = ctx.judging.green_weight
    if weight is not None:
        return weight > 0, f"green has {weight}% of traffic"
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
