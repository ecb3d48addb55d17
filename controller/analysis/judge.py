"""Thresholds applied to measured numbers: one outcome per threshold, one CheckResult per check.

Every outcome carries the sentence an on-call engineer reads ("memory slope +41.8 MiB/h vs blue
+0.3 MiB/h; limit +20.0 MiB/h over blue"). A threshold whose inputs are missing is Inconclusive, never
a pass; the check fails when any threshold fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from controller.analysis.aggregate import min_trend_span
from controller.analysis.measure import Measurement
from controller.analysis.plan import Plan
from controller.analysis.units import Unit
from controller.core.results import FAIL, INCONCLUSIVE, PASS, CheckResult, Verdict
from controller.model.quantities import format_duration


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    phrase: str
    green: float | None
    blue: float | None
    threshold: str
    measure: Literal["level", "slope"] = "level"


def _ratio(green: float, blue: float) -> float:
    if blue == 0:
        return 1.0 if green == 0 else math.inf
    return green / blue


def _known(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _level(name: str, u: Unit, kind: str, *, limit: float, g: float | None, b: float | None) -> Outcome:
    if g is None or not math.isfinite(g):
        return Outcome(INCONCLUSIVE, f"{name} is {u.value(g) if g is not None else 'missing'}", g, None, "")
    if kind == "max":
        phrase = f"{name} {u.value(g)}, max {u.value(limit)}"
        return Outcome(PASS if g <= limit else FAIL, phrase, g, None, f"<= {u.value(limit)}")
    if kind == "min":
        phrase = f"{name} {u.value(g)}, min {u.value(limit)}"
        return Outcome(PASS if g >= limit else FAIL, phrase, g, None, f">= {u.value(limit)}")
    if b is None or not math.isfinite(b):
        return Outcome(INCONCLUSIVE, f"{name} {u.value(g)}; blue has no value to compare with", g, b, "")
    if kind == "max_ratio_to_blue":
        ratio = _ratio(g, b)
        phrase = f"{name} {u.value(g)} is {ratio:.2f}x blue {u.value(b)}, limit {limit:.2f}x"
        return Outcome(PASS if ratio <= limit else FAIL, phrase, g, b, f"<= {limit:.2f}x blue")
    increase = g - b
    phrase = f"{name} {u.value(g)} is {u.delta(increase)} over blue {u.value(b)}, limit {u.delta(limit)}"
    return Outcome(PASS if increase <= limit else FAIL, phrase, g, b, f"<= blue {u.delta(limit)}")


def _slope(name: str, u: Unit, kind: str, *, limit: float, g: float | None, b: float | None, needed: float) -> Outcome:
    if g is None:
        phrase = f"{name} slope unknown: no series spans the {format_duration(needed)} a trend needs"
        return Outcome(INCONCLUSIVE, phrase, None, b, "", "slope")
    if kind == "max_slope":
        phrase = f"{name} slope {u.slope(g)}, limit {u.slope(limit)}"
        return Outcome(PASS if g <= limit else FAIL, phrase, g, b, f"slope <= {u.slope(limit)}", "slope")
    threshold = f"slope <= blue {u.slope(limit)}"
    if b is None:
        phrase = f"{name} slope {u.slope(g)}; blue has no trend to compare with"
        return Outcome(INCONCLUSIVE, phrase, g, None, threshold, "slope")
    phrase = f"{name} slope {u.slope(g)} vs blue {u.slope(b)}; limit {u.slope(limit)} over blue"
    return Outcome(PASS if g - b <= limit else FAIL, phrase, g, b, threshold, "slope")


def outcomes(plan: Plan, green: Measurement, blue: Measurement | None) -> list[Outcome]:
    out: list[Outcome] = []
    for kind, limit in plan.check.thresholds().items():
        slope = kind in ("max_slope", "max_slope_over_blue")
        g = green.slope if slope else green.level
        b = None if blue is None else (blue.slope if slope else blue.level)
        if slope:
            needed = min_trend_span(plan.window)
            out.append(_slope(plan.check.name, plan.unit, kind, limit=limit, g=g, b=b, needed=needed))
        else:
            out.append(_level(plan.check.name, plan.unit, kind, limit=limit, g=g, b=b))
    return out


def combine(name: str, results: list[Outcome], samples: int) -> CheckResult:
    """Fail if any threshold fails, else Inconclusive if any cannot be judged, else Pass; say why."""
    for verdict in (FAIL, INCONCLUSIVE):
        chosen = [o for o in results if o.verdict == verdict]
        if chosen:
            return _result(name, verdict, chosen, samples)
    return _result(name, PASS, results, samples)


def _result(name: str, verdict: Verdict, chosen: list[Outcome], samples: int) -> CheckResult:
    first = chosen[0]
    message = "; ".join(o.phrase for o in chosen)
    return CheckResult(
        name=name,
        verdict=verdict,
        message=message,
        green=first.green if _known(first.green) else None,
        blue=first.blue if _known(first.blue) else None,
        threshold=first.threshold,
        samples=samples,
        measure=first.measure,
    )
