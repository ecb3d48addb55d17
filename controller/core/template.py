"""A changed green pod template means a different build: everything judged so far is void.

While the rollout is active (Pending, Invalid, Progressing, Paused) or RolledBack, a new green template
restarts it from step 0 at weight 0 (through preflight again, so the new pods must be ready and on the
expected Python). After promotion green *is* production and blue may be gone, so the change is only
recorded; after an abort the human said stop, so it waits for retry.
"""

from __future__ import annotations

from controller.core.draft import Draft
from controller.core.rollback import rolling_back
from controller.core.steps import restart

RESTARTING_PHASES = frozenset({"Pending", "Invalid", "Progressing", "Paused", "RolledBack"})


def check_green_template(d: Draft) -> None:
    seen = d.observations.green.template_hash
    recorded = d.status.green_template_hash
    if seen is None or seen == recorded:
        return
    if recorded is None:
        d.update(green_template_hash=seen)
        return
    if rolling_back(d):
        return  # finish taking green out first; the change is acted on once RolledBack
    change = f"green {d.spec.green.deployment} pod template changed ({recorded} -> {seen})"
    if d.status.phase not in RESTARTING_PHASES:
        d.update(green_template_hash=seen)
        d.emit("GreenTemplateChanged", f"{change}; no restart in phase {d.status.phase}")
        return
    restart(d)
    d.update(message=f"Restarting: {change}")
    d.emit("GreenTemplateChanged", f"{change}; restarting from step 1 at 0%")
