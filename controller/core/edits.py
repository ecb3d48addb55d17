"""Edits of the spec while a rollout is in flight: each part of the spec has one defined outcome.

- ``steps``: green keeps its verified weight; the rollout continues at the first new step whose weight
  is at or above it. When that step's weight is higher, green moves there only after ``requiredPasses``
  passing evaluations at the current weight, like any step completion. A pending weight above the new
  step's is lowered at once. Nothing is promoted until the router reads 100%.
- ``analysis`` (checks, interval, limits): evidence gathered under the old checks does not count for the
  new ones, so pass and failure streaks, the last verdicts and any hold start over.
- ``blue``/``green`` Deployments: a different Deployment is a different build or baseline; the rollout
  restarts from step 1 at 0%, like a new green pod template (after promotion or abort it is recorded only).
- ``trafficRouting`` and the Services it names: see :func:`routing_in_effect`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from controller.core.draft import Draft
from controller.core.rollback import rolling_back
from controller.core.steps import restart
from controller.core.traffic import request_weight
from controller.model.spec import RolloutSpec
from controller.model.status import AppliedRouting, RolloutStatus, SpecFingerprint

RESTARTING_PHASES = frozenset({"Pending", "Invalid", "Progressing", "Paused", "RolledBack"})


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(spec: RolloutSpec) -> SpecFingerprint:
    wire = spec.to_wire()
    tracks = {side: (wire[side].get("deployment"), wire[side].get("expectPython")) for side in ("blue", "green")}
    return SpecFingerprint(steps=_digest(wire["steps"]), analysis=_digest(wire["analysis"]), tracks=_digest(tracks))


def traffic_at_stake(status: RolloutStatus) -> bool:
    """Green may hold traffic on the recorded router (or a move or rollback is under way)."""
    if status.phase == "Promoted":
        return False
    pending = status.target_weight not in (None, 0)
    in_rollback = status.rollback is not None and status.rollback.completed_at is None
    return status.weight > 0 or pending or in_rollback


def routing_in_effect(spec: RolloutSpec, status: RolloutStatus) -> AppliedRouting:
    """The router to read and steer now: the recorded one while traffic is at stake, else the spec's.

    The caller reads the weight from this router *before* deciding, and :func:`absorb_edits` records the
    same answer, so the observation and the status never disagree about which object was read.
    """
    wanted = AppliedRouting.of(spec)
    recorded = status.routing
    if recorded is None or recorded == wanted or not traffic_at_stake(status):
        return wanted
    return recorded


def absorb_edits(d: Draft) -> None:
    """Compare the spec with the one the progress was made under, and apply the edit rules above."""
    _adopt_routing(d)
    new = fingerprint(d.spec)
    old = d.status.spec_fingerprint
    d.update(spec_fingerprint=new)
    if old is None:
        return
    if old.tracks != new.tracks:
        _tracks_changed(d)
        return
    if old.steps != new.steps:
        _steps_changed(d)
    if old.analysis != new.analysis:
        _analysis_changed(d)


def _adopt_routing(d: Draft) -> None:
    effective = routing_in_effect(d.spec, d.status)
    wanted = AppliedRouting.of(d.spec)
    if effective != wanted:
        message = (
            f"trafficRouting changed while green has {d.status.weight}%: greenlane keeps steering the "
            "router it set until green is back at 0% or promoted, then switches"
        )
        if d.condition("RoutingCurrent", "False", "RoutingChangeDeferred", message):
            d.emit("SpecChanged", message)
    elif d.status.routing is not None and d.status.routing != wanted:
        d.condition("RoutingCurrent", "True", "RoutingAdopted", "the spec's trafficRouting is in effect")
        d.emit("SpecChanged", "trafficRouting changed: the new router is in effect from now on")
    d.update(routing=effective)


def _tracks_changed(d: Draft) -> None:
    change = "blue/green Deployments changed"
    if d.status.phase not in RESTARTING_PHASES or rolling_back(d):
        d.emit("SpecChanged", f"{change}; no restart in phase {d.status.phase}")
        return
    restart(d)
    d.update(message=f"Restarting: {change}")
    d.emit("SpecChanged", f"{change}: everything judged so far is void; restarting from step 1 at 0%")


def _steps_changed(d: Draft) -> None:
    status = d.status
    if status.phase not in ("Progressing", "Paused") or rolling_back(d):
        d.update(current_step=min(status.current_step, len(d.spec.steps) - 1))
        return
    verified = status.weight
    index = next(i for i, s in enumerate(d.spec.steps) if s.weight >= verified)
    d.update(current_step=index)
    if status.phase == "Paused" and status.pause_reason == "ManualStep" and not d.step.manual:
        d.update(phase="Progressing", pause_reason=None)
    target = status.target_weight
    if target is not None and target > d.step.weight:
        request_weight(d, d.step.weight)  # never raise green beyond the new step
    how = (
        "continuing there"
        if d.step.weight == verified
        else (f"moving there after {d.spec.analysis.required_passes} passing evaluations at {verified}%")
    )
    d.update(message=f"Steps changed: at {d.where()}")
    d.emit("SpecChanged", f"steps changed with green at {verified}%: now {d.where()}, {how}")


def _analysis_changed(d: Draft) -> None:
    if d.status.phase not in ("Progressing", "Paused") or rolling_back(d):
        return
    d.update(consecutive_passes=0, consecutive_failures=0, checks=[], hold_since=None, hold_kind=None)
    d.emit("SpecChanged", f"analysis changed at {d.where()}: pass and failure counts start over")
