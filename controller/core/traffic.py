"""Two-phase weight changes: request a weight, believe it only when the router reads it back.

The step's bake clock starts at confirmation, not at the request, so a slow or failing router can never
make a step look baked. A router that shows another weight than the status says, with no change
pending, was edited by someone else: the weight is re-asserted and a Warning says so.
"""

from __future__ import annotations

from controller.core.conditions import TRAFFIC_VERIFIED
from controller.core.draft import Draft, duration

CORRECTING_PHASES = frozenset({"Progressing", "Paused", "Promoted"})


def request_weight(d: Draft, green: int) -> None:
    """Ask for ``green``; when the router already shows it, it is confirmed at once without a write."""
    if d.observations.router_weight == green:
        d.update(target_weight=green)
        confirm(d)
    else:
        d.set_weight(green)


def confirm(d: Draft) -> None:
    """The router shows the requested weight: record it and, for a fresh step, start its bake clock."""
    green = d.status.target_weight
    if green is None:
        return
    d.update(weight=green, target_weight=None, weight_requested_at=None)
    d.condition(TRAFFIC_VERIFIED, "True", "WeightVerified", f"router shows green at {green}%")
    starts_step = (
        d.status.phase in ("Progressing", "Paused") and d.status.rollback is None and d.status.step_started_at is None
    )
    if not starts_step:
        return
    traffic_started = d.status.traffic_started_at or (d.now if green > 0 else None)
    d.update(step_started_at=d.now, traffic_started_at=traffic_started)
    if green == d.step.weight:
        d.emit("WeightSet", f"Green at {green}% verified on the router, {d.where()}; bake {duration(d.step.pause)}")
    else:  # between steps after an edit: evaluations run here until the move to the step's weight
        d.emit("WeightSet", f"Green at {green}% verified on the router; {d.where()} follows on passing evaluations")


def sync(d: Draft) -> bool:
    """Reconcile the router with the status; True when it shows ``status.weight`` and nothing is pending."""
    observed = d.observations.router_weight
    if observed is None:
        if d.condition(TRAFFIC_VERIFIED, "False", "RouterUnavailable", "router weight cannot be read"):
            d.emit("RouterUnavailable", f"Cannot read green's weight from the router at {d.where()}; holding")
        return False
    target = d.status.target_weight
    if target is not None:
        return _pending(d, observed, target)
    if observed != d.status.weight:
        return _drift(d, observed)
    d.condition(TRAFFIC_VERIFIED, "True", "WeightVerified", f"router shows green at {observed}%")
    return True


def _pending(d: Draft, observed: int, target: int) -> bool:
    if observed == target:
        confirm(d)
        return True
    if d.retry_due(d.status.weight_requested_at):
        d.set_weight(target)
    return False


def _drift(d: Draft, observed: int) -> bool:
    expected = d.status.weight
    message = f"router shows green at {observed}%, expected {expected}%"
    if d.status.phase not in CORRECTING_PHASES:
        d.condition(TRAFFIC_VERIFIED, "False", "WeightDrift", message + "; corrected when traffic starts")
        return False
    d.condition(TRAFFIC_VERIFIED, "False", "WeightDrift", message)
    d.emit("WeightDrift", f"Router shows green at {observed}% but greenlane set {expected}%; re-asserting {expected}%")
    d.set_weight(expected)
    return False
