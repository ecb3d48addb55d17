"""Fault injection at every boundary of a reconcile: fail it or kill the process there, then carry on.

For each boundary (each read, the router write, the status write, the finalizer, scaling, events) and
each way of breaking it (a failed call; a failed call whose write took effect — a lost answer; a crash
before or after the effect), the fault is injected at several points of a healthy rollout, of one that
must roll back, and of one deleted mid-step. Every run must reach the outcome the clean run reaches and
keep the invariants of ``tests/engine/drive.py`` at every write. The table of outcomes is printed at the
end of ``make test``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import pytest

from tests.engine.drive import Results, Run, breach_after, count_calls, drive, final_phase, healthy, inject, start
from tests.engine.fakes import BOUNDARIES, WRITES, Fault
from tests.engine.report import FAULT_TABLE

SCENARIOS: dict[str, tuple[Results, float | None, str]] = {
    # name: (results, delete at (s), expected final state)
    "healthy": (healthy, None, "Promoted at 100%"),
    "breach at 50%": (breach_after(200.0), None, "RolledBack at 0%"),
    "deleted at 25%": (healthy, 100.0, "deleted at 0%"),
}
MODES = [
    ("fail", False),  # the call failed and changed nothing
    ("fail", True),  # the write happened but its answer was lost
    ("crash", False),  # the process died before the call took effect
    ("crash", True),  # the process died right after the write took effect
]


def _points(total: int) -> list[int]:
    """Calls to hit: the first, one in the middle of the run, the last."""
    return sorted({1, max(1, total // 2), max(1, total)})


def _settled(expected: str) -> Callable[[Run], bool]:
    """Stop a run once it reached its expected end state and nothing is pending any more."""

    def done(run: Run) -> bool:
        status = run.status
        quiet = status.target_weight is None and (status.phase != "Promoted" or status.blue_scaled_down)
        return final_phase(run) == expected and quiet

    return done


def _cases() -> list[tuple[str, str, int]]:
    """(scenario, boundary, calls in a clean run) for every boundary the scenario crosses."""
    cases: list[tuple[str, str, int]] = []
    for name, (results, delete_at, expected) in SCENARIOS.items():
        counts = count_calls(results, delete_at, until=_settled(expected))
        cases += [(name, boundary, counts[boundary]) for boundary in BOUNDARIES if counts.get(boundary)]
    return cases


@pytest.mark.parametrize(("scenario", "boundary", "total"), _cases())
def test_a_fault_at_any_boundary_keeps_every_invariant(scenario: str, boundary: str, total: int) -> None:
    results, delete_at, expected = SCENARIOS[scenario]
    outcomes: dict[str, int] = defaultdict(int)
    for kind, effect in MODES:
        if effect and boundary not in WRITES:
            continue
        for point in _points(total):
            run = start(results=results)
            inject(run, boundary, Fault(kind=kind, effect=effect), point)  # type: ignore[arg-type]
            drive(run, delete_at=delete_at, until=_settled(expected))
            assert run.watch.violations == [], (scenario, boundary, kind, effect, point, run.watch.violations)
            outcome = final_phase(run)
            assert outcome == expected, (scenario, boundary, kind, effect, point, outcome, run.status.message)
            outcomes[f"{kind}{' after effect' if effect else ''}"] += 1
            FAULT_TABLE.add(scenario, boundary, f"{kind}{' after effect' if effect else ''}", outcome, run.restarts)
    assert outcomes, "no fault was injected"


def test_a_status_write_failing_right_after_a_rollback_cannot_undo_it() -> None:
    """The bug this engine exists for: router set to 0, status write fails, next reconcile re-asserts 25%."""
    run = start(results=breach_after(120.0))
    drive(run, until=lambda r: r.status.rollback is not None)
    assert run.status.rollback is not None
    # Another rollout's worth of time with the status write failing every other call and crashes in between.
    run.world.faults["status"] = Fault(kind="fail", times=3)
    drive(run, seconds=120)
    assert run.watch.violations == []
    assert run.world.router_weight == 0 and run.status.phase == "RolledBack"
    first_zero = run.world.router_history.index(0)
    assert set(run.world.router_history[first_zero:]) == {0}  # nothing rose again after the rollback


def test_a_crash_between_the_status_write_and_the_router_write_converges_on_the_target() -> None:
    run = start()
    drive(run, until=lambda r: r.status.current_step == 1 and r.status.step_started_at is not None)
    run.world.faults["router.set"] = Fault(kind="crash")  # dies with the next step's target persisted
    drive(run, until=lambda r: r.restarts == 1)
    target = run.status.target_weight
    assert target == 50 and run.world.router_weight == 25  # intent recorded, not yet acted on
    drive(run, seconds=30)
    assert run.world.router_weight == 50 and run.status.weight == 50 and run.status.target_weight is None
    assert run.watch.violations == []
