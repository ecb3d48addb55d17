"""A reconcile that raised: visible in status and events, bounded by ``maxHold`` like any other hold.

The engine calls :func:`record_failure` when a reconcile fails for any reason it could not classify (an
API call that keeps failing, a bug). The rollout's weight stays frozen — no rule ran — and a condition
names the error. Failures that last ``maxHold`` follow ``onHold``: pause for a human, or roll back (green
to 0%, verified by the next reconcile that gets through). The first successful reconcile clears it.
"""

from __future__ import annotations

from datetime import datetime

from controller.core.actions import Decision
from controller.core.conditions import set_condition
from controller.core.draft import Draft, duration
from controller.core.observations import Observations
from controller.core.rollback import rolling_back, start_rollback
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus

RECONCILED = "Reconciled"


def record_failure(spec: RolloutSpec | None, status: RolloutStatus, error: str, now: datetime) -> Decision:
    """The status (and actions) after a failed reconcile; ``spec`` is None when it could not be parsed."""
    since = status.reconcile_errors_since or now
    conditions = set_condition(status.conditions, RECONCILED, "False", "ReconcileError", error, now=now)
    status = status.model_copy(update={"reconcile_errors_since": since, "conditions": conditions})
    if spec is None:
        return Decision(status, (), None, None)
    d = Draft(spec, Observations(router_weight=None), now, status)
    held, limit = d.since(since), spec.analysis.max_hold
    if status.phase == "Progressing" and not rolling_back(d) and held >= limit:
        cause = f"reconciles failing for {duration(held)} (maxHold {duration(limit)}): {error}"
        if spec.analysis.on_hold == "rollback":
            start_rollback(d, "ReconcileErrors", cause)
        else:
            d.update(phase="Paused", pause_reason="ReconcileErrors", message=f"Paused at {d.where()}: {cause}")
            d.emit("Paused", f"Paused at {d.where()}: {cause}")
    return Decision(d.status, d.actions(), None, None)


def clear_failure(d: Draft) -> None:
    """A reconcile got through: end the error state, once, with an event saying how long it lasted."""
    since = d.status.reconcile_errors_since
    if since is None:
        return
    d.update(reconcile_errors_since=None)
    d.condition(RECONCILED, "True", "ReconcileSucceeded", "the last reconcile succeeded")
    d.emit("ReconcileRecovered", f"Reconciles succeed again after {duration(d.since(since))} of errors")
