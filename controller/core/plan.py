"""The timeline of a rollout before it starts: how long each step takes at best, and how fast a breach is caught.

Earliest completion of a step (after its weight is verified) is the later of its pause and the time its
``requiredPasses`` counted evaluations take: evaluations run every ``interval`` from the weight's
verification, and during warm-up (``warmup`` after green first takes traffic, when the spec has level
checks) they do not count. A manual step needs a promote *and* its passes.

Worst-case time from a sustained breach to the rollback decision, per check::

    max(window + scrape lag, warm-up if it is a level check) + N x interval
    N = 1 for a critical check, failureLimit otherwise

The breach must fill the query window and reach Prometheus (one scrape, ``SCRAPE_LAG_SECONDS``), warm-up
must be over, and then the next evaluation (within one interval) starts N consecutive failing ones.
Router write and read-back of 0 follow in the same reconcile.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from controller.core.verdicts import warmup_applies
from controller.model.spec import Check, RolloutSpec

SCRAPE_LAG_SECONDS = 30.0
"""One scrape interval: the newest sample a query sees is up to this old (kube-prometheus scrapes every 30s)."""
DEFAULT_WINDOW_SECONDS = 300.0
"""Query window assumed for checks without ``window``; python-version is an instant query."""


def default_window(check: Check) -> float:
    if check.window is not None:
        return check.window
    return 0.0 if check.template == "python-version" else DEFAULT_WINDOW_SECONDS


@dataclass(frozen=True)
class StepPlan:
    number: int
    weight: int
    pause: float
    bake: float
    completes_at: float
    manual: bool
    limited_by: str  # pause, passes, warm-up or promote


@dataclass(frozen=True)
class Detection:
    check: str
    window: float
    critical: bool
    evaluations: int
    warmup: float
    worst_case: float


@dataclass(frozen=True)
class RolloutPlan:
    steps: tuple[StepPlan, ...]
    promotion_at: float
    blue_scaled_down_at: float
    manual_gates: int
    detections: tuple[Detection, ...]

    @property
    def slowest_detection(self) -> Detection:
        return max(self.detections, key=lambda d: d.worst_case)


def plan(spec: RolloutSpec, window_of: Callable[[Check], float] = default_window) -> RolloutPlan:
    """The earliest timeline and detection bounds; ``window_of`` lets analysis supply its template defaults."""
    steps = _steps(spec)
    promotion_at = steps[-1].completes_at
    return RolloutPlan(
        steps=steps,
        promotion_at=promotion_at,
        blue_scaled_down_at=promotion_at + spec.promotion.scale_down_blue_after,
        manual_gates=sum(s.manual for s in steps),
        detections=tuple(_detection(spec, c, window_of(c)) for c in spec.analysis.checks),
    )


def _steps(spec: RolloutSpec) -> tuple[StepPlan, ...]:
    analysis = spec.analysis
    warmup = analysis.warmup if any(warmup_applies(c) for c in analysis.checks) else 0.0
    out: list[StepPlan] = []
    start, traffic_start = 0.0, None
    for number, step in enumerate(spec.steps, start=1):
        if traffic_start is None and step.weight > 0:
            traffic_start = start
        remaining = 0.0 if traffic_start is None else traffic_start + warmup - start
        first = max(1, math.ceil(remaining / analysis.interval)) if analysis.interval > 0 else 1
        passes = (first + analysis.required_passes - 1) * analysis.interval
        bake = passes if step.manual else max(step.pause, passes)
        limited_by = "promote" if step.manual else "pause" if step.pause >= passes else "passes"
        if limited_by == "passes" and first > 1:
            limited_by = "warm-up"
        out.append(StepPlan(number, step.weight, step.pause, bake, start + bake, step.manual, limited_by))
        start += bake
    return tuple(out)


def _detection(spec: RolloutSpec, check: Check, window: float) -> Detection:
    analysis = spec.analysis
    evaluations = 1 if check.critical else analysis.failure_limit
    warmup = analysis.warmup if warmup_applies(check) else 0.0
    worst = max(window + SCRAPE_LAG_SECONDS, warmup) + evaluations * analysis.interval
    return Detection(check.name, window, check.critical, evaluations, warmup, worst)
