"""Clock skew between the operator and Prometheus, measured at each evaluation.

Evaluations query windows ending "now" by the operator's clock. If Prometheus' clock is behind, the end of
every window lies in Prometheus' future: green's newest samples are missing, rates shrink, series look
absent, and a healthy green fails. Beyond :data:`MAX_CLOCK_SKEW` the evaluation is not run at all: the
rollout holds (weight frozen, condition ``ClockSynchronized=False`` naming the skew) and, like any hold,
follows ``onHold`` after ``maxHold``.
"""

from __future__ import annotations

import math

MAX_CLOCK_SKEW = 30.0
"""Seconds. NTP keeps clocks within milliseconds; 30 s is broken time sync, and a tenth of the shortest
sensible window (5m), where rates start to be visibly wrong."""
CLOCK_SYNCHRONIZED = "ClockSynchronized"


def skew_problem(skew: float | None) -> str | None:
    """A sentence naming the skew when it is too large to evaluate, else None."""
    if skew is None:
        return None
    if not math.isfinite(skew) or abs(skew) > MAX_CLOCK_SKEW:
        side = "behind" if skew < 0 else "ahead of"
        amount = f"{abs(skew):.0f}s" if math.isfinite(skew) else "an unknown amount"
        return (
            f"Prometheus' clock is {amount} {side} the operator's (limit {MAX_CLOCK_SKEW:.0f}s); "
            "fix time synchronisation (NTP) on the nodes"
        )
    return None
