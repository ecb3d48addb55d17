"""What the engine needs from the world, as one small protocol the operator, the demo and the tests implement.

Every method may raise: the engine turns any exception into a visible, bounded failure (condition, Warning
event, metric, backoff). Methods that write must raise :class:`NotLeader` instead of writing when this
process may no longer act, so a deposed replica never moves traffic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from controller.core.actions import EmitEvent
from controller.core.commands import Command
from controller.core.observations import Deletion, TrackObservation
from controller.core.results import CheckResult
from controller.model.spec import RolloutSpec, Track
from controller.model.status import AppliedRouting, RolloutStatus
from controller.routing.base import Router

Side = Literal["blue", "green"]


class NotLeader(Exception):
    """Raised instead of writing when this replica no longer holds the lease; not a failure of the rollout."""


@dataclass(frozen=True)
class RolloutView:
    """The rollout object as read at the start of a reconcile.

    ``spec`` is None when it cannot be used; ``problem`` then says why, naming the field. ``commands`` are
    the control commands the object carries, oldest first (an unparseable one as kind ``invalid``).
    """

    namespace: str
    name: str
    status: RolloutStatus
    spec: RolloutSpec | None = None
    problem: str = ""
    generation: int | None = None
    commands: tuple[Command, ...] = ()
    deletion: Deletion | None = None
    has_finalizer: bool = True

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


class World(Protocol):
    """One rollout's world. Reads return plain values; ``None`` means "could not be read", never zero."""

    def read_rollout(self) -> RolloutView | None:
        """The rollout, or None when it no longer exists."""
        ...

    def router(self, routing: AppliedRouting) -> Router:
        """The router for ``routing``; raises ``RouterError`` (non-transient: a spec problem) when unusable."""
        ...

    def observe_track(self, side: Side, track: Track) -> TrackObservation:
        """A Deployment's existence, available and desired replicas, and current pod-template hash."""
        ...

    def python_versions(self, side: Side, track: Track, seen: TrackObservation) -> Mapping[str, str] | None:
        """The ``python_info`` version each of the track's current pods reports; None when unreadable."""
        ...

    def clock_skew(self) -> float | None:
        """Seconds the metric store's clock is ahead of ours (negative: behind); None when unmeasurable."""
        ...

    def evaluate(
        self,
        spec: RolloutSpec,
        status: RolloutStatus,
        at: datetime,
        tracks: tuple[TrackObservation, TrackObservation],
    ) -> Sequence[CheckResult]:
        """Every check at ``at``, judged as the rollout in ``status`` is (evidence windows, warm-up, budget, blue's
        baseline); a failing check is Inconclusive with its error, never an exception."""
        ...

    def expect_evaluation(
        self,
        spec: RolloutSpec,
        status: RolloutStatus,
        at: datetime,
        tracks: tuple[TrackObservation, TrackObservation],
    ) -> None:
        """A forecast: the next evaluation is due ``at``, judged as in ``status``, of these tracks.

        A world that batches metric queries across rollouts prepares that evaluation's queries (the
        operator's); others do nothing. Never a decision: a forecast that is wrong costs a query."""
        ...

    def write_status(self, status: RolloutStatus) -> None:
        """Persist ``status``; raises when it was not persisted (then nothing may be acted on)."""
        ...

    def set_finalizer(self, present: bool) -> None:
        """Add or remove greenlane's finalizer on the rollout object."""
        ...

    def scale(self, deployment: str, replicas: int) -> None: ...

    def emit(self, event: EmitEvent, status: RolloutStatus) -> None:
        """Record an event (Kubernetes Event, log line, notification); best-effort for the engine."""
        ...


@dataclass(frozen=True)
class Outcome:
    """What one reconcile did, for the caller's scheduling, metrics and tests."""

    status: RolloutStatus | None
    requeue_after: float | None
    error: str | None = None
    gone: bool = False
    released: bool = False
    weights_written: tuple[int, ...] = ()
    events: tuple[EmitEvent, ...] = ()
    at: datetime | None = None
