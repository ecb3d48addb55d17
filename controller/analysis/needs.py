"""How much traffic each check needs before it can pass, per step, at a given request rate.

``greenlane plan --rps R`` asks this before a rollout starts. A healthy green is assumed, and the numbers
are the least any green needs, so that a pause shorter than them is certainly too short:

* latency, relative to blue: green no slower than blue, a log-normal tail (sigma ``HEALTHY_SIGMA``, typical
  of web latency) and buckets fine enough to add no interpolation error; green's quantile and blue's come
  from their order-statistic bounds at ``PASS_CONFIDENCE``. At 100% blue's side is its baseline, the last
  window of the step before the cutover.
* error rate: green failing a tenth of the limit (``max``) or as often as blue (``maxIncreaseOverBlue``,
  both at a tenth of the limit), exact (Clopper-Pearson) and Newcombe bounds at ``PASS_CONFIDENCE``.
* gauges (memory, connections) need time, not traffic: their level a minute, their trend five minutes or
  the window, more when the series are noisy (``greenlane analyze`` shows how much more).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

from controller.analysis.aggregate import min_trend_span
from controller.analysis.evaluate import STEP_EVIDENCE_MAX, min_level_span
from controller.analysis.plan import Plan, plan_for
from controller.analysis.stats import binomial_bounds, clopper_pearson, newcombe
from controller.core.judging import PASS_CONFIDENCE
from controller.model.spec import Check, RolloutSpec

HEALTHY_SIGMA = 0.5
HEALTHY_ERROR_SHARE = 0.1
MAX_REQUESTS = 10**9
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Need:
    """What one check needs at one step: green requests (traffic checks) and seconds at the given rate."""

    check: str
    requests: int | None
    seconds: float | None
    note: str = ""


def _search(ok: Callable[[int], bool], low: int = 1) -> int | None:
    """Smallest n in [low, MAX_REQUESTS] with ok(n) (ok must be monotone), None if there is none."""
    hi = max(low, 16)
    while not ok(hi):
        if hi >= MAX_REQUESTS:
            return None
        hi = min(hi * 4, MAX_REQUESTS)
    lo = low
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _z_at(count: int, n: int) -> float:
    """Normal score of the quantile with ``count`` of ``n`` requests above it."""
    share = min(max(count / n, 1e-12), 1 - 1e-12)
    return -_NORMAL.inv_cdf(share)


def latency_ratio_high(q: float, green: int, blue: int) -> float:
    """Upper bound of green/blue at the q-quantile for identical log-normal tails and exact buckets."""
    alpha = (1 - PASS_CONFIDENCE) / 2
    share = 1 - q
    fewest_green, _ = binomial_bounds(green, share, alpha)
    _, most_blue = binomial_bounds(blue, share, alpha)
    if fewest_green <= 0 or most_blue >= blue:
        return math.inf
    return math.exp(HEALTHY_SIGMA * (_z_at(fewest_green, green) - _z_at(most_blue, blue)))


def _blue(n: int, weight: int, blue_fixed: int | None) -> int:
    """Blue's requests in the same window (its baseline's at 100%)."""
    return blue_fixed if blue_fixed is not None else max(1, round(n * (100 - weight) / weight))


def _latency(check: Check, weight: int, blue_fixed: int | None) -> int | None:
    limit = check.max_ratio_to_blue
    assert limit is not None
    q = check.quantile or 0.99
    return _search(lambda n: latency_ratio_high(q, n, _blue(n, weight, blue_fixed)) <= limit)


def _errors(check: Check, weight: int, blue_fixed: int | None) -> int | None:
    alpha = 1 - PASS_CONFIDENCE

    def exact(events: float, trials: float) -> tuple[float, float]:
        return clopper_pearson(events, trials, alpha)

    if check.max is not None:
        limit, share = check.max, check.max * HEALTHY_ERROR_SHARE
        return _search(lambda n: exact(n * share, n)[1] <= limit)
    if check.max_increase_over_blue is not None:
        d = check.max_increase_over_blue
        p = d * HEALTHY_ERROR_SHARE

        def ok(n: int) -> bool:
            blue = _blue(n, weight, blue_fixed)
            return blue > 0 and newcombe(n * p, n, blue * p, blue, 0.0, exact)[1] <= d

        return _search(ok)
    return None


def _requests_needed(plan: Plan, weight: int, blue_fixed: int | None) -> tuple[int | None, str]:
    check = plan.check
    if check.template == "latency" and check.max_ratio_to_blue is not None:
        n = _latency(check, weight, blue_fixed)
        return n, "" if n is not None else "blue's baseline is too small to show this limit met"
    if check.template == "error-rate":
        n = _errors(check, weight, blue_fixed)
        return n, "" if n is not None else "depends on blue's error rate"
    return None, "depends on your latency"


def check_need(plan: Plan, weight: int, rps: float, blue_fixed: int | None) -> Need:
    name = plan.check.name
    if not plan.traffic:
        span = min_trend_span(plan.window) if plan.needs_slope else min_level_span(plan.window)
        what = "trend" if plan.needs_slope else "level"
        return Need(name, None, span, f"{what}: at least this much data, more if noisy")
    n, note = _requests_needed(plan, weight, blue_fixed)
    rate = rps * weight / 100
    seconds = n / rate if n is not None and rate > 0 else None
    return Need(name, max(n, plan.min_requests) if n is not None else None, seconds, note)


def step_needs(spec: RolloutSpec, rps: float) -> list[list[Need]]:
    """Per step, per check (python-version excluded): what a healthy green needs to pass at ``rps``."""
    out: list[list[Need]] = []
    previous: tuple[int, float] | None = None
    for step in spec.steps:
        blue_fixed = None
        if step.weight >= 100:
            w, pause = previous or (0, 0.0)
            bake = pause if math.isfinite(pause) else STEP_EVIDENCE_MAX
            blue_fixed = max(0, round(rps * (100 - w) / 100 * min(bake, STEP_EVIDENCE_MAX)))
        row = [
            check_need(plan_for(c), step.weight, rps, blue_fixed)
            for c in spec.analysis.checks
            if c.template != "python-version" and step.weight > 0
        ]
        out.append(row)
        if step.weight < 100:
            previous = (step.weight, step.pause)
    return out
