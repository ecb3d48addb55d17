"""Status as the controller's memory: JSON round trips, conditions, Invalid specs, scheduling."""

from __future__ import annotations

from datetime import timedelta

from controller.core.conditions import set_condition
from controller.core.decide import decide, reject
from controller.core.schedule import evaluation_due
from controller.model.status import RolloutStatus
from tests.core.builders import T0, Loop, failing, make_spec, outage, passing, reasons, weights, world


def _round_trip(status: RolloutStatus) -> RolloutStatus:
    return RolloutStatus.model_validate(status.model_dump(mode="json", by_alias=True))


def test_status_round_trips_through_json_exactly_mid_rollout() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    loop.now += timedelta(microseconds=123457)
    loop.step(failing(spec), advance=30)
    loop.step(outage(spec), advance=30)
    assert _round_trip(loop.status) == loop.status
    assert loop.status.hold_since is not None and loop.status.hold_since.microsecond == 123457


def test_condition_transition_time_moves_only_when_its_status_flips() -> None:
    first = set_condition([], "AnalysisHealthy", "False", "Failing", "a", now=T0)
    reworded = set_condition(first, "AnalysisHealthy", "False", "PrometheusUnavailable", "b", now=T0 + timedelta(1))
    flipped = set_condition(reworded, "AnalysisHealthy", "True", "Passing", "c", now=T0 + timedelta(2))
    assert reworded[0].last_transition_time == T0 and reworded[0].reason == "PrometheusUnavailable"
    assert flipped[0].last_transition_time == T0 + timedelta(2)
    assert set_condition(flipped, "AnalysisHealthy", "True", "Passing", "c", now=T0 + timedelta(3)) is flipped


def test_conditions_follow_the_rollout() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    loop.step(passing(spec), advance=30)
    by_type = {c.type: (c.status, c.reason) for c in loop.status.conditions}
    assert by_type == {
        "AnalysisHealthy": ("True", "Passing"),
        "ClockSynchronized": ("True", "Synchronized"),
        "Preflight": ("True", "PreflightPassed"),
        "Progressing": ("True", "StepInProgress"),
        "TrafficVerified": ("True", "WeightVerified"),
    }


def test_an_unusable_spec_makes_the_rollout_invalid_once_without_touching_traffic() -> None:
    problem = "spec.analysis.checks[0].query: unknown template variable(s) ['pod']"
    first = reject(RolloutStatus(), problem, T0)
    again = reject(first.status, problem, T0 + timedelta(seconds=30))
    assert first.status.phase == "Invalid" and first.status.message == problem
    assert [(e.type, e.reason) for e in first.events] == [("Warning", "InvalidSpec")]
    assert weights(first.actions) == [] and again.actions == ()


def test_a_fixed_spec_leaves_invalid_through_preflight() -> None:
    rejected = reject(RolloutStatus(), "spec.steps: bad", T0).status
    decision = decide(make_spec(), rejected, world(0), [], T0 + timedelta(seconds=10))
    assert decision.status.phase == "Progressing"


def test_evaluation_due_follows_the_interval_and_never_twice_at_one_instant() -> None:
    spec = make_spec(interval="1s")
    loop = Loop(spec)
    loop.start()
    assert not evaluation_due(spec, loop.status, loop.now)  # the weight was verified this very instant
    loop.step(passing(spec), advance=1)
    assert loop.status.consecutive_passes == 1
    assert not evaluation_due(spec, loop.status, loop.now)


def test_requeue_after_points_at_the_next_thing_to_do() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.world.router_writable = False
    loop.step()
    assert loop.log[0].requeue_after == 2.0  # the weight did not read back: look again soon
    loop.world.router_writable = True
    loop.step(advance=10)  # written again after the retry delay, read back: the bake starts
    assert loop.log[-1].requeue_after == 30.0  # the first evaluation
    loop.run(240, passing(spec))
    promoted = next(d for d in loop.log if "Promoted" in reasons(d.actions))
    assert promoted.requeue_after == 3600.0  # blue's scale-down
    assert promoted.evaluate_at is None


def test_naive_now_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="timezone-aware"):
        decide(make_spec(), RolloutStatus(), world(0), [], T0.replace(tzinfo=None))
