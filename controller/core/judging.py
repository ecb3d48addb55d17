"""How one evaluation judges: its share of the false-rollback budget, where its evidence starts, which
blue baseline applies. One definition for the operator, the demo, ``greenlane analyze`` and the bench.

The budget. ``1 - analysis.confidence`` (default 1%) is the probability that a healthy green sees even one
Fail anywhere in its rollout, which bounds false rollbacks. It is split equally among the checks that
measure something (every check but ``python-version``, which is exact, and custom queries, which carry no
sample size), then among a check's thresholds, then over time: the evaluation in time slot k (k-th
``interval`` since green first took traffic) spends ``N / ((N + k - 1)(N + k))`` of it, with N the
evaluations in ``FRONT_SECONDS``. These shares sum to 1 over an unbounded rollout, so by the union bound
(Bonferroni over every test, valid however the overlapping windows correlate; the alpha-spending idea of
Lan and DeMets with Bonferroni increments) the budget holds across every check and evaluation, holds
included. Half of it goes to the first ``FRONT_SECONDS``, when a regression present from the start shows;
later evaluations need stronger evidence, and they have it: data keeps coming.

A Pass is a different error: a green shown to meet its limit at ``PASS_CONFIDENCE`` one-sided, at that
evaluation (``requiredPasses`` times in a row). A wrong Pass moves on to a step where judging continues.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from controller.model.spec import Check, RolloutSpec
from controller.model.status import Baseline, RolloutStatus

PASS_CONFIDENCE = 0.95
FRONT_SECONDS = 600.0


def spends_budget(check: Check) -> bool:
    """Checks judged on intervals; ``python-version`` is exact and custom queries have no sample size."""
    return check.template is not None and check.template != "python-version"


def slot(spec: RolloutSpec, traffic_started: float | None, at: float) -> int:
    """Which ``interval`` since green first took traffic ``at`` falls in (1 before traffic or when unknown)."""
    interval = max(spec.analysis.interval, 1.0)
    if traffic_started is None or at <= traffic_started:
        return 1
    return math.floor((at - traffic_started) / interval) + 1


def fail_alpha(spec: RolloutSpec, check: Check, k: int) -> float:
    """One-sided false-Fail probability one threshold of ``check`` may spend in time slot ``k``."""
    checks = [c for c in spec.analysis.checks if spends_budget(c)] or [check]
    thresholds = max(1, len(check.thresholds()))
    n = max(1.0, round(FRONT_SECONDS / max(spec.analysis.interval, 1.0)))
    share = n / ((n + k - 1) * (n + k))
    return (1 - spec.analysis.confidence) / len(checks) / thresholds * share


@dataclass(frozen=True)
class Judging:
    """Everything an evaluation needs from the rollout's state; all times are unix seconds."""

    slot: int = 1
    step_started: float | None = None
    """Traffic checks judge evidence from here on: requests at this weight only."""
    warmup_until: float | None = None
    green_weight: int | None = None
    baselines: Mapping[str, Baseline] = field(default_factory=dict)

    @property
    def blue_idle(self) -> bool:
        """Blue serves no traffic: relative checks use its stored baseline."""
        return self.green_weight == 100


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def judging_for(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> Judging:
    """The judging context of an evaluation at ``now`` from the rollout's status."""
    started = _ts(status.traffic_started_at)
    warmup_until = None if started is None else started + spec.analysis.warmup
    return Judging(
        slot=slot(spec, started, now.timestamp()),
        step_started=_ts(status.step_started_at),
        warmup_until=warmup_until,
        green_weight=status.weight if status.phase != "Pending" else None,
        baselines={b.check: b for b in status.baselines},
    )
