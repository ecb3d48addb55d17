"""What the core asks the caller to do, as data, and the decision that carries it.

One applier executes actions in order and verifies their effect on the next reconcile: a weight is only
believed once it is read back from the router, a scale-down once the Deployment shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from controller.core.events import EventReason, EventType
from controller.model.status import RolloutStatus

TrackName = Literal["blue", "green"]


@dataclass(frozen=True)
class SetWeight:
    """Write green's share (blue gets 100 - green) and read it back."""

    green: int


@dataclass(frozen=True)
class ScaleTrack:
    """Scale one track's Deployment; only ever blue to 0, after promotion plus ``scaleDownBlueAfter``."""

    track: TrackName
    replicas: int


@dataclass(frozen=True)
class EmitEvent:
    """A Kubernetes Event (and the matching structured log line); best-effort for the applier."""

    type: EventType
    reason: EventReason
    message: str


Action = SetWeight | ScaleTrack | EmitEvent


@dataclass(frozen=True)
class Decision:
    """The outcome of one call of :func:`controller.core.decide.decide`.

    ``status`` is the new status to persist (even when ``actions`` is empty it may carry new timestamps).
    Traffic and scale actions come before events, so a rollback's first action is ``SetWeight(0)``.
    ``requeue_after`` is seconds until the core has something to do without any new observation
    (``None``: nothing scheduled; wait for a watch event or command). ``evaluate_at`` is when the next
    evaluation is due (``None``: no evaluation while in this state). Traffic actions may only be carried
    out once ``status`` (which records their target) has been persisted: intent before action.
    """

    status: RolloutStatus
    actions: tuple[Action, ...]
    requeue_after: float | None
    evaluate_at: datetime | None
    release_finalizer: bool = False
    """The object is being deleted and traffic is safe (or the wait is over): let the deletion finish."""

    @property
    def events(self) -> tuple[EmitEvent, ...]:
        return tuple(a for a in self.actions if isinstance(a, EmitEvent))
