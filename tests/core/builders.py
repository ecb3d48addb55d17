"""Plain-value builders for core tests: a spec, a healthy world, results, and a clock.

Tests state only what matters to the rule they check; everything else is a healthy default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.core.actions import Action, Decision, EmitEvent, ScaleTrack, SetWeight
from controller.core.commands import Command
from controller.core.decide import decide
from controller.core.observations import Observations, TrackObservation
from controller.core.results import FAIL, INCONCLUSIVE, PASS, CheckResult, Verdict
from controller.core.schedule import evaluation_due
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def make_spec(**analysis: Any) -> RolloutSpec:
    """Two steps (25% for 1m, 100% for 2m), interval 30s, two passes, two failures, no warm-up."""
    steps = analysis.pop("steps", [{"weight": 25, "pause": "1m"}, {"weight": 100, "pause": "2m"}])
    checks = analysis.pop(
        "checks",
        [
            {"name": "p99-latency", "template": "latency", "maxRatioToBlue": 1.1},
            {"name": "errors", "template": "error-rate", "max": 0.01, "critical": True},
        ],
    )
    promotion = analysis.pop("promotion", {"scaleDownBlueAfter": "1h"})
    wire = {
        "blue": {"deployment": "checkout", "service": "checkout-blue", "expectPython": "3.11"},
        "green": {"deployment": "checkout-py312", "service": "checkout-green", "expectPython": "3.12"},
        "trafficRouting": {"gatewayAPI": {"httpRoute": "checkout"}},
        "steps": steps,
        "analysis": {"interval": "30s", "warmup": "0s", "checks": checks, **analysis},
        "promotion": promotion,
    }
    return RolloutSpec.model_validate(wire)


def track(version: str, hash_: str = "h1", replicas: int = 3) -> TrackObservation:
    pods = {f"pod-{i}": version for i in range(replicas)}
    return TrackObservation(True, replicas, replicas, hash_, pods)


BLUE = track("3.11.9", "b1")
GREEN = track("3.12.4", "g1")


def world(weight: int | None, results: tuple[CheckResult, ...] | None = None, **kw: Any) -> Observations:
    return Observations(router_weight=weight, blue=kw.get("blue", BLUE), green=kw.get("green", GREEN), results=results)


def passing(spec: RolloutSpec) -> tuple[CheckResult, ...]:
    return tuple(
        CheckResult(c.name, PASS, f"{c.name} ok", 1.0, 1.0, "<= 1.10x blue", 100) for c in spec.analysis.checks
    )


def with_result(
    spec: RolloutSpec, name: str, verdict: Verdict, message: str = "", **kw: Any
) -> tuple[CheckResult, ...]:
    return tuple(
        replace(r, verdict=verdict, message=message or f"{name} {verdict}", **kw) if r.name == name else r
        for r in passing(spec)
    )


def failing(spec: RolloutSpec, name: str = "p99-latency") -> tuple[CheckResult, ...]:
    message = f"{name} 0.41s is 1.31x blue 0.31s, limit 1.10x"
    return with_result(spec, name, FAIL, message, green=0.41, blue=0.31, threshold="<= 1.10x blue")


def outage(spec: RolloutSpec) -> tuple[CheckResult, ...]:
    return tuple(
        CheckResult(c.name, INCONCLUSIVE, "Prometheus unreachable: connection refused", outage=True)
        for c in spec.analysis.checks
    )


def reasons(actions: Sequence[Action]) -> list[str]:
    return [a.reason for a in actions if isinstance(a, EmitEvent)]


def weights(actions: Sequence[Action]) -> list[int]:
    return [a.green for a in actions if isinstance(a, SetWeight)]


def scales(actions: Sequence[Action]) -> list[ScaleTrack]:
    return [a for a in actions if isinstance(a, ScaleTrack)]


@dataclass
class Loop:
    """A caller that applies SetWeight perfectly (unless the router is broken) and evaluates when due."""

    spec: RolloutSpec
    status: RolloutStatus = field(default_factory=RolloutStatus)
    now: datetime = T0
    router: int | None = 0
    router_broken: bool = False
    blue: TrackObservation = BLUE
    green: TrackObservation = GREEN
    commands: list[Command] = field(default_factory=list)
    log: list[Decision] = field(default_factory=list)

    def step(self, results: tuple[CheckResult, ...] | None = None, advance: float = 0.0) -> Decision:
        self.now += timedelta(seconds=advance)
        due = evaluation_due(self.spec, self.status, self.now)
        obs = Observations(
            router_weight=None if self.router_broken else self.router,
            blue=self.blue,
            green=self.green,
            results=results if due else None,
        )
        decision = decide(self.spec, self.status, obs, self.commands, self.now)
        for action in decision.actions:
            if isinstance(action, SetWeight) and not self.router_broken:
                self.router = action.green
            if isinstance(action, ScaleTrack):
                self.blue = replace(self.blue, desired_replicas=action.replicas, available_replicas=action.replicas)
        self.status = decision.status
        self.log.append(decision)
        return decision

    def command(self, kind: str) -> Decision:
        self.commands.append(Command(f"c{len(self.commands) + 1}", kind))  # type: ignore[arg-type]
        return self.step()

    def run(self, seconds: float, results: tuple[CheckResult, ...] | None, every: float = 30.0) -> list[str]:
        """Step every ``every`` seconds with the same results; the event reasons emitted on the way."""
        out: list[str] = []
        elapsed = 0.0
        while elapsed < seconds:
            out += reasons(self.step(results, advance=every).actions)
            elapsed += every
        return out

    def start(self) -> None:
        """Preflight and the first weight verified: step 1 bakes from now."""
        self.step()
        self.step()
        assert self.status.step_started_at is not None, self.status.message
