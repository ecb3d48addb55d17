"""Preflight: no traffic moves until both Deployments exist, are fully available, and run the right Python.

A missing Deployment is a spec problem (phase ``Invalid``, naming the field); unavailable replicas and
pods that have not reported ``python_info`` yet are waits; a pod on another Python is a Warning that keeps
the rollout ``Pending`` — never a crash, never traffic. Once traffic moves, a vanished green Deployment
rolls back (its share of requests is failing) and a vanished blue one makes the rollout ``Invalid``
without touching traffic (there is nothing safe to move it to).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.core.commands import Command, unapplied
from controller.core.conditions import PREFLIGHT
from controller.core.draft import Draft
from controller.core.edits import fingerprint
from controller.core.observations import Observations, TrackObservation
from controller.core.rollback import start_rollback
from controller.model.spec import RolloutSpec, Track
from controller.model.status import RolloutStatus


@dataclass(frozen=True)
class PreflightResult:
    ok: bool
    reason: str
    message: str


def python_matches(reported: str, expected: str) -> bool:
    """``3.12`` accepts ``3.12.4``; ``3.12.4`` accepts only itself."""
    want = expected.split(".")
    return reported.split(".")[: len(want)] == want


def check(spec: RolloutSpec, observations: Observations) -> PreflightResult:
    tracks = (("blue", spec.blue, observations.blue), ("green", spec.green, observations.green))
    for side, track, seen in tracks:
        if not seen.exists:
            return PreflightResult(False, "DeploymentMissing", _missing(side, track))
    for side, track, seen in tracks:
        if seen.desired_replicas <= 0 or seen.available_replicas < seen.desired_replicas:
            message = f"{side} {track.deployment}: {seen.available_replicas}/{seen.desired_replicas} replicas available"
            return PreflightResult(False, "ReplicasUnavailable", message)
    for side, track, seen in tracks:
        problem = _python_problem(side, track, seen)
        if problem is not None:
            return problem
    summary = ", ".join(f"{side} {seen.available_replicas} ready" for side, _, seen in tracks)
    return PreflightResult(True, "PreflightPassed", f"Preflight passed: {summary}{_versions(spec)}")


def _missing(side: str, track: Track) -> str:
    return f"spec.{side}.deployment: Deployment {track.deployment} not found"


def _versions(spec: RolloutSpec) -> str:
    parts = [f"{side} Python {t.expect_python}" for side, t in (("blue", spec.blue), ("green", spec.green))]
    checked = [p for p, t in zip(parts, (spec.blue, spec.green), strict=True) if t.expect_python]
    return f"; {', '.join(checked)} on every pod" if checked else ""


def _python_problem(side: str, track: Track, seen: TrackObservation) -> PreflightResult | None:
    expected = track.expect_python
    if expected is None:
        return None
    versions = seen.python_versions
    if versions is None:
        return PreflightResult(False, "PythonVersionUnknown", f"cannot read python_info for {side} pods")
    wrong = sorted((pod, v) for pod, v in versions.items() if not python_matches(v, expected))
    if wrong:
        pod, version = wrong[0]
        message = (
            f"{side} pod {pod} runs Python {version}, expected {expected} "
            f"({len(wrong)}/{len(versions)} pods on another version)"
        )
        return PreflightResult(False, "PythonVersionMismatch", message)
    if len(versions) < seen.available_replicas:
        message = f"{len(versions)}/{seen.available_replicas} {side} pods report python_info"
        return PreflightResult(False, "PythonVersionUnknown", message)
    return None


def run_preflight(d: Draft) -> bool:
    """Apply preflight to a Pending or Invalid rollout; True when traffic may start."""
    result = check(d.spec, d.observations)
    if result.reason == "DeploymentMissing":
        changed = d.condition(PREFLIGHT, "False", result.reason, result.message)
        if changed or d.status.phase != "Invalid":
            d.emit("DeploymentMissing", result.message)
        d.update(phase="Invalid", message=result.message)
        return False
    if d.status.phase == "Invalid":
        d.update(phase="Pending")
    if not result.ok:
        if d.condition(PREFLIGHT, "False", result.reason, result.message):
            mismatch = result.reason == "PythonVersionMismatch"
            d.emit("PythonVersionMismatch" if mismatch else "PreflightWaiting", result.message)
        d.update(message=f"Preflight: {result.message}")
        return False
    d.condition(PREFLIGHT, "True", "PreflightPassed", result.message)
    return True


def watch_tracks(d: Draft) -> bool:
    """While traffic moves: False (and a rollback or ``Invalid``) when a Deployment has vanished."""
    if not d.observations.green.exists:
        start_rollback(d, "GreenDeploymentMissing", _missing("green", d.spec.green))
        return False
    if not d.observations.blue.exists:
        message = _missing("blue", d.spec.blue)
        if d.condition(PREFLIGHT, "False", "DeploymentMissing", message):
            d.emit("DeploymentMissing", f"{message}; traffic left at {d.status.weight}%")
        d.update(phase="Invalid", pause_reason=None, message=message)
        return False
    return True


PREFLIGHT_PHASES = frozenset({"Pending", "Invalid"})


def python_versions_needed(
    spec: RolloutSpec, status: RolloutStatus, green_template_hash: str | None, commands: Sequence[Command]
) -> bool:
    """Whether this call may run preflight, so the caller must read ``python_info`` first.

    Versions are only judged before traffic moves; skipping the query otherwise saves a Prometheus
    round trip per track on every reconcile. A new green template or a retry sends the rollout back
    through preflight within the same call, so those need the versions too.
    """
    if spec.blue.expect_python is None and spec.green.expect_python is None:
        return False
    if status.phase in PREFLIGHT_PHASES:
        return True
    if green_template_hash is not None and status.green_template_hash not in (None, green_template_hash):
        return True
    recorded = status.spec_fingerprint
    if recorded is not None and recorded.tracks != fingerprint(spec).tracks:
        return True  # other Deployments: the rollout restarts through preflight in this very call
    return any(c.kind == "retry" for c in unapplied(commands, status.last_command))
