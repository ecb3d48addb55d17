"""When the next evaluation is due and when the core next needs to be called.

Evaluation scheduling is a pure function of the status, so the caller asks *before* deciding:
``if evaluation_due(spec, status, now): results = analyse(...)``. Evaluations run every ``interval``
while a step's weight is verified (Progressing or Paused, no weight change or rollback pending); the
first comes one interval after the weight was verified, so its window covers the new weight.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from controller.core.draft import WEIGHT_RETRY_SECONDS
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus

MIN_REQUEUE_SECONDS = 1.0
POLL_SECONDS = 10.0
"""How often to look again while waiting on the world (preflight, an unreadable router)."""
CONFIRM_POLL_SECONDS = 2.0
"""How soon to read a requested weight back: a step's bake starts only then."""

EVALUATING_PHASES = frozenset({"Progressing", "Paused"})


def after(moment: datetime, seconds: float) -> datetime:
    """``moment + seconds``, saturating at the largest representable time instead of overflowing."""
    try:
        return moment + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        return datetime.max.replace(tzinfo=moment.tzinfo)


def next_evaluation_at(spec: RolloutSpec, status: RolloutStatus) -> datetime | None:
    """When the next evaluation is due, or None when the rollout does not evaluate in this state."""
    if status.phase not in EVALUATING_PHASES or status.rollback is not None:
        return None
    if status.target_weight is not None or status.step_started_at is None:
        return None
    base = status.step_started_at
    if status.last_evaluation_at is not None and status.last_evaluation_at > base:
        base = status.last_evaluation_at
    return after(base, spec.analysis.interval)


def evaluation_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    """True when the caller should run the checks and pass their results to ``decide``."""
    due = next_evaluation_at(spec, status)
    if due is None or now < due:
        return False
    last = max(t for t in (status.step_started_at, status.last_evaluation_at) if t is not None)
    return now > last


def wake_times(spec: RolloutSpec, status: RolloutStatus) -> list[datetime]:
    """Moments at which time alone changes what the core would decide."""
    times: list[datetime] = []
    evaluation = next_evaluation_at(spec, status)
    if evaluation is not None:
        times.append(evaluation)
    if status.weight_requested_at is not None:
        times.append(status.weight_requested_at + timedelta(seconds=WEIGHT_RETRY_SECONDS))
    times += _phase_times(spec, status)
    return times


def _phase_times(spec: RolloutSpec, status: RolloutStatus) -> list[datetime]:
    times: list[datetime] = []
    if status.phase == "Progressing" and status.step_started_at is not None and status.rollback is None:
        step = spec.steps[min(status.current_step, len(spec.steps) - 1)]
        if not step.manual:
            times.append(after(status.step_started_at, step.pause))
        for since in (status.hold_since, status.green_unavailable_since):
            if since is not None:
                times.append(after(since, spec.analysis.max_hold))
    if status.phase == "Promoted" and status.promoted_at is not None and not status.blue_scaled_down:
        times.append(after(status.promoted_at, spec.promotion.scale_down_blue_after))
        if status.blue_scale_down_requested_at is not None:
            times.append(status.blue_scale_down_requested_at + timedelta(seconds=WEIGHT_RETRY_SECONDS))
    return times


def requeue_after(spec: RolloutSpec, status: RolloutStatus, now: datetime, waiting: bool) -> float | None:
    """Seconds until the core should be called again without news; ``waiting`` adds a short poll.

    Moments already past were acted on by the call that just ran (a pause that ended while passes are
    missing, say): only future ones count, or a rollout would be polled every second until they arrive.
    """
    times = [t for t in wake_times(spec, status) if t > now]
    if waiting:
        times.append(now + timedelta(seconds=POLL_SECONDS))
    if status.target_weight is not None:
        times.append(now + timedelta(seconds=CONFIRM_POLL_SECONDS))
    if not times:
        return None
    return max(MIN_REQUEUE_SECONDS, (min(times) - now).total_seconds())
