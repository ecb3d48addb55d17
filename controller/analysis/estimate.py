"""An estimate with its standard error, for gauges: a window's average level and its Theil-Sen trend.

Scraped gauges are autocorrelated (a garbage-collected heap is a sawtooth, a connection pool wanders with
load), so n samples carry far less than n samples' worth of information. Both standard errors use the
residuals around the trend and inflate their variance by the larger of two estimates of how correlated
neighbouring samples are: the AR(1) factor (1+r1)/(1-r1), exact for a pool that drifts back to its mean, and
the Bartlett-weighted sum of autocorrelations up to a Newey-West lag, which also sees a sawtooth's
periodic structure. Degrees of freedom are the effective sample size minus the two fitted parameters
(Santer et al. 2000 judge trend differences the same way); sums and means of several series combine by
Welch-Satterthwaite.

A window of a few minutes cannot say how slowly a series wanders (a pool that takes three minutes to
forget looks independent in five), so each series' variance is also computed from a ``NoiseModel``, an
AR(1) fitted to blue's last hour, and the larger of the two is used: a healthy track's own history tells
how far a five-minute trend strays by chance.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from controller.analysis.slope import Point, theil_sen

MAX_LAG1 = 0.95
"""Beyond this the series is a random walk over the window and the inflation factor explodes; cap it."""


@dataclass(frozen=True)
class Estimate:
    value: float
    variance: float
    dof: float = math.inf

    @property
    def se(self) -> float:
        return math.sqrt(max(self.variance, 0.0))


def total(parts: Sequence[Estimate]) -> Estimate:
    """The sum of independent estimates, its variance and Welch-Satterthwaite degrees of freedom."""
    variance = sum(p.variance for p in parts)
    value = sum(p.value for p in parts)
    if not math.isfinite(variance):
        return Estimate(value, math.inf, 1.0)
    denominator = sum(p.variance**2 / p.dof for p in parts if math.isfinite(p.dof) and p.dof > 0)
    dof = variance**2 / denominator if denominator > 0 else math.inf
    return Estimate(value, variance, max(dof, 1.0))


def mean(parts: Sequence[Estimate]) -> Estimate:
    s = total(parts)
    k = len(parts)
    return Estimate(s.value / k, s.variance / (k * k), s.dof)


def _autocorrelations(residuals: list[float], lags: int) -> list[float]:
    n = len(residuals)
    var = sum(r * r for r in residuals) / n
    if var <= 0:
        return [0.0] * lags
    return [float(sum(residuals[i] * residuals[i + k] for i in range(n - k))) / (n * var) for k in range(1, lags + 1)]


def inflation(residuals: list[float]) -> float:
    """How many samples make one independent one: max of the AR(1) and Bartlett/Newey-West factors."""
    n = len(residuals)
    if n < 4:
        return 1.0
    lags = max(1, min(n // 3, math.floor(4 * (n / 100) ** (2 / 9))))
    rho = _autocorrelations(residuals, lags)
    # Around a fitted trend, r1 from n samples runs low by about (1 + 4 r1) / n: undo that, or short windows
    # of a slowly wandering pool look independent and their trend looks certain.
    r1 = min(max((rho[0] + 1 / n) / (1 - 4 / n) if n > 8 else MAX_LAG1, 0.0), MAX_LAG1)
    ar1 = (1 + r1) / (1 - r1)
    bartlett = 1 + 2 * sum((1 - k / (lags + 1)) * r for k, r in enumerate(rho, start=1))
    return float(max(1.0, ar1, bartlett))


@dataclass(frozen=True)
class NoiseModel:
    """AR(1) noise around a trend: lag-1 correlation per sample and the stationary variance."""

    rho: float
    variance: float
    dof: float = math.inf
    """Effective independent samples in the history, less two: how well rho and variance are known."""

    def level_variance(self, n: int) -> float:
        if n <= 0:
            return math.inf
        rho, acc, power = self.rho, float(n), 1.0
        for k in range(1, n):
            power *= rho
            if power < 1e-9:
                break
            acc += 2 * (n - k) * power
        return self.variance * acc / (n * n)

    def slope_variance(self, times: Sequence[float]) -> float:
        n = len(times)
        t_mean = statistics.fmean(times)
        sxx = sum((t - t_mean) ** 2 for t in times)
        if sxx <= 0:
            return math.inf
        w = [(t - t_mean) / sxx for t in times]
        acc = sum(x * x for x in w)
        power = 1.0
        for k in range(1, n):
            power *= self.rho
            if power < 1e-9:
                break
            acc += 2 * power * sum(w[i] * w[i + k] for i in range(n - k))
        return self.variance * acc


def learn_noise(histories: Sequence[Sequence[Point]]) -> NoiseModel | None:
    """Pooled AR(1) of several long, healthy series (blue's last hour); None when too short to tell."""
    rhos: list[float] = []
    variances: list[float] = []
    effective = 0.0
    for points in histories:
        pts = sorted((t, v) for t, v in points if math.isfinite(t) and math.isfinite(v))
        if len(pts) < 20:
            continue
        residuals = _residuals(pts, _least_squares(pts))  # the noise's structure, not a robust trend, is wanted
        n = len(residuals)
        r1 = _autocorrelations(residuals, 1)[0]
        rho = min(max((r1 + 1 / n) / (1 - 4 / n), 0.0), MAX_LAG1)
        rhos.append(rho)
        variances.append(sum(r * r for r in residuals) / (n - 2))
        effective += n * (1 - rho) / (1 + rho)
    if not rhos:
        return None
    return NoiseModel(statistics.median(rhos), statistics.fmean(variances), max(effective - 2, 1.0))


def _least_squares(pts: Sequence[Point]) -> float:
    t_mean = statistics.fmean(t for t, _ in pts)
    v_mean = statistics.fmean(v for _, v in pts)
    sxx = sum((t - t_mean) ** 2 for t, _ in pts)
    return sum((t - t_mean) * (v - v_mean) for t, v in pts) / sxx if sxx > 0 else 0.0


def _residuals(pts: Sequence[Point], slope: float) -> list[float]:
    t_mean = statistics.fmean(t for t, _ in pts)
    v_mean = statistics.fmean(v for _, v in pts)
    return [v - v_mean - slope * (t - t_mean) for t, v in pts]


def fit(
    points: Sequence[Point], slope: bool, noise: NoiseModel | None = None
) -> tuple[Estimate | None, Estimate | None]:
    """Window average and (if asked and possible) Theil-Sen slope of one series, each with its error."""
    pts = sorted((t, v) for t, v in points if math.isfinite(t) and math.isfinite(v))
    if not pts:
        return None, None
    values = [v for _, v in pts]
    level_value = statistics.fmean(values)
    n = len(pts)
    trend = theil_sen(pts) if slope else None
    if n < 3:
        return Estimate(level_value, math.inf, 1.0), None
    t_mean = statistics.fmean(t for t, _ in pts)
    residuals = _residuals(pts, trend or 0.0)
    tau = inflation(residuals)
    s2 = sum(r * r for r in residuals) / max(n - 2, 1)
    dof = max(n / tau - 2, 1.0)
    level_var = tau * s2 / n
    if noise is not None:  # the larger variance, known as well as blue's long history knows it
        level_var, dof = max(level_var, noise.level_variance(n)), max(dof, noise.dof)
    level = Estimate(level_value, level_var, dof)
    if trend is None:
        return level, None
    sxx = sum((t - t_mean) ** 2 for t, _ in pts)
    slope_var = tau * s2 / sxx if sxx > 0 else math.inf
    slope_dof = max(n / tau - 2, 1.0)
    if noise is not None:
        slope_var, slope_dof = max(slope_var, noise.slope_variance([t for t, _ in pts])), max(slope_dof, noise.dof)
    return level, Estimate(trend, slope_var, slope_dof)
