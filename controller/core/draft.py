"""The working state of one decision: the status being rewritten and the actions collected so far.

Rules are small functions that read and update a ``Draft``; only :func:`controller.core.decide.decide`
creates one and turns it into an immutable ``Decision``, so the decision as a whole stays pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controller.core.actions import Action, EmitEvent, ScaleTrack, SetWeight
from controller.core.conditions import TRAFFIC_VERIFIED, ConditionStatus, find, set_condition
from controller.core.events import EventReason, event_type
from controller.core.observations import Observations
from controller.model.quantities import format_duration
from controller.model.spec import RolloutSpec, Step
from controller.model.status import RolloutStatus

WEIGHT_RETRY_SECONDS = 10.0
"""How long a requested weight (or scale-down) may stay unconfirmed before it is written again."""


@dataclass
class Draft:
    spec: RolloutSpec
    observations: Observations
    now: datetime
    status: RolloutStatus
    traffic: list[SetWeight | ScaleTrack] = field(default_factory=list)
    events: list[EmitEvent] = field(default_factory=list)
    release_finalizer: bool = False

    def update(self, **changes: Any) -> None:
        self.status = self.status.model_copy(update=changes)

    def emit(self, reason: EventReason, message: str) -> None:
        self.events.append(EmitEvent(event_type(reason), reason, message))

    def condition(self, type_: str, status: ConditionStatus, reason: str, message: str) -> bool:
        """Set a condition; True when its status or reason changed (a transition worth an event)."""
        old = find(self.status.conditions, type_)
        self.update(conditions=set_condition(self.status.conditions, type_, status, reason, message, now=self.now))
        return old is None or (old.status, old.reason) != (status, reason)

    def set_weight(self, green: int) -> None:
        self.traffic = [a for a in self.traffic if not isinstance(a, SetWeight)]
        self.traffic.append(SetWeight(green))
        self.update(target_weight=green, weight_requested_at=self.now)
        self.condition(TRAFFIC_VERIFIED, "False", "WeightPending", f"waiting for the router to show green at {green}%")

    def actions(self) -> tuple[Action, ...]:
        return (*self.traffic, *self.events)

    def since(self, moment: datetime | None) -> float:
        """Seconds from ``moment`` to now (0 when unknown)."""
        return 0.0 if moment is None else (self.now - moment).total_seconds()

    def retry_due(self, requested_at: datetime | None) -> bool:
        return requested_at is None or self.since(requested_at) >= WEIGHT_RETRY_SECONDS

    @property
    def step_index(self) -> int:
        """The current step, clamped in case the spec lost steps since the status was written."""
        return min(self.status.current_step, len(self.spec.steps) - 1)

    @property
    def step(self) -> Step:
        return self.spec.steps[self.step_index]

    @property
    def is_last_step(self) -> bool:
        return self.step_index == len(self.spec.steps) - 1

    def where(self) -> str:
        """``step 2/4 (25%)``, the phrase every message uses to say where the rollout is."""
        return f"step {self.step_index + 1}/{len(self.spec.steps)} ({self.step.weight}%)"


def duration(seconds: float) -> str:
    """A duration for messages: ``2m``, ``manual`` for an infinite pause."""
    return "manual" if math.isinf(seconds) else format_duration(max(0.0, seconds))
