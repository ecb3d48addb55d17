"""Driving the engine against a FakeWorld through a whole rollout, checking the invariants at every write.

A run ticks a manual clock, reconciles, and restarts the engine (new process: empty memory) whenever a
``Crash`` escapes. The invariants are checked where they can break — on every router write — against what
was *persisted* at that moment, which is all a restarted operator would know:

1. green's weight never exceeds the persisted target (intent before action);
2. once a rollback is persisted, nothing but 0% is ever written;
3. ``Promoted`` is persisted only while the router reads 100%;
4. no flaps: the weights written rise step by step, and fall only once (to 0, for a rollback or delete);
5. after a delete, the object goes only once the router reads 0% (or the rollout was promoted).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controller.clock import ManualClock
from controller.core.observations import Deletion
from controller.core.results import FAIL, PASS, CheckResult
from controller.engine import Engine
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus
from tests.core.builders import T0, make_spec
from tests.engine.fakes import Crash, FakeRouter, FakeWorld, Fault

Results = Callable[[RolloutSpec, datetime], Sequence[CheckResult]]


def healthy(spec: RolloutSpec, at: datetime) -> Sequence[CheckResult]:
    return [CheckResult(c.name, PASS, f"{c.name} ok", 1.0, 1.0, "<= 1.10x blue", 500) for c in spec.analysis.checks]


def breach_after(seconds: float) -> Results:
    """Healthy until ``seconds`` after T0, then p99 fails (a regression that starts mid-rollout)."""

    def results(spec: RolloutSpec, at: datetime) -> Sequence[CheckResult]:
        good = healthy(spec, at)
        if (at - T0).total_seconds() < seconds:
            return good
        bad = CheckResult("p99-latency", FAIL, "p99-latency 0.41s is 1.31x blue 0.31s", 0.41, 0.31, "<= 1.10x blue")
        return [bad if r.name == "p99-latency" else r for r in good]

    return results


def rollout_spec() -> RolloutSpec:
    return make_spec(
        steps=[
            {"weight": 10, "pause": "1m"},
            {"weight": 25, "pause": "1m"},
            {"weight": 50, "pause": "1m"},
            {"weight": 100, "pause": "1m"},
        ],
        promotion={"scaleDownBlueAfter": "2m"},
    )


class InvariantBroken(AssertionError):
    pass


@dataclass
class Watch:
    """Checks the invariants on every router write and every status write of a FakeWorld."""

    world: FakeWorld
    written: list[int] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def install(self) -> None:
        world, watch = self.world, self
        original_status = world.write_status

        def write_status(status: RolloutStatus) -> None:
            original_status(status)
            if world.status is status and status.phase == "Promoted" and world.router_weight != 100:
                watch.fail(f"Promoted persisted while the router reads {world.router_weight}%")

        world.write_status = write_status  # type: ignore[method-assign]
        original_router = world.router

        def router(routing: object) -> FakeRouter:
            inner = original_router(routing)  # type: ignore[arg-type]
            original_set = inner.set_weight

            def set_weight(green: int) -> int:
                watch.before_write(green)
                return original_set(green)

            inner.set_weight = set_weight  # type: ignore[method-assign]
            return inner

        world.router = router  # type: ignore[method-assign]

    def fail(self, message: str) -> None:
        self.violations.append(message)

    def before_write(self, green: int) -> None:
        persisted = self.world.status
        ceiling = max(persisted.weight, persisted.target_weight or 0)
        if persisted.target_weight != green and green > persisted.weight:
            self.fail(
                f"wrote {green}% but the persisted target is {persisted.target_weight} (weight {persisted.weight})"
            )
        if green > ceiling:
            self.fail(f"wrote {green}% above the persisted ceiling {ceiling}%")
        if persisted.rollback is not None and green != 0:
            self.fail(f"wrote {green}% after a rollback was persisted")
        if self.written and green != self.written[-1]:
            rising = green > self.written[-1]
            fell_before = any(b < a for a, b in zip(self.written, self.written[1:], strict=False))
            if rising and fell_before:
                self.fail(f"weight flap: {self.written} then {green}")
        self.written.append(green)


@dataclass
class Run:
    world: FakeWorld
    clock: ManualClock
    watch: Watch
    restarts: int = 0
    reconciles: int = 0

    @property
    def status(self) -> RolloutStatus:
        return self.world.status


def start(spec: RolloutSpec | None = None, results: Results = healthy, **world: object) -> Run:
    fake = FakeWorld(spec or rollout_spec(), **world)  # type: ignore[arg-type]
    fake.results = results
    watch = Watch(fake)
    watch.install()
    return Run(fake, ManualClock(T0), watch)


def drive(
    run: Run,
    *,
    seconds: float = 900.0,
    tick: float = 10.0,
    until: Callable[[Run], bool] | None = None,
    delete_at: float | None = None,
) -> Run:
    """Reconcile every ``tick`` seconds for ``seconds`` (or until ``until``), restarting after each crash."""
    engine = Engine(run.clock, jitter=lambda: 1.0)
    elapsed = 0.0
    while elapsed < seconds and not run.world.deleted:
        if delete_at is not None and elapsed >= delete_at and run.world.deletion is None:
            run.world.deletion = Deletion(requested_at=run.clock.now(), timeout=600.0)
        try:
            engine.reconcile(run.world)
        except Crash:
            run.restarts += 1
            engine = Engine(run.clock, jitter=lambda: 1.0)  # the process died: nothing in memory survives
        run.reconciles += 1
        if until is not None and until(run):
            break
        run.clock.advance(tick)
        elapsed += tick
    return run


def final_phase(run: Run) -> str:
    if run.world.deleted:
        return f"deleted at {run.world.router_weight}%"
    return f"{run.status.phase} at {run.world.router_weight}%"


def inject(run: Run, boundary: str, fault: Fault, at_call: int) -> None:
    """Arm ``fault`` on the ``at_call``-th call (1-based) of ``boundary``: counted as calls happen."""
    world = run.world
    original = world._call
    seen = {"n": 0}

    def counted(b: str, write: Callable[[], None] | None = None) -> None:
        if b == boundary:
            seen["n"] += 1
            if seen["n"] == at_call:
                world.faults[b] = fault  # type: ignore[index]
        original(b, write)  # type: ignore[arg-type]

    world._call = counted  # type: ignore[method-assign,assignment]


def count_calls(
    results: Results, delete_at: float | None = None, until: Callable[[Run], bool] | None = None
) -> dict[str, int]:
    run = drive(start(results=results), delete_at=delete_at, until=until)
    counts: dict[str, int] = {}
    for call in run.world.calls:
        counts[call] = counts.get(call, 0) + 1
    return counts


def timestamp(run: Run) -> timedelta:
    return run.clock.now() - T0
