"""No busy loops: a rollout is looked at when time alone changes what the core decides, not every second."""

from __future__ import annotations

from controller.clock import ManualClock
from controller.engine import Engine
from tests.core.builders import T0, make_spec
from tests.engine.drive import start
from tests.engine.test_scenarios import inconclusive

INTERVAL = 30.0


def test_a_rollout_waiting_for_passes_wakes_at_its_next_evaluation() -> None:
    """The pause ends while passes are missing: the next look is the next evaluation, never a 1 s poll."""
    spec = make_spec(steps=[{"weight": 10, "pause": "1m"}, {"weight": 100, "pause": "1m"}], interval="30s")
    run = start(spec, results=inconclusive)
    engine = Engine(run.clock, jitter=lambda: 1.0)
    assert isinstance(run.clock, ManualClock)
    waits: list[tuple[float, float | None]] = []
    while (run.clock.now() - T0).total_seconds() < 900:
        outcome = engine.reconcile(run.world)
        waits.append(((run.clock.now() - T0).total_seconds(), outcome.requeue_after))
        assert outcome.requeue_after is not None, "an evaluating rollout always has a next evaluation"
        run.clock.advance(outcome.requeue_after)
    started = run.status.step_started_at
    assert started is not None and run.status.current_step == 0, "never a pass: still baking the first step"
    pause_end = (started - T0).total_seconds() + 60.0
    after_pause = [wait for at, wait in waits if at > pause_end]
    assert after_pause and all(wait == INTERVAL for wait in after_pause), after_pause
    assert len(waits) <= 900 / INTERVAL + 4, f"{len(waits)} reconciles in 15 minutes"
