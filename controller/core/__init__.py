"""The pure rollout core: ``decide(spec, status, observations, commands, now) -> Decision``.

No Kubernetes, HTTP, clock or logging here (import-linter enforces it); callers pass plain values in and
apply the returned actions. See :mod:`controller.core.decide` for the caller's loop.
"""

from controller.core.actions import Action, Decision, EmitEvent, ScaleTrack, SetWeight
from controller.core.commands import Command, CommandKind
from controller.core.decide import decide, reject
from controller.core.events import REASONS, EventReason
from controller.core.observations import MISSING, Observations, TrackObservation
from controller.core.plan import RolloutPlan, plan
from controller.core.results import CheckResult
from controller.core.schedule import evaluation_due, next_evaluation_at

__all__ = [
    "MISSING",
    "REASONS",
    "Action",
    "CheckResult",
    "Command",
    "CommandKind",
    "Decision",
    "EmitEvent",
    "EventReason",
    "Observations",
    "RolloutPlan",
    "ScaleTrack",
    "SetWeight",
    "TrackObservation",
    "decide",
    "evaluation_due",
    "next_evaluation_at",
    "plan",
    "reject",
]
