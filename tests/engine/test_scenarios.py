"""Each way issue 10 saw traffic left wrong, replayed through the engine with the invariants watched."""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from controller.analysis import evaluate
from controller.analysis.source import Series
from controller.core.commands import Command
from controller.core.observations import Deletion
from controller.core.results import INCONCLUSIVE, CheckResult
from controller.engine.engine import BACKOFF_CAP
from controller.model.spec import RolloutSpec, Step
from tests.core.builders import T0, make_spec
from tests.engine.drive import Run, breach_after, drive, healthy, start
from tests.engine.fakes import FakeWorld, Fault

REPO = Path(__file__).resolve().parents[2]


def four_steps(**analysis: object) -> RolloutSpec:
    steps = [{"weight": w, "pause": "1m"} for w in (5, 25, 50, 100)]
    return make_spec(steps=steps, **analysis)


def at_step(run: Run, index: int) -> None:
    drive(run, until=lambda r: r.status.current_step == index and r.status.step_started_at is not None)
    assert run.status.current_step == index and run.world.router_weight == run.world.spec.steps[index].weight  # type: ignore[union-attr]


def inconclusive(spec: RolloutSpec, at: datetime) -> Sequence[CheckResult]:
    return [CheckResult(c.name, INCONCLUSIVE, f"{c.name}: too few requests") for c in spec.analysis.checks]


# ---- edits mid-rollout ---------------------------------------------------------------------------
def test_editing_steps_at_50_percent_never_declares_victory_below_100() -> None:
    run = start(four_steps())
    at_step(run, 2)
    run.world.spec = make_spec(steps=[{"weight": 5, "pause": "1m"}, {"weight": 100, "pause": "1m"}])
    run.world.generation = 2
    run.world.results = inconclusive  # no evidence yet at 50%
    drive(run, seconds=300)
    held = run.status
    assert held.phase == "Progressing" and run.world.router_weight == 50
    assert held.current_step == 1 and held.observed_generation == 2
    assert "steps changed with green at 50%" in " ".join(e.message for e in run.world.events)
    run.world.results = healthy  # passing evidence at 50%: now the move to 100% may happen
    drive(run, seconds=600, until=lambda r: r.status.phase == "Promoted")
    assert run.status.phase == "Promoted" and run.world.router_weight == 100
    assert run.watch.violations == []


def test_editing_steps_below_a_pending_weight_lowers_it_at_once() -> None:
    run = start(four_steps())
    at_step(run, 1)
    run.world.router_writable = False  # the move to 50% is requested but does not take
    drive(run, until=lambda r: r.status.target_weight == 50)
    run.world.spec = make_spec(steps=[{"weight": 25, "pause": "1m"}, {"weight": 30, "pause": "1m"}, {"weight": 100}])
    run.world.router_writable = True
    drive(run, seconds=20)
    assert max(run.world.router_history) <= 30 and run.watch.violations == []


def test_editing_checks_restarts_the_evidence() -> None:
    run = start(four_steps())
    at_step(run, 1)
    drive(run, seconds=40)
    assert run.status.consecutive_passes >= 1
    run.world.spec = four_steps(checks=[{"name": "errors", "template": "error-rate", "max": 0.02}])
    drive(run, seconds=1)
    assert run.status.consecutive_passes == 0 and run.status.checks == []
    assert any(e.reason == "SpecChanged" and "analysis changed" in e.message for e in run.world.events)


def test_editing_the_router_mid_rollout_keeps_steering_the_one_that_carries_traffic() -> None:
    run = start(four_steps(), results=breach_after(150.0))
    at_step(run, 1)
    wire = run.world.spec.to_wire()  # type: ignore[union-attr]
    wire["trafficRouting"] = {"gatewayAPI": {"httpRoute": "checkout-v2"}}
    run.world.spec = RolloutSpec.model_validate(wire)
    drive(run, until=lambda r: r.status.phase == "RolledBack")
    assert run.world.router_weight == 0  # the old route, which carried green's 25%, is emptied
    assert run.world.other_routers == {}  # the new route was never touched while traffic was at stake
    assert any("keeps steering the router it set" in e.message for e in run.world.events)


def test_changing_the_green_deployment_restarts_from_zero() -> None:
    run = start(four_steps())
    at_step(run, 2)
    wire = run.world.spec.to_wire()  # type: ignore[union-attr]
    wire["green"]["deployment"] = "checkout-py312-fixed"
    run.world.spec = RolloutSpec.model_validate(wire)
    drive(run, seconds=1)
    assert run.world.router_history[-2:] == [0, 5] and run.status.current_step == 0


# ---- forecasts ------------------------------------------------------------------------------------
def test_every_evaluation_was_forecast_by_the_reconcile_before_it() -> None:
    """The operator's batch prepares a round's queries from the engine's forecasts: each evaluation, the first
    of each step included, was announced by the previous reconcile at the instant it became due."""
    run = start(four_steps())
    drive(run, seconds=600.0)
    assert run.status.phase == "Promoted" and len(run.world.evaluated) >= 8
    forecasts, evaluations = iter(run.world.forecasts), iter(run.world.evaluated)
    latest: datetime | None = None
    for call in run.world.calls:
        if call == "expect":
            latest = next(forecasts)
        elif call == "evaluate":
            at = next(evaluations)
            assert latest is not None and timedelta(0) <= at - latest < timedelta(seconds=10), (latest, at)
    last = max(i for i, call in enumerate(run.world.calls) if call == "evaluate")
    assert "expect" not in run.world.calls[last:], "a promoted rollout evaluates no more: nothing to forecast"


# ---- exceptions are visible and bounded ----------------------------------------------------------
def test_a_nan_request_count_makes_its_check_inconclusive_not_the_reconcile_fail() -> None:
    class NaNSource:
        def instant(self, query: str, at: float) -> list[Series]:
            return [Series({}, ((at, math.nan),))]

        def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
            return []

    spec = make_spec(checks=[{"name": "errors", "template": "error-rate", "max": 0.01, "minRequests": 10}])
    [result] = evaluate(spec, NaNSource(), namespace="shop", at=T0.timestamp(), green_weight=25)
    assert result.verdict == INCONCLUSIVE


def test_an_exception_inside_a_check_is_that_checks_inconclusive() -> None:
    class Exploding:
        def instant(self, query: str, at: float) -> list[Series]:
            raise ZeroDivisionError("boom")

        def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
            raise ZeroDivisionError("boom")

    results = evaluate(make_spec(), Exploding(), namespace="shop", at=T0.timestamp(), green_weight=25)
    assert [r.verdict for r in results] == [INCONCLUSIVE, INCONCLUSIVE]
    assert "ZeroDivisionError: boom" in results[0].message


def test_a_huge_pause_does_not_overflow_any_reconcile() -> None:
    spec = make_spec()
    huge = Step.model_construct(weight=25, pause=99999999999 * 86400.0)
    spec = spec.model_copy(update={"steps": [huge, spec.steps[1]]})
    run = start(spec)
    drive(run, seconds=120)
    assert run.status.phase == "Progressing" and run.world.router_weight == 25
    assert not any(e.reason == "ReconcileFailed" for e in run.world.events)


def test_reconciles_that_keep_failing_are_visible_back_off_and_pause_after_max_hold() -> None:
    run = start(four_steps(maxHold="2m"))
    at_step(run, 1)
    run.world.faults["track"] = Fault(kind="fail", times=10_000)  # the API server keeps failing one read
    from controller.engine import Engine

    engine = Engine(run.clock, jitter=lambda: 1.0)
    waits = []
    for _ in range(12):
        outcome = engine.reconcile(run.world)
        waits.append(outcome.requeue_after)
        run.clock.advance(outcome.requeue_after or 1)
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0] and max(w or 0 for w in waits) == BACKOFF_CAP
    reconciled = next(c for c in run.status.conditions if c.type == "Reconciled")
    assert reconciled.status == "False" and "track: injected failure" in reconciled.message
    assert run.status.phase == "Paused" and run.status.pause_reason == "ReconcileErrors"
    assert run.world.router_weight == 25  # frozen, never moved on a guess
    assert any(e.reason == "ReconcileFailed" and e.type == "Warning" for e in run.world.events)
    run.world.faults.clear()
    engine.reconcile(run.world)
    assert any(e.reason == "ReconcileRecovered" for e in run.world.events)


def test_failing_reconciles_roll_back_after_max_hold_when_configured() -> None:
    run = start(four_steps(maxHold="1m", onHold="rollback"))
    at_step(run, 1)
    run.world.faults["versions"] = Fault(kind="fail", times=10_000)
    run.world.faults["skew"] = Fault(kind="fail", times=10_000)
    drive(run, seconds=400, tick=20)
    assert run.status.rollback is not None and run.world.router_weight == 0
    assert run.watch.violations == []


# ---- deletion --------------------------------------------------------------------------------------
def test_deleting_mid_step_returns_traffic_to_blue_before_the_object_goes() -> None:
    run = start(four_steps())
    at_step(run, 2)
    assert "greenlane.dev/traffic-to-blue" in run.world.finalizers  # added before any traffic moved
    run.world.deletion = Deletion(requested_at=run.clock.now(), timeout=300)
    drive(run, seconds=60)
    assert run.world.deleted and run.world.router_weight == 0
    assert run.world.events[-1].reason == "Deleted"


def test_a_deletion_that_cannot_reach_zero_is_let_go_after_the_bound_with_a_warning() -> None:
    run = start(four_steps())
    at_step(run, 1)
    run.world.router_writable = False
    run.world.deletion = Deletion(requested_at=run.clock.now(), timeout=120)
    drive(run, seconds=100)
    assert not run.world.deleted
    drive(run, seconds=60)
    assert run.world.deleted
    forced = [e for e in run.world.events if e.reason == "DeletionForced"]
    assert forced and "green still at 25%" in forced[0].message and forced[0].type == "Warning"


def test_the_skip_finalizer_annotation_lets_go_at_once() -> None:
    run = start(four_steps())
    at_step(run, 1)
    run.world.router_readable = run.world.router_writable = False
    run.world.deletion = Deletion(requested_at=run.clock.now(), timeout=600, skip=True)
    drive(run, seconds=1)
    assert run.world.deleted


def test_deleting_a_promoted_rollout_leaves_green_serving() -> None:
    run = start(four_steps())
    drive(run, until=lambda r: r.status.phase == "Promoted")
    run.world.deletion = Deletion(requested_at=run.clock.now())
    drive(run, seconds=1)
    assert run.world.deleted and run.world.router_weight == 100


# ---- green must stay healthy --------------------------------------------------------------------
def test_green_scaled_to_zero_mid_rollout_holds_and_never_promotes() -> None:
    run = start(four_steps(maxHold="3m"))
    at_step(run, 2)
    from dataclasses import replace

    run.world.green = replace(run.world.green, desired_replicas=0, available_replicas=0)
    drive(run, seconds=900)  # metrics keep flowing (healthy results) all along
    assert run.status.phase == "Paused" and run.status.pause_reason == "GreenUnavailable"
    assert run.world.router_weight == 50 and run.status.current_step == 2
    assert any(e.reason == "GreenUnavailable" for e in run.world.events)


def test_green_losing_pods_briefly_holds_then_continues() -> None:
    run = start(four_steps())
    at_step(run, 1)
    from dataclasses import replace

    ready = run.world.green
    run.world.green = replace(ready, available_replicas=1)
    drive(run, seconds=120)
    assert run.status.current_step == 1  # baked long enough, but held
    run.world.green = ready
    drive(run, until=lambda r: r.status.phase == "Promoted")
    assert run.status.phase == "Promoted"
    assert any(e.reason == "GreenRecovered" for e in run.world.events)


# ---- clock skew ---------------------------------------------------------------------------------
def test_two_minutes_of_clock_skew_holds_with_a_condition_naming_it_instead_of_failing() -> None:
    run = start(four_steps(maxHold="5m"), skew=-120.0)
    run.world.results = breach_after(0.0)  # what a skewed evaluation would have produced
    drive(run, seconds=900)
    assert run.status.rollback is None and run.world.router_weight == 5
    condition = next(c for c in run.status.conditions if c.type == "ClockSynchronized")
    assert condition.status == "False" and "120s behind" in condition.message
    assert run.status.phase == "Paused" and run.status.pause_reason == "AnalysisHold"
    assert "evaluate" not in run.world.calls  # never judged green on skewed windows


# ---- commands ------------------------------------------------------------------------------------
def test_an_unparseable_command_is_consumed_once_with_a_warning() -> None:
    run = start(four_steps())
    at_step(run, 1)
    run.world.commands = [Command("invalid-abc", "invalid", problem="not valid JSON (Expecting value)")]
    drive(run, seconds=60)
    rejected = [e for e in run.world.events if e.reason == "CommandRejected"]
    assert len(rejected) == 1 and "not valid JSON" in rejected[0].message and rejected[0].type == "Warning"
    assert run.status.last_command == "invalid-abc"


def test_promote_full_skips_the_remaining_steps_and_promotes_at_a_verified_100() -> None:
    run = start(make_spec(steps=[{"weight": w, "pause": "1h"} for w in (5, 25, 50, 100)]))
    at_step(run, 0)
    run.world.commands = [Command("c1", "promote-full", by="alice")]
    drive(run, seconds=1)
    assert run.status.phase == "Promoted" and run.world.router_weight == 100
    accepted = next(e for e in run.world.events if e.reason == "PromoteFullAccepted")
    assert "alice" in accepted.message


# ---- one engine ----------------------------------------------------------------------------------
def test_decide_has_exactly_one_caller_outside_the_core() -> None:
    callers = []
    for path in (REPO / "controller").rglob("*.py"):
        if "core" in path.relative_to(REPO / "controller").parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "decide":
                callers.append(str(path.relative_to(REPO)))
    assert sorted(set(callers)) == ["controller/engine/engine.py"]


def test_the_fake_world_the_tests_use_is_a_world() -> None:
    from controller.engine.world import World

    world: World = FakeWorld(make_spec())  # mypy checks the protocol; this keeps the import honest
    assert world.read_rollout() is not None
    assert timedelta(0) == timedelta(0)
