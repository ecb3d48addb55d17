"""Property tests: random specs and random observation streams, checked after every single call.

The simulated caller applies weights and scale-downs faithfully, except when the stream says the router
is broken, drifts, or the write is lost; analysis results, commands, template changes and vanishing
Deployments arrive at random. Whatever happens, the invariants of DESIGN.md §2.2 must hold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.core.actions import Decision, ScaleTrack, SetWeight
from controller.core.commands import Command
from controller.core.decide import decide
from controller.core.observations import MISSING, Observations
from controller.core.results import FAIL, INCONCLUSIVE, PASS, CheckResult
from controller.core.schedule import evaluation_due
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus
from tests.core.builders import BLUE, GREEN, T0, reasons

DURATIONS = st.sampled_from(["0s", "10s", "30s", "1m", "2m", "5m"])


@st.composite
def specs(draw: st.DrawFn) -> RolloutSpec:
    count = draw(st.integers(1, 4))
    weights = [*sorted(draw(st.lists(st.integers(0, 100), min_size=count - 1, max_size=count - 1))), 100]
    pauses = draw(st.lists(st.one_of(DURATIONS, st.just("manual")), min_size=count, max_size=count))
    checks = [
        {"name": "latency", "template": "latency", "maxRatioToBlue": 1.1, "critical": draw(st.booleans())},
        {"name": "leak", "template": "memory", "maxSlopeOverBlue": "50Mi/h"},
    ]
    analysis = {
        "interval": draw(st.sampled_from(["10s", "30s", "1m"])),
        "warmup": draw(st.sampled_from(["0s", "30s", "2m"])),
        "failureLimit": draw(st.integers(1, 3)),
        "requiredPasses": draw(st.integers(1, 3)),
        "maxHold": draw(st.sampled_from(["1m", "5m"])),
        "onHold": draw(st.sampled_from(["pause", "rollback"])),
        "checks": checks,
    }
    wire: dict[str, Any] = {
        "blue": {"deployment": "blue", "service": "blue", "expectPython": "3.11"},
        "green": {"deployment": "green", "service": "green", "expectPython": "3.12"},
        "trafficRouting": {"gatewayAPI": {"httpRoute": "r"}},
        "steps": [{"weight": w, "pause": p} for w, p in zip(weights, pauses, strict=True)],
        "analysis": analysis,
        "promotion": {"scaleDownBlueAfter": draw(st.sampled_from(["0s", "2m", "1h"]))},
    }
    return RolloutSpec.model_validate(wire)


@dataclass(frozen=True)
class Tick:
    advance: float
    results: str  # pass, fail, outage, inconclusive, partial, none
    router: str  # ok, broken, lost, drift
    command: str | None
    green: str  # ok, new-template, missing, unready


TICKS = st.builds(
    Tick,
    advance=st.sampled_from([0.0, 1.0, 5.0, 10.0, 30.0, 60.0, 600.0]),
    results=st.sampled_from(["pass"] * 6 + ["fail", "outage", "inconclusive", "partial", "none"]),
    router=st.sampled_from(["ok"] * 8 + ["broken", "lost", "drift"]),
    command=st.one_of(
        st.none(), st.none(), st.none(), st.sampled_from(["promote", "abort", "retry", "pause", "resume"])
    ),
    green=st.sampled_from(["ok"] * 12 + ["new-template", "missing", "unready"]),
)


def _results(kind: str) -> tuple[CheckResult, ...] | None:
    verdict = {"pass": PASS, "fail": FAIL}.get(kind, INCONCLUSIVE)
    if kind == "none":
        return None
    results = tuple(
        CheckResult(name, verdict, f"{name} {kind}", 1.0, 1.0, "x", outage=kind == "outage")
        for name in ("latency", "leak")
    )
    return results[:1] if kind == "partial" else results


@dataclass
class World:
    """The simulated caller: state of the router and Deployments, applying what the core asks."""

    router: int = 0
    blue_replicas: int = 3
    template: str = "g1"
    commands: tuple[Command, ...] = ()

    def observe(self, tick: Tick, spec: RolloutSpec, status: RolloutStatus, now: Any) -> Observations:
        if tick.router == "drift":
            self.router = (self.router + 37) % 101
        if tick.green == "new-template":
            self.template = f"g{len(self.template) + 1}"
        if tick.command:
            self.commands = (*self.commands, Command(f"c{len(self.commands)}", tick.command))  # type: ignore[arg-type]
        green = replace(GREEN, template_hash=self.template)
        if tick.green == "missing":
            green = MISSING
        elif tick.green == "unready":
            green = replace(green, available_replicas=1)
        blue = replace(BLUE, desired_replicas=self.blue_replicas, available_replicas=self.blue_replicas)
        results = _results(tick.results) if evaluation_due(spec, status, now) else None
        weight = None if tick.router == "broken" else self.router
        return Observations(router_weight=weight, blue=blue, green=green, results=results)

    def apply(self, decision: Decision, tick: Tick) -> None:
        for action in decision.actions:
            if isinstance(action, SetWeight) and tick.router not in ("broken", "lost"):
                self.router = action.green
            if isinstance(action, ScaleTrack):
                self.blue_replicas = action.replicas


def run(spec: RolloutSpec, ticks: list[Tick], through_json: bool = False) -> list[tuple[Decision, Decision]]:
    """Drive the core; each entry is (decision, decision of an immediate identical second call)."""
    world, status, now = World(), RolloutStatus(), T0
    out: list[tuple[Decision, Decision]] = []
    for tick in ticks:
        now += timedelta(seconds=tick.advance)
        observations = world.observe(tick, spec, status, now)
        decision = decide(spec, status, observations, world.commands, now)
        again = decide(spec, decision.status, observations, world.commands, now)
        out.append((decision, again))
        world.apply(decision, tick)
        status = decision.status
        if through_json:
            status = RolloutStatus.model_validate(status.model_dump(mode="json", by_alias=True))
    return out


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STREAMS = st.lists(TICKS, min_size=1, max_size=60)


@PROPERTY
@given(spec=specs(), ticks=STREAMS)
def test_weight_never_exceeds_the_current_step(spec: RolloutSpec, ticks: list[Tick]) -> None:
    for decision, _ in run(spec, ticks):
        ceiling = spec.steps[min(decision.status.current_step, len(spec.steps) - 1)].weight
        status = decision.status
        # the verified weight fits, or a move down to a weight that fits is under way (restart, rollback)
        assert status.weight <= ceiling or (status.target_weight is not None and status.target_weight <= ceiling)
        assert all(a.green <= ceiling for a in decision.actions if isinstance(a, SetWeight))


@PROPERTY
@given(spec=specs(), ticks=STREAMS)
def test_never_promoted_without_the_last_steps_passing_evaluations(spec: RolloutSpec, ticks: list[Tick]) -> None:
    previous = RolloutStatus()
    for decision, _ in run(spec, ticks):
        status = decision.status
        if status.phase == "Promoted" and previous.phase != "Promoted":
            assert status.current_step == len(spec.steps) - 1
            assert status.consecutive_passes >= spec.analysis.required_passes
            assert status.last_evaluation_at is not None and status.step_started_at is not None
            assert status.last_evaluation_at > status.step_started_at
            assert all(c.verdict == PASS for c in status.checks)
        previous = status


@PROPERTY
@given(spec=specs(), ticks=STREAMS)
def test_a_rollbacks_first_action_sets_green_to_zero(spec: RolloutSpec, ticks: list[Tick]) -> None:
    for decision, _ in run(spec, ticks):
        if "RollingBack" in reasons(decision.actions):
            assert decision.actions[0] == SetWeight(0)


@PROPERTY
@given(spec=specs(), ticks=st.lists(TICKS.filter(lambda t: t.results != "pass" and t.command != "promote")))
def test_missing_or_bad_data_never_advances_a_step(spec: RolloutSpec, ticks: list[Tick]) -> None:
    for decision, _ in run(spec, ticks):
        assert decision.status.current_step == 0
        assert decision.status.phase != "Promoted"
        assert "StepCompleted" not in reasons(decision.actions)


@PROPERTY
@given(spec=specs(), ticks=STREAMS)
def test_calling_twice_with_the_same_inputs_asks_for_nothing_new(spec: RolloutSpec, ticks: list[Tick]) -> None:
    for decision, again in run(spec, ticks):
        assert again.actions == (), (decision.actions, decision.status)
        assert again.status == decision.status


@PROPERTY
@given(spec=specs(), ticks=STREAMS)
def test_round_tripping_status_through_json_changes_nothing(spec: RolloutSpec, ticks: list[Tick]) -> None:
    direct = [d.actions for d, _ in run(spec, ticks)]
    restarted = [d.actions for d, _ in run(spec, ticks, through_json=True)]
    assert direct == restarted


@PROPERTY
@given(spec=specs(), ticks=STREAMS)
def test_blue_is_never_scaled_down_before_promotion_plus_the_delay(spec: RolloutSpec, ticks: list[Tick]) -> None:
    now = T0
    for tick, (decision, _) in zip(ticks, run(spec, ticks), strict=True):
        now += timedelta(seconds=tick.advance)
        if any(isinstance(a, ScaleTrack) for a in decision.actions):
            promoted = decision.status.promoted_at
            assert decision.status.phase == "Promoted" and promoted is not None
            assert (now - promoted).total_seconds() >= spec.promotion.scale_down_blue_after
            assert [a for a in decision.actions if isinstance(a, ScaleTrack)] == [ScaleTrack("blue", 0)]
