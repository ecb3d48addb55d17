"""Quantiles of a bucketed latency histogram, with an interval that counts both kinds of error.

Sampling error: the q-quantile lies between two order statistics whose ranks come from Binomial(n, 1-q)
(the classic distribution-free interval; no assumption about the distribution at all).

Interpolation error: a histogram only says how many requests fell between two bucket edges, so the value
of an order statistic inside a bucket must be interpolated. greenlane interpolates the survival function
S(x) (share of requests slower than x) in log-log coordinates, where a log-normal tail is nearly a parabola
and a Pareto tail a straight line, by several rules: the chord through the bucket's edges, and the
parabola through them and the next edge on either side (an edge counts only with ``MIN_STENCIL``
requests beyond it). Every rule stays inside the bracket that all distributions with an increasing
generalized failure rate obey (log S concave in log x: log-normal, Weibull, gamma, log-logistic, Pareto):
at or above the chord, at or below the neighbouring buckets' secants extended into the bucket.

One track's value is uncertain across the whole bracket; where the data can't say more (no neighbour
with requests), that is the bucket itself. Comparing green with blue, each rule is applied to both tracks
alike and the interval spans the ratios the rules give: a shape error that moves both quantiles the same
way does not pretend green differs from blue.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from controller.analysis.source import Series
from controller.analysis.stats import binomial_bounds, wilson, z_of

MIN_STENCIL = 10
"""Requests beyond an edge needed before its survival share shapes the interpolation."""
MAX_BUCKETS = 64
"""Histograms with more finite buckets are refused (status stores a baseline's buckets)."""


class HistogramError(ValueError):
    """The bucket series do not form a histogram (no +Inf bucket, unparsable or too many edges)."""


@dataclass(frozen=True)
class Histogram:
    """Cumulative request counts at each finite bucket edge (``le``) and in total (the +Inf bucket)."""

    le: tuple[float, ...]
    cumulative: tuple[float, ...]
    total: float

    @property
    def requests(self) -> int:
        return round(self.total)


@dataclass(frozen=True)
class Values:
    """A value inside its bucket by each interpolation rule, and the bracket around all of them."""

    rules: dict[str, float]
    low: float
    high: float
    interpolating: frozenset[str] = frozenset()
    """Rules through the bucket's own edges; the others extrapolate the curve of the buckets below."""

    def inside(self) -> list[float]:
        """The values of the rules through the bucket's own edges."""
        return [v for k, v in self.rules.items() if k in self.interpolating]

    @property
    def estimate(self) -> float:
        best = self.inside() or list(self.rules.values())
        if best:
            return math.exp(sum(math.log(v) for v in best) / len(best))
        if self.low > 0 and math.isfinite(self.high):
            return math.sqrt(self.low * self.high)
        return self.low


def histogram(series: Sequence[Series]) -> Histogram | None:
    """Build a histogram from ``sum by (le)`` bucket series; None when there are none.

    ``increase()`` extrapolates every bucket separately, so cumulative counts can dip by a fraction; they
    are made non-decreasing (and capped by the total) before use.
    """
    if not series:
        return None
    points: dict[float, float] = {}
    for s in series:
        text = s.labels.get("le")
        if text is None:
            raise HistogramError("bucket series without an 'le' label")
        try:
            edge = float(text)
        except ValueError:
            raise HistogramError(f"bucket bound le={text!r} is not a number") from None
        value = s.value
        points[edge] = value if math.isfinite(value) and value > 0 else 0.0
    if math.inf not in points:
        raise HistogramError('no le="+Inf" bucket: not a Prometheus histogram')
    total = points.pop(math.inf)
    edges = sorted(e for e in points if e > 0 and math.isfinite(e))
    if len(edges) > MAX_BUCKETS:
        raise HistogramError(f"{len(edges)} buckets, more than the {MAX_BUCKETS} greenlane judges")
    cumulative: list[float] = []
    running = 0.0
    for e in edges:
        running = min(max(running, points[e]), total)
        cumulative.append(running)
    return Histogram(tuple(edges), tuple(cumulative), total)


def _above(h: Histogram) -> tuple[list[float], list[float]]:
    """Edges (with 0 first) and how many requests lie above each, for interpolation."""
    n = float(h.requests)
    return [0.0, *h.le], [n, *(max(0.0, n - c) for c in h.cumulative)]


def values_with_above(h: Histogram, j: float, z: float = 0.0, side: int = 0) -> Values:
    """The latency with ``j`` of the window's requests slower than it, by each rule, with its bracket.

    ``side`` -1 (+1) with ``z`` > 0 interpolates between the lower (upper) Wilson bounds of each edge's
    share instead of the counts seen: a bucket edge with 1 request beyond it might have had none, and
    the bound on a quantile must not lean on that one request.
    """
    edges, above = _above(h)
    n = above[0]
    bounded = above if side == 0 or z <= 0 else [n, *(n * wilson(k, n, z)[side > 0] for k in above[1:])]
    lower_shape, upper_shape = (bounded, above) if side < 0 else (above, bounded)
    j = min(max(j, 0.0), n)
    if above[-1] > 0 and j <= above[-1]:
        last = edges[-1]  # beyond the last finite bucket: only its edge is known
        return Values({"chord": last}, last, math.inf)
    i = next(k for k in range(1, len(edges)) if above[k] < j or (j == 0 and above[k] == 0))
    a, b = edges[i - 1], edges[i]
    if j == 0:
        return Values({"chord": b}, a, b)  # the slowest request: somewhere in its bucket
    if a == 0.0:
        below_b = n - above[i]
        linear = min(b * (n - j) / below_b, b) if below_b > 0 else b
        return Values({"chord": linear}, 0.0, b)
    return _interpolate(edges, above, (lower_shape, upper_shape), i, j)


def _log(x: float, n: float) -> float:
    return math.log(x / n) if x > 0 else -math.inf


def _interpolate(
    edges: list[float], above: list[float], shapes: tuple[list[float], list[float]], i: int, j: float
) -> Values:
    """Inside bucket i: the IGFR bracket (its chord from the lower, its envelope from the upper bound of each
    edge's share) and the smooth rules from the counts themselves."""
    n = above[0]
    lower, upper = shapes
    ua, ub = math.log(edges[i - 1]), math.log(edges[i])
    fa, fb, level = _log(lower[i - 1], n), _log(lower[i], n), math.log(j / n)
    degenerate = level >= fa or fb == -math.inf
    chord = ua if degenerate else min(ua + (level - fa) * (ub - ua) / (fb - fa), ub)
    envelope = max(_envelope(edges, above, upper, i, level), chord)
    rules: dict[str, float] = {}
    inside: set[str] = set()
    for first in (i - 3, i - 2, i - 1):  # i - 3 carries the body's curve on into a sparse bucket
        guess = _parabola(edges, above, (first, first + 1, first + 2), (ua, ub), level)
        if guess is not None:
            key = ",".join(f"{edges[k]:g}" for k in (first, first + 1, first + 2))
            rules[key] = math.exp(min(max(guess, chord), envelope))
            if first >= i - 2:
                inside.add(key)
    return Values(rules, math.exp(chord), math.exp(envelope), frozenset(inside))


def _envelope(edges: list[float], above: list[float], shape: list[float], i: int, level: float) -> float:
    """Upper bound of the value under concave log S: the neighbours' secants extended into the bucket."""
    n = above[0]
    ua, ub = math.log(edges[i - 1]), math.log(edges[i])
    fa, fb = _log(shape[i - 1], n), _log(shape[i], n)
    bounds = [ub]
    if i >= 2 and edges[i - 2] > 0 and above[i - 2] - above[i - 1] >= MIN_STENCIL and shape[i - 2] > shape[i - 1]:
        slope = (fa - _log(shape[i - 2], n)) / (ua - math.log(edges[i - 2]))
        bounds.append(ua + (level - fa) / slope)
    if i + 1 < len(edges) and above[i + 1] >= MIN_STENCIL and 0 < shape[i + 1] < shape[i]:
        slope = (_log(shape[i + 1], n) - fb) / (math.log(edges[i + 1]) - ub)
        bounds.append(ub + (level - fb) / slope)
    return max(min(bounds), ua)


def _parabola(
    edges: list[float], above: list[float], idx: tuple[int, int, int], bucket: tuple[float, float], level: float
) -> float | None:
    """Where the parabola (in log x, log S) through three trusted edges crosses ``level`` inside ``bucket``.

    The edges are the bucket's own with one neighbour, or the three below it when the bucket's upper edge
    has too few requests beyond it: then the body's curve is carried on into the sparse tail.
    """
    n = above[0]
    if idx[0] < 1 or idx[-1] >= len(edges) or any(above[k] < MIN_STENCIL for k in idx):
        return None
    if not above[idx[0]] > above[idx[1]] > above[idx[2]]:
        return None
    us = [math.log(edges[k]) for k in idx]
    fs = [_log(above[k], n) for k in idx]
    # f(u) = A u^2 + B u + C through the three points (Newton's divided differences).
    d01 = (fs[1] - fs[0]) / (us[1] - us[0])
    d12 = (fs[2] - fs[1]) / (us[2] - us[1])
    a2 = (d12 - d01) / (us[2] - us[0])
    b1 = d01 - a2 * (us[0] + us[1])
    c0 = fs[0] - a2 * us[0] ** 2 - b1 * us[0]
    lo, hi = bucket

    def f(u: float) -> float:
        return (a2 * u + b1) * u + c0

    if f(lo) <= level:
        return lo
    extrapolating = us[2] <= lo + 1e-12
    if f(hi) > level or (extrapolating and a2 > 0):
        # An extrapolated curve that misses the bucket's own count, or bends the wrong way (a tail lighter
        # than every log-concave one allows), says nothing about where inside the bucket the value lies.
        return None
    return _root(a2, b1, c0 - level, lo, hi)


def _root(a: float, b: float, c: float, lo: float, hi: float) -> float:
    """The root of a u^2 + b u + c in [lo, hi], where the polynomial changes sign."""
    if abs(a) < 1e-12:
        return min(max(-c / b, lo), hi) if b != 0 else lo
    disc = math.sqrt(max(b * b - 4 * a * c, 0.0))
    roots = [(-b - disc) / (2 * a), (-b + disc) / (2 * a)]
    inside = [r for r in roots if lo - 1e-12 <= r <= hi + 1e-12]
    return min(max(inside[0] if inside else roots[0], lo), hi)


@dataclass(frozen=True)
class QuantileValues:
    """A track's q-quantile at its estimate and at the ranks of its one-sided bounds, by each rule."""

    centre: Values
    low: Values
    """Where the quantile may be as low as (many slow requests by chance)."""
    high: Values
    requests: int


def quantile_values(h: Histogram, q: float, alpha: float) -> QuantileValues | None:
    """The q-quantile of ``h`` and its order-statistic bounds, one-sided at ``alpha``; None when empty."""
    n = h.requests
    if n <= 0:
        return None
    share = 1.0 - q
    fewest, most = binomial_bounds(n, share, alpha)
    z = z_of(alpha)
    return QuantileValues(
        values_with_above(h, n * share),
        values_with_above(h, most, z, side=-1),
        values_with_above(h, fewest, z, side=1),
        n,
    )


def bounds(v: QuantileValues) -> tuple[float, float]:
    """One track's interval: the lowest and highest any rule or the bracket allows."""
    return min(v.low.low, v.centre.low), max(v.high.high, v.centre.high)


def paired_ratio(g: QuantileValues, b: QuantileValues) -> tuple[float, float]:
    """green/blue with each smooth rule applied to both tracks alike (the same three edges); the span over
    the rules both tracks could use. Without a shared rule each track uses the rules through its own
    bucket's edges, or its bracket: a curve carried on from the buckets below is only trusted side by side
    with the same curve for the other track."""
    lows = [g.low.rules[r] / b.high.rules[r] for r in g.low.rules.keys() & b.high.rules.keys()]
    highs = [g.high.rules[r] / b.low.rules[r] for r in g.high.rules.keys() & b.low.rules.keys()]
    if not lows:
        gl = min(g.low.inside(), default=min(g.low.low, g.centre.low))
        bh = max(b.high.inside(), default=max(b.high.high, b.centre.high))
        lows = [gl / bh if 0 < bh < math.inf else 0.0]
    if not highs:
        gh = max(g.high.inside(), default=max(g.high.high, g.centre.high))
        bl = min(b.low.inside(), default=min(b.low.low, b.centre.low))
        highs = [gh / bl if bl > 0 else math.inf]
    low, high = min(lows), max(highs)
    if math.isinf(g.high.high) and not g.high.rules:
        high = math.inf  # green's quantile beyond the last finite bucket has no upper bound
    if math.isinf(b.high.high) and not b.high.rules:
        low = 0.0
    return low, high


def paired_floor(g: QuantileValues, b: QuantileValues) -> tuple[float, float]:
    """The ratio's interpolation part alone: the rules' spread at both estimates."""
    ratios = [g.centre.rules[r] / b.centre.rules[r] for r in g.centre.rules.keys() & b.centre.rules.keys()]
    if not ratios:
        bh = b.centre.high
        return (g.centre.low / bh if 0 < bh < math.inf else 0.0), (
            g.centre.high / b.centre.low if b.centre.low > 0 else math.inf
        )
    return min(ratios), max(ratios)
