"""Applying human commands: promote, abort, retry, pause, resume.

- promote lifts the current step's pause (a manual gate or the rest of a bake); the step still completes
  only on its passing evaluations. It applies while Progressing or at a manual gate.
- abort rolls back (green to 0, verified) and stays ``Aborted``; after promotion it works while blue still
  runs (before ``scaleDownBlueAfter``), which is what that bake is for.
- retry restarts from step 0 at weight 0 from RolledBack, Aborted or Paused.
- pause holds a Progressing rollout (analysis keeps running and still rolls back on failure); resume
  continues a paused one and gives an analysis hold a fresh ``maxHold``.
- promote-full (for when blue is the broken side) skips the remaining steps: green goes to 100% and the
  rollout is promoted once the router reads it, without baking or passes; analysis still runs on the way
  and a failure still rolls back.
Anything else is consumed with a ``CommandIgnored`` Warning naming the phase; an annotation that could not
be parsed is consumed with a ``CommandRejected`` Warning saying why, so it cannot fire later by surprise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from controller.core.commands import Command, unapplied
from controller.core.draft import Draft
from controller.core.rollback import rolling_back, start_rollback
from controller.core.steps import FRESH_STEP, restart
from controller.core.traffic import request_weight


def apply_commands(d: Draft, commands: Sequence[Command]) -> None:
    for command in unapplied(commands, d.status.last_command):
        d.update(last_command=command.id)
        if command.kind == "invalid":
            d.emit("CommandRejected", f"greenlane.dev/command not applied ({command.id}): {command.problem}")
            continue
        refusal = HANDLERS[command.kind](d, command)
        if refusal:
            d.emit(
                "CommandIgnored",
                f"{command.kind}{command.by_suffix} ({command.id}) ignored in phase {d.status.phase}: {refusal}",
            )


def _promote(d: Draft, command: Command) -> str | None:
    status = d.status
    if rolling_back(d):
        return "a rollback is in progress"
    manual_gate = status.phase == "Paused" and status.pause_reason == "ManualStep"
    if status.phase != "Progressing" and not manual_gate:
        return "promote applies while Progressing or at a manual step; resume a paused rollout first"
    d.update(phase="Progressing", pause_reason=None, pause_lifted=True)
    passes, required = status.consecutive_passes, d.spec.analysis.required_passes
    d.emit("PromoteAccepted", f"Pause of {d.where()} lifted by {command.who}; completes at {passes}/{required} passes")
    return None


def _promote_full(d: Draft, command: Command) -> str | None:
    status = d.status
    if rolling_back(d):
        return "a rollback is in progress"
    if status.phase not in ("Progressing", "Paused"):
        return "promote --full applies while Progressing or Paused"
    was = d.where()
    d.update(phase="Progressing", pause_reason=None, current_step=len(d.spec.steps) - 1, **FRESH_STEP)
    d.update(full_promotion=True, pause_lifted=True, message=f"Promoting fully by {command.who}")
    d.emit("PromoteFullAccepted", f"promote --full by {command.who} at {was}: skipping to 100% without further bakes")
    request_weight(d, 100)
    return None


def _abort(d: Draft, command: Command) -> str | None:
    status = d.status
    if status.phase == "Aborted":
        return "already aborted"
    if status.phase == "Promoted" and (status.blue_scaled_down or status.blue_scale_down_requested_at):
        return "blue is already scaled down; scale it up and use retry"
    if status.phase == "RolledBack" or rolling_back(d):
        if status.rollback is not None:
            d.update(rollback=status.rollback.model_copy(update={"final_phase": "Aborted"}))
        if status.phase == "RolledBack":
            d.update(phase="Aborted", message=f"Aborted by {command.who} after rollback")
            d.emit("Aborted", f"Aborted by {command.who}; green stays at 0%")
        return None
    start_rollback(d, "Aborted", f"abort command {command.who}", final_phase="Aborted")
    return None


def _retry(d: Draft, command: Command) -> str | None:
    if d.status.phase not in ("RolledBack", "Aborted", "Paused") or rolling_back(d):
        return "retry applies to RolledBack, Aborted or Paused rollouts"
    was = d.status.phase
    restart(d)
    d.update(message=f"Retrying from step 1 (was {was})")
    d.emit("Retried", f"Retry by {command.who}: restarting from step 1 at 0% after {was}")
    return None


def _pause(d: Draft, command: Command) -> str | None:
    if d.status.phase != "Progressing" or rolling_back(d):
        return "pause applies to a Progressing rollout"
    d.update(phase="Paused", pause_reason="Command", message=f"Paused by {command.who} at {d.where()}")
    d.emit("Paused", f"Paused by {command.who} at {d.where()}, green at {d.status.weight}%; analysis keeps running")
    return None


def _resume(d: Draft, command: Command) -> str | None:
    status = d.status
    if status.phase != "Paused":
        return "resume applies to a Paused rollout"
    if status.pause_reason == "ManualStep":
        return "this step is a manual gate; use promote"
    d.update(
        phase="Progressing",
        pause_reason=None,
        hold_since=None,
        hold_kind=None,
        green_unavailable_since=None,
        reconcile_errors_since=None,
        message=f"At {d.where()}",
    )
    d.emit("Resumed", f"Resumed by {command.who} at {d.where()} (was paused: {status.pause_reason})")
    return None


HANDLERS: dict[str, Callable[[Draft, Command], str | None]] = {
    "promote": _promote,
    "promote-full": _promote_full,
    "abort": _abort,
    "retry": _retry,
    "pause": _pause,
    "resume": _resume,
}
