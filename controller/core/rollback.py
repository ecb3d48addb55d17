"""Rollback: green to 0 first, verified on the router, and a record of why.

While the router does not yet show 0 the rollout stays ``Progressing`` with ``status.rollback`` set and
0 is written again every few seconds; only a read-back of 0 makes it ``RolledBack`` (or ``Aborted``).
"""

from __future__ import annotations

from controller.core.actions import SetWeight
from controller.core.draft import Draft
from controller.core.results import CheckResult
from controller.model.status import FinalPhase, RollbackRecord


def start_rollback(
    d: Draft,
    reason: str,
    cause: str,
    lead: CheckResult | None = None,
    final_phase: FinalPhase = "RolledBack",
) -> None:
    """Decide a rollback: ``SetWeight(0)`` becomes the first action, whatever else this call asked for.

    ``cause`` carries the numbers ("p99-latency 0.41s is 1.31x blue 0.31s, limit 1.10x (2/2 failures)").
    """
    weight = d.status.weight
    verb = "Rolled back" if final_phase == "RolledBack" else "Aborted"
    message = f"{verb} at {weight}%: {cause}"
    record = RollbackRecord(
        reason=reason,
        check=lead.name if lead else None,
        message=message,
        weight=weight,
        at=d.now,
        green=lead.green if lead else None,
        blue=lead.blue if lead else None,
        threshold=lead.threshold if lead else "",
        failures=d.status.consecutive_failures,
        final_phase=final_phase,
    )
    d.update(
        rollback=record,
        phase="Progressing",
        pause_reason=None,
        pause_lifted=False,
        hold_since=None,
        hold_kind=None,
        message=f"Rolling back from {weight}%: {cause}",
    )
    d.set_weight(0)
    d.traffic = [SetWeight(0), *(a for a in d.traffic if not isinstance(a, SetWeight))]
    d.emit("RollingBack", f"Setting green to 0% (was {weight}%): {cause}")
    drive_rollback(d)


def rolling_back(d: Draft) -> bool:
    return d.status.rollback is not None and d.status.rollback.completed_at is None


def drive_rollback(d: Draft) -> None:
    """Finish the rollback once the router shows 0; otherwise keep asking for 0."""
    record = d.status.rollback
    if record is None or record.completed_at is not None:
        return
    if d.observations.router_weight != 0:
        if d.retry_due(d.status.weight_requested_at):
            d.set_weight(0)
        return
    final = record.final_phase
    d.update(
        phase=final,
        weight=0,
        target_weight=None,
        weight_requested_at=None,
        step_started_at=None,
        rollback=record.model_copy(update={"completed_at": d.now}),
        message=record.message,
    )
    d.emit(final, record.message)
