"""Kubernetes-style conditions whose ``lastTransitionTime`` moves only when their status flips.

Tools such as ``kubectl wait`` and alerting on "False for 10m" rely on that timestamp meaning "since
when", so rewriting the reason or message keeps it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from controller.model.status import Condition

ConditionStatus = Literal["True", "False", "Unknown"]
PREFLIGHT = "Preflight"
PROGRESSING = "Progressing"
ANALYSIS_HEALTHY = "AnalysisHealthy"
TRAFFIC_VERIFIED = "TrafficVerified"


def find(conditions: list[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    *,
    now: datetime,
) -> list[Condition]:
    """A new list with ``type_`` set; the transition time is kept unless the status changes."""
    old = find(conditions, type_)
    changed = old is None or old.status != status
    when = now if changed or old is None else old.last_transition_time
    new = Condition(type=type_, status=status, reason=reason, message=message, last_transition_time=when)
    if old == new:
        return conditions
    others = [c for c in conditions if c.type != type_]
    return sorted([*others, new], key=lambda c: c.type)
