"""After promotion: keep green at 100%, then scale blue to 0 once ``scaleDownBlueAfter`` has passed.

Blue is the instant rollback path, so it is scaled down only when the router is verified at 100%, the
delay has passed since promotion, and never twice: the request is repeated only if the Deployment still
shows replicas a while later, and ``blueScaledDown`` is recorded only when it shows 0.
"""

from __future__ import annotations

from controller.core.actions import ScaleTrack
from controller.core.draft import Draft, duration
from controller.core.traffic import sync


def after_promotion(d: Draft) -> None:
    in_sync = sync(d)
    status = d.status
    if status.blue_scaled_down or status.promoted_at is None:
        return
    blue = d.observations.blue
    if status.blue_scale_down_requested_at is not None and (not blue.exists or blue.desired_replicas == 0):
        d.update(blue_scaled_down=True, message="Promoted; blue scaled down")
        d.emit("BlueScaledDown", f"Blue {d.spec.blue.deployment} scaled to 0 replicas after {_after(d)}")
        return
    due = d.since(status.promoted_at) >= d.spec.promotion.scale_down_blue_after
    if not (due and in_sync and status.weight == 100 and d.retry_due(status.blue_scale_down_requested_at)):
        return
    d.traffic.append(ScaleTrack("blue", 0))
    d.update(blue_scale_down_requested_at=d.now)


def _after(d: Draft) -> str:
    return f"scaleDownBlueAfter {duration(d.spec.promotion.scale_down_blue_after)}"
