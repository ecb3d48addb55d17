"""Thresholds judged on intervals: Fail only when the evidence shows the limit exceeded, Pass only when it
shows it met, Inconclusive otherwise, with how much more traffic a verdict needs.

Each threshold judges one quantity: green's value (``max``, ``min``), green/blue (``maxRatioToBlue``),
green - blue (``maxIncreaseOverBlue``), green's trend (``maxSlope``) or green's minus blue's
(``maxSlopeOverBlue``). Its interval comes from the evidence of both tracks (order statistics of a latency
histogram, Wilson and Newcombe intervals of error counts, t intervals of gauge levels and Theil-Sen
trends). A Fail needs the interval at the rollout's false-rollback budget (``fail_alpha``, one-sided) to
lie beyond the limit; a Pass needs the interval at ``PASS_CONFIDENCE`` to lie within it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from controller.analysis.aggregate import min_trend_span
from controller.analysis.estimate import Estimate, total
from controller.analysis.measure import Measurement
from controller.analysis.plan import Plan
from controller.analysis.quantile import Histogram, QuantileValues, paired_floor, paired_ratio, quantile_values
from controller.analysis.quantile import bounds as quantile_bounds
from controller.analysis.stats import clopper_pearson, newcombe, t_of, z_of
from controller.analysis.units import Unit
from controller.core.results import FAIL, INCONCLUSIVE, PASS, Verdict
from controller.model.quantities import format_duration

Interval = tuple[float, float]
RELATIVE = frozenset({"max_ratio_to_blue", "max_increase_over_blue", "max_slope_over_blue"})


class Quantity(Protocol):
    """One track's judged number, with one-sided bounds at any tail probability."""

    @property
    def estimate(self) -> float: ...

    @property
    def spread(self) -> float:
        """How uncertain the track is (1/sqrt(n), or a standard error): tails are shared in proportion."""
        ...

    def bounds(self, alpha: float) -> Interval: ...

    def floor(self) -> Interval:
        """The part of the interval more requests cannot remove (interpolation inside a bucket)."""
        ...


@dataclass(frozen=True)
class QuantileOf:
    histogram: Histogram
    q: float
    _cache: dict[float, QuantileValues] = field(default_factory=dict, compare=False, repr=False)

    def values(self, alpha: float) -> QuantileValues:
        """The quantile's values at ``alpha`` (judging asks for a few alphas many times: computed once)."""
        if alpha not in self._cache:
            v = quantile_values(self.histogram, self.q, alpha)
            assert v is not None  # quantity() only builds this for a histogram with requests
            self._cache[alpha] = v
        return self._cache[alpha]

    @property
    def estimate(self) -> float:
        return self.values(0.5).centre.estimate

    @property
    def spread(self) -> float:
        return 1 / math.sqrt(max(self.histogram.requests, 1))

    def bounds(self, alpha: float) -> Interval:
        return quantile_bounds(self.values(alpha))

    def floor(self) -> Interval:
        centre = self.values(0.5).centre
        return centre.low, centre.high


@dataclass(frozen=True)
class RateOf:
    events: float
    trials: float

    @property
    def estimate(self) -> float:
        return self.events / self.trials if self.trials > 0 else math.nan

    @property
    def spread(self) -> float:
        return 1 / math.sqrt(max(self.trials, 1.0))

    def bounds(self, alpha: float) -> Interval:
        return clopper_pearson(self.events, self.trials, alpha)

    def floor(self) -> Interval:
        return self.estimate, self.estimate


@dataclass(frozen=True)
class EstimateOf:
    value: Estimate

    @property
    def estimate(self) -> float:
        return self.value.value

    @property
    def spread(self) -> float:
        return self.value.se

    def bounds(self, alpha: float) -> Interval:
        half = t_of(alpha, self.value.dof) * self.value.se
        return self.value.value - half, self.value.value + half

    def floor(self) -> Interval:
        return self.value.value, self.value.value


def _ratio(g: Interval, b: Interval) -> Interval:
    low = g[0] / b[1] if b[1] > 0 and math.isfinite(b[1]) else 0.0
    high = g[1] / b[0] if b[0] > 0 else math.inf
    return low, high


def split(alpha: float, g: Quantity, b: Quantity) -> tuple[float, float]:
    """A tail probability shared by two tracks in proportion to their uncertainty (from sample sizes only)."""
    total = g.spread + b.spread
    if not math.isfinite(total) or total <= 0:
        return alpha / 2, alpha / 2
    share = min(max(g.spread / total, 0.05), 0.95)
    return alpha * share, alpha * (1 - share)


def interval(kind: str, g: Quantity, b: Quantity | None, alpha: float) -> Interval:
    """The judged quantity's one-sided bounds at ``alpha`` each (split between the tracks when relative)."""
    if b is None or kind not in RELATIVE:
        return g.bounds(alpha)
    if isinstance(g, RateOf) and isinstance(b, RateOf) and kind != "max_ratio_to_blue":

        def exact(events: float, trials: float) -> Interval:
            return clopper_pearson(events, trials, alpha)

        return newcombe(g.events, g.trials, b.events, b.trials, z_of(alpha), exact)
    if isinstance(g, EstimateOf) and isinstance(b, EstimateOf) and kind != "max_ratio_to_blue":
        diff = total([g.value, Estimate(-b.value.value, b.value.variance, b.value.dof)])
        half = t_of(alpha, diff.dof) * diff.se
        return diff.value - half, diff.value + half
    ag, ab = split(alpha, g, b)
    if kind == "max_ratio_to_blue":
        if isinstance(g, QuantileOf) and isinstance(b, QuantileOf):
            return paired_ratio(g.values(ag), b.values(ab))
        return _ratio(g.bounds(ag), b.bounds(ab))
    gl, gh = g.bounds(ag)
    bl, bh = b.bounds(ab)
    return gl - bh, gh - bl


def estimate(kind: str, g: Quantity, b: Quantity | None) -> float:
    if b is None or kind not in RELATIVE:
        return g.estimate
    if kind == "max_ratio_to_blue":
        if isinstance(g, QuantileOf) and isinstance(b, QuantileOf):
            low, high = paired_floor(g.values(0.5), b.values(0.5))
            if 0 < low <= high < math.inf:
                return math.sqrt(low * high)  # the rules' middle, each applied to both tracks
        return g.estimate / b.estimate if b.estimate > 0 else (1.0 if g.estimate == 0 else math.inf)
    return g.estimate - b.estimate


def floor(kind: str, g: Quantity, b: Quantity | None) -> Interval:
    if b is None or kind not in RELATIVE:
        return g.floor()
    if kind == "max_ratio_to_blue":
        if isinstance(g, QuantileOf) and isinstance(b, QuantileOf):
            return paired_floor(g.values(0.5), b.values(0.5))
        return _ratio(g.floor(), b.floor())
    return g.floor()[0] - b.floor()[1], g.floor()[1] - b.floor()[0]


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    phrase: str
    green: float | None
    blue: float | None
    threshold: str
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    confidence: float | None = None
    needs: float | None = None
    """Times more evidence a verdict needs (None: cannot tell, or more evidence would not help)."""


@dataclass(frozen=True)
class Alphas:
    fail: float
    passing: float


def verdict_of(kind: str, limit: float, fail_iv: Interval, pass_iv: Interval) -> Verdict:
    if kind == "min":
        if fail_iv[1] < limit:
            return FAIL
        return PASS if pass_iv[0] >= limit else INCONCLUSIVE
    if fail_iv[0] > limit:
        return FAIL
    return PASS if pass_iv[1] <= limit else INCONCLUSIVE


def heading_pass(kind: str, est: float, limit: float) -> bool:
    """Which side of the limit the estimate is on: the verdict it would reach with more evidence."""
    return est >= limit if kind == "min" else est <= limit


def needs_factor(kind: str, limit: float, est: float, ivs: tuple[Interval, Interval, Interval]) -> float | None:
    """How many times the current evidence an Inconclusive needs, if the estimate holds (None: cannot tell).

    The interval's sampling part shrinks with the square root of the requests; the interpolation floor
    does not, so when the floor alone straddles the limit no amount of traffic decides.
    """
    fail_iv, pass_iv, floor_iv = ivs
    upper_side = heading_pass(kind, est, limit) != (kind == "min")  # the bound above the estimate matters
    side = pass_iv if heading_pass(kind, est, limit) else fail_iv
    bound, fixed = (side[1], floor_iv[1]) if upper_side else (side[0], floor_iv[0])
    log = kind == "max_ratio_to_blue"
    try:

        def scale(x: float) -> float:
            return math.log(x) if log else x

        e = scale(est)
        gap, width, rigid = abs(scale(limit) - e), abs(scale(bound) - e), abs(scale(fixed) - e)
    except (ValueError, OverflowError):
        return None
    if not all(math.isfinite(x) for x in (gap, width, rigid)) or gap <= rigid:
        return None
    sampling = max(width - rigid, 0.0)
    return max(1.0, (sampling / (gap - rigid)) ** 2)


def judge_threshold(
    kind: str, limit: float, g: Quantity, b: Quantity | None, alphas: Alphas
) -> tuple[Verdict, float, Interval, float, float | None]:
    """Verdict, estimate, the interval that explains it, its two-sided confidence and the needs factor."""
    fail_iv = interval(kind, g, b, alphas.fail)
    pass_iv = interval(kind, g, b, alphas.passing)
    est = estimate(kind, g, b)
    verdict = verdict_of(kind, limit, fail_iv, pass_iv)
    shown, conf = fail_iv, 1 - 2 * alphas.fail
    if verdict == PASS or (verdict == INCONCLUSIVE and heading_pass(kind, est, limit)):
        shown, conf = pass_iv, 1 - 2 * alphas.passing
    needs = None
    if verdict == INCONCLUSIVE:
        needs = needs_factor(kind, limit, est, (fail_iv, pass_iv, floor(kind, g, b)))
    return verdict, est, shown, conf, needs


def percent(confidence: float) -> str:
    """``99.9974%``: enough digits that a confidence below 1 never reads as 100%."""
    miss = max(1 - confidence, 1e-12)
    digits = max(0, min(8, -math.floor(math.log10(miss)) - 1))
    return f"{confidence * 100:.{digits}f}%"


def _x(r: float) -> str:
    return "+Inf" if math.isinf(r) else f"{r:.2f}x"


def exact(est: float, interval: Interval) -> bool:
    """A value with no sampling error (a custom query's number): judged as it is, no interval to show."""
    return interval[0] == interval[1] == est


def _interval(fmt: Callable[[float], str], sep: str, shown: Interval, conf: float, est: float) -> str:
    return "" if exact(est, shown) else f" ({fmt(shown[0])}{sep}{fmt(shown[1])}, {percent(conf)})"


def phrase(
    name: str, u: Unit, kind: str, limit: float, parts: tuple[float, Interval, float, Quantity, Quantity | None]
) -> str:
    est, shown, conf, g, b = parts
    gv = u.value(g.estimate)
    bv = u.value(b.estimate) if b is not None else None
    if kind in ("max", "min"):
        tail = f"; blue {bv}" if bv is not None else ""
        return f"{name} {gv}{_interval(u.value, '-', shown, conf, est)}, {kind} {u.value(limit)}{tail}"
    if kind == "max_ratio_to_blue":
        return f"{name} {gv} vs blue {bv}: {_x(est)}{_interval(_x, '-', shown, conf, est)}, limit {_x(limit)}"
    if kind == "max_increase_over_blue":
        iv = _interval(u.delta, "..", shown, conf, est)
        return f"{name} {gv} vs blue {bv}: {u.delta(est)}{iv}, limit {u.delta(limit)}"
    if kind == "max_slope":
        return f"{name} slope {u.slope(est)}{_interval(u.slope, '..', shown, conf, est)}, limit {u.slope(limit)}"
    assert b is not None
    return (
        f"{name} slope {u.slope(g.estimate)} vs blue {u.slope(b.estimate)}: {u.slope(est)} over blue"
        f"{_interval(u.slope, '..', shown, conf, est)}, limit {u.slope(limit)} over blue"
    )


def threshold_text(u: Unit, kind: str, limit: float) -> str:
    return {
        "max": f"<= {u.value(limit)}",
        "min": f">= {u.value(limit)}",
        "max_ratio_to_blue": f"<= {limit:.2f}x blue",
        "max_increase_over_blue": f"<= blue {u.delta(limit)}",
        "max_slope": f"slope <= {u.slope(limit)}",
        "max_slope_over_blue": f"slope <= blue {u.slope(limit)}",
    }[kind]


def quantity(plan: Plan, m: Measurement | None, slope: bool) -> Quantity | None:
    """A track's judged number for one threshold; None when the evidence for it is missing."""
    if m is None:
        return None
    if slope:
        return EstimateOf(m.slope) if m.slope is not None and math.isfinite(m.slope.value) else None
    if m.histogram is not None:
        return QuantileOf(m.histogram, plan.quantile) if m.histogram.requests > 0 else None
    if m.requests is not None:
        return RateOf(m.errors or 0.0, m.requests) if m.requests > 0 else None
    if m.level is not None and math.isfinite(m.level.value):
        return EstimateOf(m.level)
    return None


def _missing(plan: Plan, kind: str, g: Quantity | None, b: Quantity | None) -> Outcome:
    name, u = plan.check.name, plan.unit
    threshold = threshold_text(u, kind, plan.check.thresholds()[kind])
    if g is None:
        if kind in ("max_slope", "max_slope_over_blue"):
            needed = format_duration(min_trend_span(plan.window))
            return Outcome(
                INCONCLUSIVE, f"{name} slope unknown: no series spans the {needed} a trend needs", None, None, threshold
            )
        return Outcome(INCONCLUSIVE, f"{name} is missing", None, None, threshold)
    what = "trend" if kind == "max_slope_over_blue" else "value"
    return Outcome(
        INCONCLUSIVE,
        f"{name} {u.value(g.estimate) if what == 'value' else u.slope(g.estimate)}; blue has no {what} to compare with",
        g.estimate,
        None,
        threshold,
    )


def outcomes(plan: Plan, green: Measurement, blue: Measurement | None, alphas: Alphas) -> list[Outcome]:
    out: list[Outcome] = []
    for kind, limit in plan.check.thresholds().items():
        slope = kind in ("max_slope", "max_slope_over_blue")
        g, b = quantity(plan, green, slope), quantity(plan, blue, slope)
        if g is None or (kind in RELATIVE and b is None):
            out.append(_missing(plan, kind, g, b))
            continue
        verdict, est, shown, conf, needs = judge_threshold(kind, limit, g, b, alphas)
        text = phrase(plan.check.name, plan.unit, kind, limit, (est, shown, conf, g, b))
        out.append(
            Outcome(
                verdict,
                text,
                g.estimate,
                b.estimate if b is not None else None,
                threshold_text(plan.unit, kind, limit),
                est,
                shown[0],
                shown[1],
                None if exact(est, shown) else conf,
                needs,
            )
        )
    return out
