"""What the caller saw of the world just before asking the core to decide.

Plain values only: the operator fills them from the API server, router and Prometheus; the sandbox from
its own processes; tests by hand. ``None`` always means "could not be read", never "zero", so that the
core can hold instead of acting on a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from controller.core.results import CheckResult


@dataclass(frozen=True)
class TrackObservation:
    """One Deployment as last read: existence, replica counts, pod-template hash and Python per pod.

    ``python_versions`` maps pod name to the ``python_info`` version it reports (``"3.12.4"``); pods that
    report nothing are simply absent. ``None`` means the versions could not be read at all.
    """

    exists: bool
    desired_replicas: int = 0
    available_replicas: int = 0
    template_hash: str | None = None
    python_versions: Mapping[str, str] | None = None


MISSING = TrackObservation(exists=False)


@dataclass(frozen=True)
class Deletion:
    """The rollout object is being deleted and our finalizer holds it until traffic is back on blue.

    ``requested_at`` is the object's ``deletionTimestamp``; ``timeout`` bounds how long the finalizer
    waits for a verified 0% before it lets go anyway; ``skip`` is the escape-hatch annotation.
    """

    requested_at: datetime
    timeout: float = 300.0
    skip: bool = False


@dataclass(frozen=True)
class Observations:
    """The world at one reconcile.

    ``router_weight`` is green's share read back from the router (``None`` when unreadable).
    ``results`` are the check results of an evaluation run for this call, or ``None`` when none was due
    or run; pass them only when :func:`controller.core.schedule.evaluation_due` said so — results that
    arrive when no evaluation is due are ignored, which keeps a repeated call from counting them twice.
    ``clock_skew`` beyond :data:`controller.core.skew.MAX_CLOCK_SKEW` holds the rollout instead: windows
    evaluated at the wrong instant would judge green on data it has not produced yet.
    """

    router_weight: int | None
    blue: TrackObservation = field(default=MISSING)
    green: TrackObservation = field(default=MISSING)
    results: tuple[CheckResult, ...] | None = None
    clock_skew: float | None = None
    """Prometheus' clock minus ours, in seconds, when measured for this evaluation (None: not measured)."""
    deletion: Deletion | None = None
