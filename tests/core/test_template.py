"""A new green pod template from the rollout's side: everything judged so far is void."""

from __future__ import annotations

from dataclasses import replace

from controller.core.actions import SetWeight
from tests.core.builders import Loop, failing, make_spec, passing, reasons, weights


def test_new_green_template_restarts_from_step_zero_at_weight_zero() -> None:
    spec = make_spec(steps=[{"weight": 25, "pause": "1m"}, {"weight": 50, "pause": "1h"}, {"weight": 100}])
    loop = Loop(spec)
    loop.start()
    loop.run(60, passing(spec))
    assert loop.status.current_step == 1
    loop.green = replace(loop.green, template_hash="g2")
    decision = loop.step(advance=5)
    assert decision.actions[0] == SetWeight(0)
    # back to 0%, read back, then through preflight again with the new pods: step 1 restarts at once
    assert reasons(decision.actions) == ["GreenTemplateChanged", "PreflightPassed", "WeightSet"]
    assert "green checkout-py312 pod template changed (g1 -> g2); restarting from step 1 at 0%" in (
        decision.events[0].message
    )
    assert weights(decision.actions) == [0, 25]
    assert loop.world.router_history[-2:] == [0, 25]
    assert decision.status.phase == "Progressing" and decision.status.current_step == 0
    assert decision.status.green_template_hash == "g2"


def test_new_green_template_after_rollback_starts_again() -> None:
    spec = make_spec(failureLimit=1)
    loop = Loop(spec)
    loop.start()
    loop.step(failing(spec), advance=30)
    loop.step(advance=1)
    assert loop.status.phase == "RolledBack"
    loop.green = replace(loop.green, template_hash="g2")
    decision = loop.step(advance=60)
    assert reasons(decision.actions) == ["GreenTemplateChanged", "PreflightPassed", "WeightSet"]
    assert weights(decision.actions) == [25]


def test_new_green_template_after_promotion_is_only_recorded() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    loop.run(240, passing(spec))
    loop.green = replace(loop.green, template_hash="g2")
    decision = loop.step(advance=5)
    assert weights(decision.actions) == []
    assert "no restart in phase Promoted" in decision.events[0].message
    assert decision.status.phase == "Promoted"


def test_new_green_template_after_abort_waits_for_retry() -> None:
    loop = Loop(make_spec())
    loop.start()
    loop.command("abort")
    loop.step(advance=1)
    loop.green = replace(loop.green, template_hash="g2")
    decision = loop.step(advance=5)
    assert decision.status.phase == "Aborted" and weights(decision.actions) == []
