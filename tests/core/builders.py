"""Plain-value builders for core tests: a spec, a healthy world, results, and a clock.

Tests state only what matters to the rule they check; everything else is a healthy default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from controller.clock import ManualClock
from controller.core.actions import Action, Decision, EmitEvent, ScaleTrack, SetWeight
from controller.core.commands import Command
from controller.core.observations import Observations, TrackObservation
from controller.core.results import FAIL, INCONCLUSIVE, PASS, CheckResult, Verdict
from controller.engine import Engine
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus
from tests.engine.fakes import FakeWorld

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


class Loop:
    """A caller that reconciles through the one engine against a FakeWorld whose router obeys (unless broken).

    ``step`` returns what the core asked for in that reconcile (weights written or attempted, scales,
    events) with the persisted status, as a ``Decision``, so tests read it like the core's own output.
    """

    def __init__(self, spec: RolloutSpec, **world: Any) -> None:
        self.spec = spec
        self.world = FakeWorld(spec, **world)
        self.clock = ManualClock(T0)
        self.engine = Engine(self.clock, jitter=lambda: 1.0)
        self.log: list[Decision] = []
        self._results: tuple[CheckResult, ...] | None = None
        self.world.results = lambda spec, at: self._results or ()

    # the world, as the tests see it
    @property
    def status(self) -> RolloutStatus:
        return self.world.status

    @status.setter
    def status(self, value: RolloutStatus) -> None:
        self.world.status = value

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @now.setter
    def now(self, value: datetime) -> None:
        self.clock.advance((value - self.clock.now()).total_seconds())

    @property
    def router(self) -> int:
        return self.world.router_weight

    @router.setter
    def router(self, value: int) -> None:
        self.world.router_weight = value

    @property
    def router_broken(self) -> bool:
        return not self.world.router_readable

    @router_broken.setter
    def router_broken(self, broken: bool) -> None:
        self.world.router_readable = self.world.router_writable = not broken

    @property
    def blue(self) -> TrackObservation:
        return self.world.blue

    @blue.setter
    def blue(self, value: TrackObservation) -> None:
        self.world.blue = value

    @property
    def green(self) -> TrackObservation:
        return self.world.green

    @green.setter
    def green(self, value: TrackObservation) -> None:
        self.world.green = value

    @property
    def commands(self) -> list[Command]:
        return self.world.commands

    def step(self, results: tuple[CheckResult, ...] | None = None, advance: float = 0.0) -> Decision:
        self.clock.advance(advance)
        self._results = results
        if results is None:  # no data at all: the evaluation (if due) sees nothing
            self.world.results = lambda spec, at: ()
        else:
            self.world.results = lambda spec, at: self._results or ()
        requested, events = len(self.world.requested), len(self.world.events)
        outcome = self.engine.reconcile(self.world)
        assert outcome.error is None, outcome.error
        actions = (*self.world.requested[requested:], *self.world.events[events:])
        decision = Decision(self.world.status, actions, outcome.requeue_after, None, outcome.released)
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
        if self.status.step_started_at is None:
            self.step()
        assert self.status.step_started_at is not None, self.status.message
