"""Steps: start traffic after preflight, complete a step when baked and passing, restart from step 0.

A step completes when its weight is verified, its pause has elapsed (or a promote lifted it) and the most
recent ``requiredPasses`` evaluations at that weight passed. A manual step pauses until promote lifts its
pause; even then its passes are required, so a promote never overrides a failing or silent analysis.
"""

from __future__ import annotations

from controller.core.draft import Draft, duration
from controller.core.traffic import request_weight

FRESH_STEP: dict[str, object] = {
    "step_started_at": None,
    "full_promotion": False,
    "pause_lifted": False,
    "consecutive_passes": 0,
    "consecutive_failures": 0,
    "hold_since": None,
    "hold_kind": None,
}


def start_traffic(d: Draft, preflight: str) -> None:
    """Preflight passed: enter Progressing and ask for the current step's weight."""
    green_hash = d.status.green_template_hash or d.observations.green.template_hash
    d.update(phase="Progressing", pause_reason=None, green_template_hash=green_hash, message=f"At {d.where()}")
    d.emit("PreflightPassed", f"{preflight}; starting {d.where()}")
    request_weight(d, d.step.weight)


def advance_if_complete(d: Draft) -> None:
    """Complete the current step when it has baked and passed; pause at a manual gate."""
    status = d.status
    if status.phase != "Progressing" or status.target_weight is not None or status.step_started_at is None:
        return
    if status.weight != d.step.weight:
        _realign(d)
        return
    if status.full_promotion:
        d.emit("StepCompleted", f"Completed {d.where()}: promote --full skipped its bake and analysis")
        _promote(d)
        return
    if d.step.manual and not status.pause_lifted:
        d.update(phase="Paused", pause_reason="ManualStep", message=f"Waiting for promote at {d.where()}")
        d.emit("ManualGate", f"Green at {status.weight}%, {d.where()} is manual: run `greenlane promote` to continue")
        return
    baked = d.since(status.step_started_at)
    if not status.pause_lifted and baked < d.step.pause:
        return
    required = d.spec.analysis.required_passes
    if status.consecutive_passes < required:
        return
    how = "pause lifted by promote" if status.pause_lifted else f"baked {duration(baked)}"
    d.emit("StepCompleted", f"Completed {d.where()}: {how}, {status.consecutive_passes}/{required} passes")
    if d.is_last_step:
        _promote(d)
    else:
        _next_step(d)


def _realign(d: Draft) -> None:
    """After a steps edit green sits between steps: lower at once, raise only on passing evidence."""
    status, required = d.status, d.spec.analysis.required_passes
    if status.weight < d.step.weight and status.consecutive_passes < required:
        return
    d.emit(
        "StepCompleted",
        f"Green at {status.weight}% with {status.consecutive_passes}/{required} passes; moving to {d.where()}",
    )
    d.update(**FRESH_STEP, message=f"Moving to {d.where()}")
    request_weight(d, d.step.weight)


def _next_step(d: Draft) -> None:
    d.update(current_step=d.step_index + 1, **FRESH_STEP)
    d.update(message=f"Moving to {d.where()}")
    request_weight(d, d.step.weight)
    advance_if_complete(d)  # same weight, already verified: a manual gate applies at once


def _promote(d: Draft) -> None:
    if d.status.weight != 100 or d.observations.router_weight != 100:
        return  # Promoted means the router reads 100%, nothing less
    after = d.spec.promotion.scale_down_blue_after
    d.update(phase="Promoted", promoted_at=d.now, pause_lifted=False, message="Promoted: green serves 100%")
    d.emit(
        "Promoted",
        f"Promoted after {len(d.spec.steps)} steps: green at {d.status.weight}%; "
        f"blue {d.spec.blue.deployment} scales to 0 in {duration(after)}",
    )


def restart(d: Draft) -> None:
    """Back to step 0 at weight 0 and through preflight again (retry, or a new green template)."""
    d.update(
        phase="Pending",
        current_step=0,
        pause_reason=None,
        rollback=None,
        traffic_started_at=None,
        last_evaluation_at=None,
        promoted_at=None,
        blue_scale_down_requested_at=None,
        blue_scaled_down=False,
        green_unavailable_since=None,
        conditions=[c for c in d.status.conditions if c.type != "GreenAvailable"],  # preflight re-checks it
        checks=[],
        green_template_hash=d.observations.green.template_hash or d.status.green_template_hash,
        **FRESH_STEP,
    )
    if d.status.weight != 0 or d.status.target_weight not in (None, 0):
        request_weight(d, 0)
