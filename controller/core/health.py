"""Green must stay healthy while it takes traffic, not only at preflight.

While a rollout is active, green having fewer available replicas than desired (pods crash-looping, a
node drained, scaled to 0 by hand) holds the step: no advance, no promotion, analysis keeps running (a
failing check still rolls back). After ``maxHold`` it follows ``onHold``: pause for a human, or roll back.
"""

from __future__ import annotations

from controller.core.conditions import find
from controller.core.draft import Draft, duration
from controller.core.rollback import start_rollback

GREEN_AVAILABLE = "GreenAvailable"


def green_healthy(d: Draft) -> bool:
    """False (and a hold that escalates after maxHold) while green lacks available replicas."""
    green = d.observations.green
    ok = green.desired_replicas > 0 and green.available_replicas >= green.desired_replicas
    deployment = d.spec.green.deployment
    if ok:
        since = d.status.green_unavailable_since
        if since is not None:
            d.update(green_unavailable_since=None)
            d.emit("GreenRecovered", f"green {deployment} available again after {duration(d.since(since))}")
        if find(d.status.conditions, GREEN_AVAILABLE) is not None:  # shown once it has been False
            d.condition(GREEN_AVAILABLE, "True", "Available", f"{green.available_replicas} replicas available")
        return True
    what = f"green {deployment}: {green.available_replicas}/{green.desired_replicas} replicas available"
    since = d.status.green_unavailable_since or d.now
    d.update(green_unavailable_since=since)
    if d.condition(GREEN_AVAILABLE, "False", "Unavailable", what):
        d.emit("GreenUnavailable", f"{what} at {d.where()}; holding green at {d.status.weight}%")
    _escalate(d, what)
    return False


def _escalate(d: Draft, what: str) -> None:
    since = d.status.green_unavailable_since
    held, limit = d.since(since), d.spec.analysis.max_hold
    if d.status.phase != "Progressing" or held < limit:
        return
    cause = f"{what} for {duration(held)} (maxHold {duration(limit)}, onHold {d.spec.analysis.on_hold})"
    if d.spec.analysis.on_hold == "rollback":
        start_rollback(d, "GreenUnavailable", cause)
        return
    d.update(phase="Paused", pause_reason="GreenUnavailable", message=f"Paused at {d.where()}: {cause}")
    d.emit("Paused", f"Paused at {d.where()}: {cause}; `greenlane resume` once green is healthy, `abort` to roll back")
