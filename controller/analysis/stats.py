"""The few distributions judgement needs, in plain Python: normal, binomial and Student-t quantiles, Wilson
and Newcombe intervals.

Why not scipy: these are a dozen short, well-known formulas; scipy would add ~40 MiB to the operator image
for them. Every function takes one-sided tail probabilities (``alpha``) because greenlane spends its false-
rollback budget one tail at a time, and tails as small as 1e-9 must come out exact enough.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from statistics import NormalDist

_NORMAL = NormalDist()
TINY_ALPHA = 1e-15
"""Tail probabilities are clamped here: beyond it doubles cannot tell a tail from rounding."""


def z_of(alpha: float) -> float:
    """Upper one-sided standard normal quantile: P(Z > z) = alpha."""
    alpha = min(max(alpha, TINY_ALPHA), 0.5)
    return -_NORMAL.inv_cdf(alpha)


def wilson(events: float, trials: float, z: float) -> tuple[float, float]:
    """Wilson score interval for a proportion, each bound one-sided at the z given.

    Unlike the Wald interval it stays inside [0, 1] and keeps its coverage near 0 errors, which is where
    error rates live.
    """
    if trials <= 0:
        return 0.0, 1.0
    p = min(max(events / trials, 0.0), 1.0)
    z2 = z * z
    centre = p + z2 / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    scale = 1 + z2 / trials
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def clopper_pearson(events: float, trials: float, alpha: float) -> tuple[float, float]:
    """Exact (Clopper-Pearson) bounds for a proportion, each one-sided at ``alpha``.

    Wilson's interval is the better summary, but far in the tails with a handful of events its bounds are
    too narrow; a false-rollback budget of 1e-5 per evaluation needs bounds that never are. Counts from
    ``increase()`` may be fractional: the beta function takes them as they are.
    """
    if trials <= 0:
        return 0.0, 1.0
    k = min(max(events, 0.0), trials)
    alpha = max(alpha, TINY_ALPHA)
    low = 0.0 if k <= 0 else _beta_quantile(alpha, k, trials - k + 1)
    high = 1.0 if k >= trials else _beta_quantile(1 - alpha, k + 1, trials - k)
    return low, high


def _beta_quantile(p: float, a: float, b: float) -> float:
    """x with I_x(a, b) = p, by bisection (I is increasing in x)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _incomplete_beta(a, b, mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def newcombe(
    e1: float,
    n1: float,
    e2: float,
    n2: float,
    z: float,
    bounds: Callable[[float, float], tuple[float, float]] | None = None,
) -> tuple[float, float]:
    """Newcombe's hybrid interval (method 10, 1998) for p1 - p2, from two Wilson intervals at ``z`` or from the
    per-proportion ``bounds`` given (e.g. exact ones)."""
    p1 = e1 / n1 if n1 > 0 else 0.0
    p2 = e2 / n2 if n2 > 0 else 0.0
    l1, u1 = bounds(e1, n1) if bounds else wilson(e1, n1, z)
    l2, u2 = bounds(e2, n2) if bounds else wilson(e2, n2, z)
    d = p1 - p2
    return d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def _log_pmf(n: int, p: float, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p)


def binomial_bounds(n: int, p: float, alpha: float) -> tuple[int, int]:
    """``(lo, hi)`` for X ~ Binomial(n, p): P(X < lo) <= alpha and P(X > hi) <= alpha, as tight as allowed.

    Summed exactly over the central +-12 standard deviations (in log space, so n in the millions is fine);
    anything outside carries less than 1e-30 of probability.
    """
    if n <= 0 or p <= 0.0:
        return 0, 0
    if p >= 1.0:
        return n, n
    alpha = max(alpha, TINY_ALPHA)
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    first = max(0, math.floor(mean - 12 * sd - 12))
    last = min(n, math.ceil(mean + 12 * sd + 12))
    mode = min(max(math.floor((n + 1) * p), first), last)
    top = _log_pmf(n, p, mode)
    ratio = p / (1 - p)
    weights = {mode: 1.0}
    log_w = 0.0
    for k in range(mode, last):  # pmf(k+1)/pmf(k) = (n-k)/(k+1) * p/(1-p)
        log_w += math.log((n - k) / (k + 1) * ratio)
        weights[k + 1] = math.exp(log_w)
    log_w = 0.0
    for k in range(mode, first, -1):
        log_w -= math.log((n - k + 1) / k * ratio)
        weights[k - 1] = math.exp(log_w)
    total = sum(weights.values()) * math.exp(top)
    scale = math.exp(top) / total
    lo = first
    below = 0.0
    for k in range(first, last + 1):
        if below + weights[k] * scale > alpha:
            lo = k
            break
        below += weights[k] * scale
    hi = last
    above = 0.0
    for k in range(last, first - 1, -1):
        if above + weights[k] * scale > alpha:
            hi = k
            break
        above += weights[k] * scale
    return lo, hi


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_tail(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom, t >= 0."""
    return 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + t * t))


def t_of(alpha: float, df: float) -> float:
    """Upper one-sided Student-t quantile; the normal one for large or unknown ``df``.

    ``df`` is rounded down to a tenth (slightly wider, never narrower) so that repeated questions are cached.
    """
    if not math.isfinite(df) or df > 1000:
        return z_of(alpha)
    return _t_of(float(f"{alpha:.6g}"), math.floor(max(df, 1.0) * 10) / 10)


@functools.lru_cache(maxsize=4096)
def _t_of(alpha: float, df: float) -> float:
    lo = hi = z_of(alpha)
    while t_tail(hi, df) > alpha:
        hi *= 2
    while hi - lo > 1e-7 * hi:
        mid = (lo + hi) / 2
        if t_tail(mid, df) > alpha:
            lo = mid
        else:
            hi = mid
    return hi
