"""An in-memory World for the engine, with a fault switch at every boundary a real one has.

The fake is what the operator's and the sandbox's worlds are to the engine: the rollout object (spec,
persisted status, commands, deletion, finalizer), a router, two tracks, a metric source and an event sink.
Tests flip ``faults`` to make one boundary fail (an exception the engine must survive) or crash (a
``Crash`` the engine must not catch: the process dies there; a new engine then resumes from what was
persisted). ``effect`` decides whether a failing write took effect before the failure (a lost answer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, get_args

from controller.core.actions import EmitEvent, ScaleTrack, SetWeight
from controller.core.commands import Command
from controller.core.observations import Deletion, TrackObservation
from controller.core.results import CheckResult
from controller.engine.world import RolloutView, Side
from controller.model.spec import RolloutSpec, Track
from controller.model.status import AppliedRouting, RolloutStatus
from controller.routing.base import RouterUnreachable, WeightMismatch

Boundary = Literal[
    "read",
    "router.get",
    "router.set",
    "track",
    "versions",
    "skew",
    "evaluate",
    "expect",
    "status",
    "finalizer",
    "scale",
    "event",
]
BOUNDARIES: tuple[Boundary, ...] = get_args(Boundary)
WRITES: frozenset[Boundary] = frozenset({"router.set", "status", "finalizer", "scale", "event"})


class Crash(BaseException):
    """The process dies at this point: nothing after it runs, nothing in memory survives."""


class Failure(Exception):
    """An API call that failed (timeout, 500, connection reset)."""


@dataclass
class Fault:
    kind: Literal["fail", "crash"] = "fail"
    effect: bool = False  # for writes: the write reached the server before the failure
    times: int = 1  # how many calls it hits (then the boundary heals)


def track(version: str, hash_: str, replicas: int = 3) -> TrackObservation:
    return TrackObservation(True, replicas, replicas, hash_, {f"{hash_}-pod-{i}": version for i in range(replicas)})


@dataclass
class FakeWorld:
    spec: RolloutSpec | None
    status: RolloutStatus = field(default_factory=RolloutStatus)
    problem: str = ""
    router_weight: int = 0
    router_readable: bool = True
    router_writable: bool = True
    blue: TrackObservation = field(default_factory=lambda: track("3.11.9", "b1"))
    green: TrackObservation = field(default_factory=lambda: track("3.12.4", "g1"))
    results: Callable[[RolloutSpec, datetime], Sequence[CheckResult]] | None = None
    skew: float | None = 0.0
    commands: list[Command] = field(default_factory=list)
    deletion: Deletion | None = None
    finalizers: list[str] = field(default_factory=list)
    generation: int = 1
    faults: dict[Boundary, Fault] = field(default_factory=dict)
    deleted: bool = False
    primary_router: str | None = None  # the first routing seen is ``router_weight``; others below
    other_routers: dict[str, int] = field(default_factory=dict)
    # what happened, in order
    router_history: list[int] = field(default_factory=list)
    status_history: list[RolloutStatus] = field(default_factory=list)
    requested: list[SetWeight | ScaleTrack] = field(default_factory=list)
    events: list[EmitEvent] = field(default_factory=list)
    calls: list[Boundary] = field(default_factory=list)
    forecasts: list[datetime] = field(default_factory=list)
    evaluated: list[datetime] = field(default_factory=list)

    # ---- fault plumbing ----------------------------------------------------------------------------
    def _call(self, boundary: Boundary, write: Callable[[], None] | None = None) -> None:
        self.calls.append(boundary)
        fault = self.faults.get(boundary)
        if fault is None:
            if write is not None:
                write()
            return
        fault.times -= 1
        if fault.times <= 0:
            del self.faults[boundary]
        if write is not None and fault.effect:
            write()
        if fault.kind == "crash":
            raise Crash(boundary)
        raise Failure(f"{boundary}: injected failure")

    # ---- World -------------------------------------------------------------------------------------
    def read_rollout(self) -> RolloutView | None:
        self._call("read")
        if self.deleted:
            return None
        return RolloutView(
            namespace="shop",
            name="checkout",
            status=self.status,
            spec=self.spec,
            problem=self.problem,
            generation=self.generation,
            commands=tuple(self.commands),
            deletion=self.deletion,
            has_finalizer="greenlane.dev/traffic-to-blue" in self.finalizers,
        )

    def router(self, routing: AppliedRouting) -> FakeRouter:
        key = routing.model_dump_json()
        if self.primary_router is None:
            self.primary_router = key
        return FakeRouter(self, None if key == self.primary_router else key)

    def observe_track(self, side: Side, track: Track) -> TrackObservation:
        self._call("track")
        seen = self.blue if side == "blue" else self.green
        return replace(seen, python_versions=None)

    def python_versions(self, side: Side, track: Track, seen: TrackObservation) -> Mapping[str, str] | None:
        self._call("versions")
        return (self.blue if side == "blue" else self.green).python_versions

    def clock_skew(self) -> float | None:
        self._call("skew")
        return self.skew

    def expect_evaluation(
        self,
        spec: RolloutSpec,
        status: RolloutStatus,
        at: datetime,
        tracks: tuple[TrackObservation, TrackObservation],
    ) -> None:
        self._call("expect")
        self.forecasts.append(at)

    def evaluate(
        self,
        spec: RolloutSpec,
        status: RolloutStatus,
        at: datetime,
        tracks: tuple[TrackObservation, TrackObservation],
    ) -> Sequence[CheckResult]:
        self._call("evaluate")
        self.evaluated.append(at)
        return tuple(self.results(spec, at)) if self.results is not None else ()

    def write_status(self, status: RolloutStatus) -> None:
        def write() -> None:
            self.status = status
            self.status_history.append(status)

        self._call("status", write)

    def set_finalizer(self, present: bool) -> None:
        def write() -> None:
            name = "greenlane.dev/traffic-to-blue"
            if present and name not in self.finalizers:
                self.finalizers.append(name)
            if not present and name in self.finalizers:
                self.finalizers.remove(name)
                if self.deletion is not None and not self.finalizers:
                    self.deleted = True  # the API server completes the deletion

        self._call("finalizer", write)

    def scale(self, deployment: str, replicas: int) -> None:
        self.requested.append(
            ScaleTrack("blue" if self.spec and deployment == self.spec.blue.deployment else "green", replicas)
        )

        def write() -> None:
            if self.spec is not None and deployment == self.spec.blue.deployment:
                self.blue = replace(self.blue, desired_replicas=replicas, available_replicas=replicas)

        self._call("scale", write)

    def emit(self, event: EmitEvent, status: RolloutStatus) -> None:
        self._call("event", lambda: self.events.append(event))


class FakeRouter:
    """``key`` None is the world's main router (``router_weight``); another key, a router an edit named."""

    def __init__(self, world: FakeWorld, key: str | None = None) -> None:
        self.world, self.key = world, key

    def describe(self) -> str:
        return "FakeRouter shop/checkout"

    def _weight(self) -> int:
        return self.world.router_weight if self.key is None else self.world.other_routers.get(self.key, 0)

    def get_weight(self) -> int:
        self.world._call("router.get")
        if not self.world.router_readable:
            raise RouterUnreachable("router unreadable (injected)")
        return self._weight()

    def set_weight(self, green: int) -> int:
        world = self.world
        world.requested.append(SetWeight(green))

        def write() -> None:
            if not world.router_writable:
                return
            if self.key is None:
                world.router_weight = green
                world.router_history.append(green)
            else:
                world.other_routers[self.key] = green

        world._call("router.set", write)
        if not world.router_writable:
            raise RouterUnreachable("router not writable (injected)")
        if self._weight() != green:
            raise WeightMismatch(f"wrote {green} but read {self._weight()}")
        return green
