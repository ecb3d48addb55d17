"""The decision function: one reconcile's worth of judgement, with no I/O and no clock.

Its one caller is :mod:`controller.engine`, which loops::

    status = stored status (or RolloutStatus())
    router = routing_in_effect(spec, status)          # which object carries green's share
    results = analyse(...) if evaluation_due(spec, status, now) else None
    decision = decide(spec, status, Observations(router_weight, blue, green, results, ...), commands, now)
    persist decision.status FIRST (it records every weight about to be written: intent before action)
    apply decision.actions in order (SetWeight: write and read back; ScaleTrack; EmitEvent best-effort)
    call again after decision.requeue_after seconds or on any watch event

Everything ``decide`` knows lives in ``status``, so a restarted caller resumes exactly where it was;
calling it again with the same inputs and the returned status asks for nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from controller.core.actions import Decision, EmitEvent
from controller.core.commands import Command
from controller.core.conditions import PREFLIGHT, PROGRESSING, ConditionStatus, find, set_condition
from controller.core.control import apply_commands
from controller.core.deletion import handle_deletion
from controller.core.draft import Draft
from controller.core.edits import absorb_edits
from controller.core.evaluation import absorb_evaluation, escalate_hold
from controller.core.events import event_type
from controller.core.failure import clear_failure
from controller.core.health import green_healthy
from controller.core.observations import Deletion, Observations
from controller.core.preflight import run_preflight, watch_tracks
from controller.core.promotion import after_promotion
from controller.core.rollback import drive_rollback, rolling_back
from controller.core.schedule import next_evaluation_at, requeue_after
from controller.core.steps import advance_if_complete, start_traffic
from controller.core.template import check_green_template
from controller.core.traffic import sync
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus


def decide(
    spec: RolloutSpec,
    status: RolloutStatus,
    observations: Observations,
    commands: Sequence[Command],
    now: datetime,
) -> Decision:
    """Decide what to do now; see the module docstring for the caller's loop."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC), so that status timestamps compare and round-trip")
    d = Draft(spec, observations, now, status)
    clear_failure(d)
    absorb_edits(d)
    if handle_deletion(d):
        return _finish(d, waiting=not d.release_finalizer)
    apply_commands(d, commands)
    check_green_template(d)
    waiting = _step(d)
    if _template_deferred(d):
        check_green_template(d)  # a rollback finished in this call; act on the new template now
        waiting = _step(d)
    return _finish(d, waiting)


def _template_deferred(d: Draft) -> bool:
    seen = d.observations.green.template_hash
    return seen is not None and seen != d.status.green_template_hash and not rolling_back(d)


def _step(d: Draft) -> bool:
    """Run the rules for the current phase; True when waiting on the world (poll soon)."""
    phase = d.status.phase
    if rolling_back(d):
        drive_rollback(d)
        return True
    if phase == "Promoted":
        after_promotion(d)
        return d.observations.router_weight is None
    if phase in ("RolledBack", "Aborted"):
        return False
    if phase in ("Pending", "Invalid"):
        return _pending(d)
    return _active(d)


def _pending(d: Draft) -> bool:
    """Preflight; once it passes and no weight change is pending, traffic starts."""
    ready = run_preflight(d)
    sync(d)
    if ready and d.status.target_weight is None and d.observations.router_weight is not None:
        preflight = find(d.status.conditions, PREFLIGHT)
        start_traffic(d, preflight.message if preflight else "Preflight passed")
        advance_if_complete(d)  # a manual first step already at its weight gates at once
    return True


def _active(d: Draft) -> bool:
    """Progressing or Paused: judge the evaluation, escalate holds, keep traffic true, advance steps."""
    if not watch_tracks(d):
        return True
    absorb_evaluation(d)
    if not rolling_back(d):
        escalate_hold(d)
    healthy = rolling_back(d) or green_healthy(d)
    if rolling_back(d):
        return True
    in_sync = sync(d)
    if in_sync and healthy:
        advance_if_complete(d)
    if d.status.phase == "Promoted":
        after_promotion(d)  # with scaleDownBlueAfter 0s blue goes in the same call
    return not in_sync


def _finish(d: Draft, waiting: bool) -> Decision:
    status = d.status
    reason, state = _progressing(status)
    conditions = set_condition(status.conditions, PROGRESSING, state, reason, status.message, now=d.now)
    status = status.model_copy(update={"conditions": conditions})
    return Decision(
        status=status,
        actions=d.actions(),
        requeue_after=requeue_after(d.spec, status, d.now, waiting),
        evaluate_at=next_evaluation_at(d.spec, status),
        release_finalizer=d.release_finalizer,
    )


def _progressing(status: RolloutStatus) -> tuple[str, ConditionStatus]:
    """The Progressing condition follows the phase: True only while traffic is moving."""
    if status.rollback is not None and status.rollback.completed_at is None:
        return "RollingBack", "True"
    if status.phase == "Progressing":
        return "StepInProgress", "True"
    if status.phase == "Pending":
        return "Preflight", "Unknown"
    if status.phase == "Paused":
        return status.pause_reason or "Paused", "False"
    return status.phase, "False"


def reject(status: RolloutStatus, problem: str, now: datetime, deletion: Deletion | None = None) -> Decision:
    """The spec cannot be used (``problem`` names the field): phase Invalid, one event, no traffic change.

    Being deleted with an unusable spec, the finalizer lets go once green is recorded at 0%, or when the
    wait is over or skipped (the spec cannot say which router to empty).
    """
    release = deletion is not None and (
        deletion.skip
        or (status.weight == 0 and status.target_weight in (None, 0))
        or (now - deletion.requested_at).total_seconds() >= deletion.timeout
    )
    if status.phase == "Invalid" and status.message == problem:
        return Decision(status, (), None, None, release_finalizer=release)
    event = EmitEvent(event_type("InvalidSpec"), "InvalidSpec", problem)
    conditions = set_condition(status.conditions, PROGRESSING, "False", "Invalid", problem, now=now)
    new = status.model_copy(update={"phase": "Invalid", "message": problem, "conditions": conditions})
    return Decision(new, (event,), None, None, release_finalizer=release)
