"""From threshold outcomes to one CheckResult: the verdict, the sentence, and the evidence behind it.

The sentence an on-call engineer reads carries both tracks' values, the judged quantity with its
interval and confidence, the limit, how many requests (or points) each side had, and, when Inconclusive,
about how much more traffic a verdict needs at this weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from controller.analysis.estimate import Estimate
from controller.analysis.judge import Outcome, quantity
from controller.analysis.measure import Measurement
from controller.analysis.plan import Plan
from controller.analysis.quantile import Histogram
from controller.core.results import FAIL, INCONCLUSIVE, PASS, CheckResult, Verdict
from controller.model.status import Baseline

BASELINE_MIN_REQUESTS = 100
"""A blue window with fewer requests is not kept as the baseline for the 100% step."""


@dataclass(frozen=True)
class Evidence:
    """What both tracks contributed to one check, for the sentence and for the stored baseline."""

    plan: Plan
    green: Measurement
    blue: Measurement | None
    since: float
    at: float
    baseline: str = ""
    note: str = ""


def _fmt_count(n: float) -> str:
    return f"{n:,.0f}"


def rough(seconds: float) -> str:
    """``45s``, ``12m``, ``2.5h``: how long, to the precision an estimate deserves."""
    if seconds < 90:
        return f"{max(seconds, 0):.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _sizes(ev: Evidence) -> str:
    """``; green 3,586 vs blue 5,483 requests in 5m`` (nothing for a custom query: its value is no sample)."""
    if ev.plan.template is None:
        return ""
    window = rough(ev.at - ev.since)
    blue = ev.blue.samples if ev.blue is not None else 0
    what = "requests" if ev.plan.traffic else "points"
    side = f" vs blue {_fmt_count(blue)}" if ev.blue is not None else ""
    return f"; green {_fmt_count(ev.green.samples)}{side} {what} in {window}"


NeedsUnit = Literal["requests", "seconds"]


def _needs(ev: Evidence, factor: float | None, slope: bool) -> tuple[float | None, NeedsUnit | None, str]:
    """More evidence needed, its unit, and the phrase; nothing when it cannot be told."""
    if factor is None or not math.isfinite(factor):
        return None, None, ""
    span = max(ev.at - ev.since, 1.0)
    if ev.plan.traffic:
        have = float(ev.green.samples)
        more = math.ceil(have * (factor - 1))
        if more <= 0 or have <= 0:
            return None, None, ""
        rate = have / span
        return (
            float(more),
            "requests",
            (
                f"; needs about {_fmt_count(more)} more green requests at this weight "
                f"(~{rough(more / rate)} at {rate:.2g} req/s)"
            ),
        )
    more_s = span * ((factor ** (1 / 3) if slope else factor) - 1)
    if more_s <= 0:
        return None, None, ""
    return more_s, "seconds", f"; needs about {rough(more_s)} more data"


def combine(ev: Evidence, results: list[Outcome]) -> CheckResult:
    """Fail if any threshold fails, else Inconclusive if any cannot be judged yet, else Pass; say why."""
    for verdict in (FAIL, INCONCLUSIVE):
        chosen = [o for o in results if o.verdict == verdict]
        if chosen:
            return _result(ev, verdict, chosen, results)
    return _result(ev, PASS, results, results)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _result(ev: Evidence, verdict: Verdict, chosen: list[Outcome], results: list[Outcome]) -> CheckResult:
    first = chosen[0]
    slope = first.threshold.startswith("slope")
    needs, unit, needs_text = _needs(ev, first.needs, slope) if verdict == INCONCLUSIVE else (None, None, "")
    note = (f"; blue from {ev.baseline}" if ev.baseline else "") + ev.note
    message = "; ".join(o.phrase for o in chosen) + _sizes(ev) + needs_text + note
    return CheckResult(
        name=ev.plan.check.name,
        verdict=verdict,
        message=message,
        green=_finite(first.green),
        blue=_finite(first.blue),
        threshold=first.threshold,
        samples=ev.green.samples,
        blue_samples=ev.blue.samples if ev.blue is not None else 0,
        estimate=_finite(first.estimate),
        low=_finite(first.low),
        high=_finite(first.high),
        confidence=first.confidence,
        needs=needs,
        needs_unit=unit,
        baseline=ev.baseline,
        unit=ev.plan.unit.name,
        measure="slope" if slope else "level",
        levels=_pair(ev, results, False),
        slopes=_pair(ev, results, True) if ev.plan.needs_slope else None,
    )


def _pair(ev: Evidence, results: list[Outcome], slope: bool) -> tuple[float | None, float | None]:
    """Both tracks' level (quantile, error rate, gauge level) or trend, whatever threshold decided the verdict.

    Taken from a threshold of that kind that judged green (its values are exactly these), so a latency
    quantile is not worked out twice; measured here only when no such threshold had green's value.
    """
    for o in results:
        if o.threshold.startswith("slope") == slope and o.green is not None:
            return _finite(o.green), _finite(o.blue)
    return _value(ev, ev.green, slope), _value(ev, ev.blue, slope)


def _value(ev: Evidence, m: Measurement | None, slope: bool) -> float | None:
    q = quantity(ev.plan, m, slope)
    return _finite(q.estimate) if q is not None else None


def candidate(ev: Evidence, weight: int | None) -> Baseline | None:
    """Blue's window as a baseline to keep, when it is well measured (enough requests, or a level)."""
    m = ev.blue
    if m is None or weight is None or weight >= 100 or ev.baseline:
        return None
    if ev.plan.traffic and (m.requests or 0.0) < BASELINE_MIN_REQUESTS:
        return None
    if not ev.plan.traffic and m.level is None:
        return None
    h = m.histogram
    return Baseline(
        check=ev.plan.check.name,
        since=datetime.fromtimestamp(ev.since, UTC),
        until=datetime.fromtimestamp(ev.at, UTC),
        weight=weight,
        requests=m.requests,
        errors=m.errors,
        le=list(h.le) if h else [],
        counts=list(h.cumulative) if h else [],
        level=_finite(m.level.value) if m.level else None,
        level_var=_finite(m.level.variance) if m.level else None,
        slope=_finite(m.slope.value) if m.slope else None,
        slope_var=_finite(m.slope.variance) if m.slope else None,
        dof=_finite(min(m.level.dof, m.slope.dof if m.slope else m.level.dof)) if m.level else None,
        samples=m.samples,
    )


def from_baseline(b: Baseline) -> Measurement:
    """A stored blue window as a measurement, exactly as it was judged before the cutover."""
    dof = b.dof if b.dof is not None else math.inf
    level = (
        Estimate(b.level, b.level_var if b.level_var is not None else math.inf, dof) if b.level is not None else None
    )
    slope = (
        Estimate(b.slope, b.slope_var if b.slope_var is not None else math.inf, dof) if b.slope is not None else None
    )
    h = None
    if b.le and len(b.le) == len(b.counts) and b.requests is not None:
        h = Histogram(tuple(b.le), tuple(b.counts), b.requests)
    return Measurement(level, slope, b.requests, b.errors, h, b.samples)


def describe(b: Baseline) -> str:
    """``blue's 12:03:10-12:13:10Z window at green 50% (before the cutover)``."""
    since, until = b.since.astimezone(UTC), b.until.astimezone(UTC)
    return f"its {since:%H:%M:%S}-{until:%H:%M:%S}Z window at green {b.weight}%, before the cutover"
