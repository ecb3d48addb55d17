"""Human commands from the rollout's side: each applied once, refused loudly where it makes no sense."""

from __future__ import annotations

from datetime import timedelta

from controller.core.actions import SetWeight
from controller.core.commands import Command, unapplied
from controller.core.decide import decide
from controller.core.observations import Observations
from tests.core.builders import Loop, failing, make_spec, passing, reasons, weights


def test_abort_rolls_back_and_stays_aborted() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    aborted = loop.command("abort")
    assert aborted.actions[0] == SetWeight(0)
    assert reasons(aborted.actions) == ["RollingBack", "Aborted"]  # written, read back, recorded
    final = loop.step(advance=1)
    assert final.status.phase == "Aborted" and final.actions == ()
    assert aborted.events[1].message == "Aborted at 25%: abort command c1"
    loop.run(600, passing(spec))
    assert loop.status.phase == "Aborted" and loop.router == 0


def test_retry_restarts_from_step_zero_through_preflight() -> None:
    spec = make_spec(failureLimit=1)
    loop = Loop(spec)
    loop.start()
    loop.run(60, passing(spec))
    assert loop.status.current_step == 1
    loop.step(advance=1)  # the router confirms 100%
    loop.step(failing(spec), advance=30)
    loop.step(advance=1)
    assert loop.status.phase == "RolledBack"
    retried = loop.command("retry")
    assert reasons(retried.actions) == ["Retried", "PreflightPassed", "WeightSet"]
    assert retried.status.current_step == 0 and retried.status.rollback is None
    assert weights(retried.actions) == [25]


def test_retry_from_paused_first_returns_traffic_to_blue() -> None:
    loop = Loop(make_spec())
    loop.start()
    loop.command("pause")
    retried = loop.command("retry")
    assert weights(retried.actions) == [0, 25]  # back to blue first; preflight passes on the read-back
    assert retried.status.phase == "Progressing" and retried.status.current_step == 0
    assert loop.world.router_history[-2:] == [0, 25]


def test_pause_freezes_the_step_and_resume_continues() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    paused = loop.command("pause")
    assert paused.status.phase == "Paused" and reasons(paused.actions) == ["Paused"]
    loop.run(300, passing(spec))
    assert loop.status.current_step == 0
    resumed = loop.command("resume")
    assert reasons(resumed.actions) == ["Resumed", "StepCompleted", "WeightSet"]


def test_analysis_still_rolls_back_a_paused_rollout() -> None:
    spec = make_spec(failureLimit=1)
    loop = Loop(spec)
    loop.start()
    loop.command("pause")
    decision = loop.step(failing(spec), advance=30)
    assert decision.actions[0] == SetWeight(0)


def test_a_command_is_applied_exactly_once() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    loop.command("pause")
    loop.command("resume")
    assert loop.status.last_command == "c2"
    again = loop.step(advance=1)  # the same two commands are passed again
    assert again.actions == ()
    assert loop.status.phase == "Progressing"


def test_unapplied_skips_everything_up_to_the_recorded_id() -> None:
    commands = [Command("a", "pause"), Command("b", "resume"), Command("c", "pause")]
    assert unapplied(commands, None) == commands
    assert unapplied(commands, "b") == commands[2:]
    assert unapplied(commands, "c") == []
    assert unapplied(commands, "unknown") == commands


def test_a_command_that_does_not_apply_is_consumed_with_a_warning() -> None:
    loop = Loop(make_spec())
    loop.start()
    decision = loop.command("resume")
    [event] = decision.events
    assert (event.type, event.reason) == ("Warning", "CommandIgnored")
    assert "resume (c1) ignored in phase Progressing" in event.message
    assert loop.status.last_command == "c1"


def test_promote_while_paused_by_command_asks_for_resume_first() -> None:
    loop = Loop(make_spec())
    loop.start()
    loop.command("pause")
    decision = loop.command("promote")
    assert reasons(decision.actions) == ["CommandIgnored"]
    assert "resume a paused rollout first" in decision.events[0].message


def test_abort_after_promotion_returns_to_blue_while_blue_still_runs() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    loop.run(240, passing(spec))
    assert loop.status.phase == "Promoted"
    decision = loop.command("abort")
    assert decision.actions[0] == SetWeight(0)
    assert loop.step(advance=1).status.phase == "Aborted"


def test_abort_after_blue_scaled_down_is_refused() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    loop.run(240, passing(spec))
    loop.step(advance=3600)
    loop.step(advance=5)
    assert loop.status.blue_scaled_down
    decision = loop.command("abort")
    assert weights(decision.actions) == []
    assert "blue is already scaled down" in decision.events[0].message


def test_abort_before_any_traffic_is_immediate() -> None:
    spec = make_spec()
    loop = Loop(spec)
    obs = Observations(router_weight=0, blue=loop.blue, green=loop.green)
    decision = decide(spec, loop.status, obs, [Command("x", "abort")], loop.now + timedelta(seconds=1))
    assert decision.actions[0] == SetWeight(0)
    assert decision.status.phase == "Aborted"
