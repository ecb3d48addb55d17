"""Deleting a rollout returns traffic to blue first: the finalizer holds the object until then.

A rollout that is not ``Promoted`` rolls back (green to 0%, verified) before the object may go. A promoted
rollout lets go at once: green is production and blue may already be gone. The wait is bounded (the
operator's ``--finalizer-timeout``): after it the object is released with a Warning that says what green
may still hold. The annotation ``greenlane.dev/skip-finalizer: "true"`` releases it at once, for when the
router itself is gone or broken and a human has taken over.
"""

from __future__ import annotations

from controller.core.draft import Draft, duration
from controller.core.rollback import drive_rollback, rolling_back, start_rollback


def traffic_on_blue(d: Draft) -> bool:
    """Green is verified at 0% with nothing pending, or the rollout is promoted (green is production)."""
    status = d.status
    if status.phase == "Promoted":
        return True
    settled = status.target_weight in (None, 0) and not rolling_back(d)
    return settled and status.weight == 0 and d.observations.router_weight in (0, None)


def handle_deletion(d: Draft) -> bool:
    """True when the rollout is being deleted (the deletion rules replace the normal ones)."""
    deletion = d.observations.deletion
    if deletion is None:
        return False
    waited = d.since(deletion.requested_at)
    if deletion.skip:
        _release(d, f"skip-finalizer annotation set: released without checking traffic (green at {d.status.weight}%)")
    elif traffic_on_blue(d):
        _release(d, None)
    elif waited >= deletion.timeout:
        _release(
            d,
            f"green still at {d.observations.router_weight if d.observations.router_weight is not None else '?'}% "
            f"after waiting {duration(waited)} for it to reach 0%; released anyway, check the router",
        )
    elif rolling_back(d):
        drive_rollback(d)
        if traffic_on_blue(d):
            _release(d, None)
    else:
        start_rollback(d, "Deleted", "the rollout is being deleted; returning traffic to blue first")
        if traffic_on_blue(d):
            _release(d, None)
    return True


def _release(d: Draft, warning: str | None) -> None:
    d.release_finalizer = True
    if warning is None:
        d.emit("Deleted", f"Traffic is on blue (green at {d.status.weight}%); the rollout may be deleted")
    else:
        d.emit("DeletionForced", warning)
