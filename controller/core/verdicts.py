"""Turning one evaluation's check results into a single judgement the rules act on.

Every check in the spec is judged: a check with no result is Inconclusive (missing data never passes).
Fail beats an outage (a measured breach is evidence even when another query timed out), an outage beats
other inconclusive results (it is the platform's fault, not green's), and only an evaluation where every
check passes is a pass.

Warm-up is applied here, in the core: for ``analysis.warmup`` seconds after green first takes traffic,
the verdicts (Pass *and* Fail) of level checks — those with ``max``, ``min``, ``maxRatioToBlue`` or
``maxIncreaseOverBlue`` — are set aside, because fresh pods' caches, JIT-less imports and connection
pools make levels meaningless. Slope-only checks and ``python-version`` keep counting. An evaluation
with set-aside verdicts neither passes, nor fails, nor starts a hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from controller.core.results import FAIL, INCONCLUSIVE, PASS, CheckResult
from controller.model.spec import Check, RolloutSpec
from controller.model.status import CheckStatus, RolloutStatus, TrackValues

Judgement = Literal["pass", "fail", "critical", "outage", "inconclusive", "warmup"]
LEVEL_THRESHOLDS = ("max", "min", "max_ratio_to_blue", "max_increase_over_blue")


@dataclass(frozen=True)
class Assessment:
    judgement: Judgement
    lead: CheckResult | None
    """The result that explains the judgement (the failing, outage or inconclusive check)."""
    checks: list[CheckStatus]
    failing: int = 0


def warmup_applies(check: Check) -> bool:
    """Level checks are judged only after warm-up; trends and the Python version from the start."""
    return check.template != "python-version" and any(getattr(check, t) is not None for t in LEVEL_THRESHOLDS)


def in_warmup(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    started = status.traffic_started_at
    return started is not None and (now - started).total_seconds() < spec.analysis.warmup


def assess(spec: RolloutSpec, results: tuple[CheckResult, ...], warming: bool, now: datetime) -> Assessment:
    by_name = {r.name: r for r in results}
    judged: list[tuple[Check, CheckResult, bool]] = []
    for check in spec.analysis.checks:
        result = by_name.get(check.name) or CheckResult(
            check.name, INCONCLUSIVE, f"{check.name}: no result in this evaluation"
        )
        set_aside = warming and warmup_applies(check) and result.verdict != INCONCLUSIVE
        judged.append((check, result, set_aside))
    checks = [_status(result, set_aside, now) for _, result, set_aside in judged]
    return _judge(judged, checks)


def _judge(judged: list[tuple[Check, CheckResult, bool]], checks: list[CheckStatus]) -> Assessment:
    counted = [(c, r) for c, r, aside in judged if not aside]
    fails = [(c, r) for c, r in counted if r.verdict == FAIL]
    critical = [r for c, r in fails if c.critical]
    if critical:
        return Assessment("critical", critical[0], checks, len(fails))
    if fails:
        return Assessment("fail", fails[0][1], checks, len(fails))
    outages = [r for _, r in counted if r.verdict == INCONCLUSIVE and r.outage]
    if outages:
        return Assessment("outage", outages[0], checks)
    unsure = [r for _, r in counted if r.verdict != PASS]
    if unsure:
        return Assessment("inconclusive", unsure[0], checks)
    if len(counted) < len(judged):
        return Assessment("warmup", None, checks)
    return Assessment("pass", None, checks)


def _finite(value: float | None) -> float | None:
    """NaN and infinities do not survive JSON; the message still carries them as text."""
    return value if value is not None and math.isfinite(value) else None


def _status(result: CheckResult, set_aside: bool, now: datetime) -> CheckStatus:
    message = result.message + (" (set aside during warm-up)" if set_aside else "")
    return CheckStatus(
        name=result.name,
        verdict=result.verdict,
        green=_finite(result.green),
        blue=_finite(result.blue),
        threshold=result.threshold,
        samples=result.samples,
        message=message,
        outage=result.outage,
        evaluated_at=now,
        unit=result.unit,
        measure=result.measure,
        level=_pair(result.levels),
        slope=_pair(result.slopes),
    )


def _pair(values: tuple[float | None, float | None] | None) -> TrackValues | None:
    return None if values is None else TrackValues(green=_finite(values[0]), blue=_finite(values[1]))


def summary(results: list[CheckStatus]) -> str:
    """``p99-latency Pass, errors Fail`` for messages that list every check."""
    return ", ".join(f"{c.name} {c.verdict}" for c in results)
