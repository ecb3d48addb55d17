"""Core bench: ``decide()`` calls per second over realistic status/observation streams.

Run from the repository root: ``.venv/bin/python -m tests.bench.core [SECONDS]``.

Each stream is recorded once by driving the sample rollout (config/samples/checkout-gateway-api.yaml:
four steps, six checks) the way the reconciler does — every 30 s, results only when an evaluation is
due, weights applied perfectly — and then replayed: every recorded (status, observations, now) is fed
to ``decide()`` again and timed. Prints figures; asserts nothing (not a timed test).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from controller.core.actions import ScaleTrack, SetWeight
from controller.core.commands import Command
from controller.core.decide import decide
from controller.core.observations import Observations
from controller.core.results import CheckResult
from controller.core.schedule import evaluation_due
from controller.model.resource import BlueGreenRollout
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus
from tests.core.builders import BLUE, GREEN, T0, failing, outage, passing

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "samples" / "checkout-gateway-api.yaml"
Results = Callable[[int], tuple[CheckResult, ...]]  # results by tick number


@dataclass(frozen=True)
class Call:
    status: RolloutStatus
    observations: Observations
    commands: tuple[Command, ...]
    now: datetime


def record(spec: RolloutSpec, results: Results, ticks: int, every: float = 30.0) -> tuple[list[Call], str]:
    """Drive the core as the reconciler would; the calls it made and the final phase."""
    status, now, router, blue = RolloutStatus(), T0, 0, BLUE
    calls: list[Call] = []
    for tick in range(ticks):
        due = evaluation_due(spec, status, now)
        obs = Observations(router_weight=router, blue=blue, green=GREEN, results=results(tick) if due else None)
        call = Call(status, obs, (), now)
        calls.append(call)
        decision = decide(spec, call.status, obs, call.commands, now)
        for action in decision.actions:
            if isinstance(action, SetWeight):
                router = action.green
            elif isinstance(action, ScaleTrack):
                blue = replace(blue, desired_replicas=action.replicas, available_replicas=action.replicas)
        status = decision.status
        now += timedelta(seconds=every)
        if status.phase == "RolledBack" or (status.phase == "Promoted" and status.blue_scaled_down):
            break
    return calls, status.phase


def replay(spec: RolloutSpec, calls: list[Call], seconds: float) -> tuple[int, float]:
    """Call ``decide`` over the recorded stream until ``seconds`` have passed; (calls, elapsed)."""
    done, started = 0, time.perf_counter()
    while True:
        for call in calls:
            decide(spec, call.status, call.observations, call.commands, call.now)
        done += len(calls)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done, elapsed


def main(seconds: float) -> None:
    spec = BlueGreenRollout.model_validate(yaml.safe_load(SAMPLE.read_text())).spec
    ok, bad, down = passing(spec), failing(spec), outage(spec)
    streams: dict[str, tuple[Results, int]] = {
        "healthy, to Promoted and blue scaled down": (lambda _: ok, 400),
        "p99 regression at step 2, rolled back": (lambda t: ok if t < 12 else bad, 400),
        "Prometheus outage, holding": (lambda t: ok if t < 6 else down, 120),
    }
    print(
        f"decide() on the sample rollout ({len(spec.steps)} steps, {len(spec.analysis.checks)} checks), "
        f"{seconds:g}s per stream"
    )
    total_calls, total_time = 0, 0.0
    for label, (results, ticks) in streams.items():
        calls, phase = record(spec, results, ticks)
        evaluated = sum(c.observations.results is not None for c in calls)
        n, elapsed = replay(spec, calls, seconds)
        total_calls, total_time = total_calls + n, total_time + elapsed
        print(
            f"  {label:<44} {len(calls):>3} calls ({evaluated} with results, ends {phase:<10}) "
            f"{n / elapsed:>8,.0f} calls/s  {elapsed / n * 1e6:6.1f} us/call"
        )
    print(
        f"  {'all streams':<44} {'':>48}{total_calls / total_time:>8,.0f} calls/s  "
        f"{total_time / total_calls * 1e6:6.1f} us/call"
    )


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)
