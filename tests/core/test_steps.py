"""Steps and weights from the rollout's side: verified weights, bake clocks, passes, manual gates, promotion."""

from __future__ import annotations

from datetime import timedelta

from controller.core.actions import ScaleTrack, SetWeight
from controller.core.draft import WEIGHT_RETRY_SECONDS
from controller.core.results import INCONCLUSIVE, CheckResult
from tests.core.builders import Loop, make_spec, passing, reasons, scales, weights, with_result


def test_bake_clock_starts_only_when_the_router_reads_the_weight_back() -> None:
    loop = Loop(make_spec(), router_writable=False)  # the write does not take
    first = loop.step()
    assert weights(first.actions) == [25]
    assert loop.status.step_started_at is None and loop.status.target_weight == 25
    assert loop.step(advance=1).actions == ()
    loop.world.router_writable = True
    retried = loop.step(advance=WEIGHT_RETRY_SECONDS)
    assert weights(retried.actions) == [25]
    assert reasons(retried.actions) == ["WeightSet"]  # read back at once: confirmed in the same reconcile
    assert retried.status.weight == 25 and retried.status.step_started_at == loop.now


def test_router_edited_behind_our_back_is_reasserted_with_a_warning() -> None:
    loop = Loop(make_spec())
    loop.start()
    loop.router = 60
    decision = loop.step(advance=5)
    assert decision.actions[0] == SetWeight(25)
    [event] = decision.events
    assert (event.type, event.reason) == ("Warning", "WeightDrift")
    assert "Router shows green at 60% but greenlane set 25%" in event.message


def test_unreadable_router_holds_and_warns_once() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    loop.router_broken = True
    events = loop.run(180, passing(spec))
    assert events == ["RouterUnavailable"]
    assert loop.status.current_step == 0


def test_step_needs_both_its_pause_and_its_passes() -> None:
    spec = make_spec(steps=[{"weight": 25, "pause": "2m"}, {"weight": 100, "pause": "1m"}])
    loop = Loop(spec)
    loop.start()
    assert loop.run(90, passing(spec)) == []  # 3 passes, pause not over
    assert loop.status.consecutive_passes == 3
    completed = loop.step(passing(spec), advance=30)
    assert reasons(completed.actions) == ["StepCompleted", "WeightSet"]
    assert "Completed step 1/2 (25%): baked 2m, 4/2 passes" in completed.events[0].message
    assert weights(completed.actions) == [100]


def test_pause_elapsed_without_enough_passes_waits() -> None:
    spec = make_spec(steps=[{"weight": 25, "pause": "30s"}, {"weight": 100, "pause": "1m"}], requiredPasses=3)
    loop = Loop(spec)
    loop.start()
    loop.run(60, passing(spec))
    assert loop.status.current_step == 0
    loop.run(30, passing(spec))
    assert loop.status.current_step == 1


def test_an_inconclusive_evaluation_resets_the_pass_streak() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    loop.step(passing(spec), advance=30)
    loop.step(with_result(spec, "p99-latency", INCONCLUSIVE, "too few requests (12 < 100)"), advance=30)
    assert loop.status.consecutive_passes == 0
    loop.step(passing(spec), advance=30)
    assert loop.status.current_step == 0


def test_a_check_without_a_result_never_passes() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    only_latency = passing(spec)[:1]
    loop.run(300, only_latency)
    assert loop.status.current_step == 0 and loop.status.consecutive_passes == 0
    assert loop.status.checks[1].message == "errors: no result in this evaluation"


def test_evaluations_are_due_one_interval_after_the_weight_is_verified() -> None:
    spec = make_spec()
    loop = Loop(spec)
    verified = loop.step()
    assert verified.status.step_started_at == loop.now
    assert verified.requeue_after == 30.0  # the first evaluation, one interval after the verified weight
    early = loop.step(passing(spec), advance=20)  # results offered before they are due are ignored
    assert early.status.last_evaluation_at is None
    on_time = loop.step(passing(spec), advance=10)
    assert on_time.status.consecutive_passes == 1


def test_manual_step_waits_for_promote_then_completes_on_its_passes() -> None:
    spec = make_spec(steps=[{"weight": 50, "pause": "manual"}, {"weight": 100, "pause": "1m"}])
    loop = Loop(spec)
    loop.start()
    gate = loop.log[-1]
    assert gate.status.phase == "Paused" and gate.status.pause_reason == "ManualStep"
    assert reasons(gate.actions) == ["PreflightPassed", "WeightSet", "ManualGate"]
    loop.run(600, passing(spec))
    assert loop.status.current_step == 0  # ten minutes of passes do not open a manual gate
    promoted = loop.command("promote")
    assert reasons(promoted.actions) == ["PromoteAccepted", "StepCompleted", "WeightSet"]
    assert promoted.status.current_step == 1 and weights(promoted.actions) == [100]


def test_promote_lifts_a_timed_pause_but_still_needs_passes() -> None:
    spec = make_spec(steps=[{"weight": 25, "pause": "1h"}, {"weight": 100, "pause": "1m"}])
    loop = Loop(spec)
    loop.start()
    accepted = loop.command("promote")
    assert reasons(accepted.actions) == ["PromoteAccepted"]
    assert accepted.status.current_step == 0
    loop.run(60, passing(spec))
    assert loop.status.current_step == 1


def test_promoted_after_the_last_step_then_blue_scaled_down_only_after_the_delay() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    events = loop.run(240, passing(spec))
    assert events.count("StepCompleted") == 2 and events[-1] == "Promoted"
    assert loop.status.phase == "Promoted" and loop.status.weight == 100
    promoted_at = loop.status.promoted_at
    assert promoted_at is not None
    loop.run((promoted_at + timedelta(seconds=3600) - loop.now).total_seconds() - 60, None, every=60)
    assert all(not scales(d.actions) for d in loop.log)
    loop.now = promoted_at + timedelta(seconds=3600)
    down = loop.step()
    assert scales(down.actions) == [ScaleTrack("blue", 0)]
    assert loop.blue.desired_replicas == 0  # the loop applied it
    confirmed = loop.step(advance=5)
    assert reasons(confirmed.actions) == ["BlueScaledDown"]
    assert confirmed.status.blue_scaled_down
    assert loop.step(advance=3600).actions == ()


def test_equal_consecutive_weights_need_no_router_write() -> None:
    spec = make_spec(steps=[{"weight": 50, "pause": "30s"}, {"weight": 50, "pause": "30s"}, {"weight": 100}])
    loop = Loop(spec)
    loop.start()
    loop.run(60, passing(spec))
    assert loop.status.current_step == 1
    assert [w for d in loop.log for w in weights(d.actions)] == [50]


def test_missing_green_mid_rollout_rolls_back() -> None:
    from controller.core.observations import MISSING

    loop = Loop(make_spec())
    loop.start()
    loop.green = MISSING
    decision = loop.step(advance=5)
    assert decision.actions[0] == SetWeight(0)
    assert decision.status.rollback is not None and decision.status.rollback.reason == "GreenDeploymentMissing"
    assert loop.step(advance=1).status.phase == "RolledBack"


def test_result_for_unknown_check_is_ignored() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    extra = (*passing(spec), CheckResult("other", INCONCLUSIVE, "not in the spec"))
    loop.run(60, extra)
    assert loop.status.current_step == 1
