"""Judgement bench: false rollbacks of healthy greens and detection of regressions, whole rollouts at a time.

Run from the repository root: ``.venv/bin/python -m tests.bench.judgement [--healthy 50] [--faulty 20]``
(``make bench-judgement``). Prints figures; asserts nothing (not a timed test).

The rollout is the README's example (its steps and checks; the router and Prometheus address don't matter
here). Synthetic scrapes of every rollout (``judgement_traces``) are backfilled into one real Prometheus
with promtool; each rollout is then walked reconcile by reconcile through the same code the operator runs:
``evaluate_rollout`` (the analysis) when an evaluation is due, ``decide`` (the core) always, weights applied
at once. A rollout ends promoted, rolled back, paused for a human, or unfinished at the end of the traces.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from controller.analysis import PrometheusSource, evaluate_rollout
from controller.clock import ManualClock
from controller.core.observations import TrackObservation
from controller.core.results import CheckResult
from controller.engine import Engine
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus
from tests.analysis.prometheus_server import running
from tests.bench.judgement_traces import MIB, START, Fault, Rollout, write
from tests.engine.fakes import FakeWorld

README = Path(__file__).resolve().parents[2] / "README.md"
FAULTS: dict[str, Fault] = {
    "healthy": Fault(),
    "p99 x1.2": Fault(p99_scale=1.2),
    "p99 x1.3": Fault(p99_scale=1.3),
    "5% +300ms": Fault(tail=(0.05, 0.3)),
    "errors 1%": Fault(error_ratio=0.01),
    "errors 2%": Fault(error_ratio=0.02),
    "leak 20MiB/h": Fault(leak=20 * MIB),
    "leak 60MiB/h": Fault(leak=60 * MIB),
    "creep 20/h": Fault(creep=20.0),
}
TARGETS = {"p99 x1.3": 600.0, "errors 2%": 300.0, "5% +300ms": 300.0}
"""Seconds from green's first traffic within which the issue wants these caught (at 200 req/s)."""
TRACE_MINUTES = {20: 240, 200: 150}


def readme_spec() -> dict[str, Any]:
    """The README's example rollout, as users copy it; only router and Prometheus address are replaced."""
    text = README.read_text()
    section = text.split("## The BlueGreenRollout resource\n", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None, "README lost its example rollout"
    document = yaml.safe_load(block.group(1))
    assert isinstance(document, dict)
    spec: dict[str, Any] = document["spec"]
    spec["trafficRouting"] = {"replicas": {}}
    spec["analysis"].pop("prometheus", None)
    for side in ("blue", "green"):
        spec[side] = {"deployment": spec[side]["deployment"]}
    return spec


@dataclass
class Walk:
    """What happened to one rollout."""

    outcome: str = "unfinished"
    at: float = 0.0
    """Seconds after green first took traffic."""
    check: str = ""
    reason: str = ""
    steps: list[float] = field(default_factory=list)
    """Minutes after green first took traffic at which each step completed."""
    holders: list[str] = field(default_factory=list)
    """The check still not passing at the last evaluation of each step."""
    evaluations: int = 0
    fail_evaluations: int = 0
    fails: dict[str, int] = field(default_factory=dict)
    first_fail: str = ""

    def count(self, results: tuple[CheckResult, ...]) -> None:
        """Evaluations with a Fail and which checks failed (for healthy greens: false Fails)."""
        self.evaluations += 1
        failing = [r for r in results if r.verdict == "Fail"]
        if failing:
            self.fail_evaluations += 1
            self.first_fail = self.first_fail or failing[0].message
        for r in failing:
            self.fails[r.name] = self.fails.get(r.name, 0) + 1


def _spec_for(r: Rollout, wire: dict[str, Any]) -> RolloutSpec:
    wire = {**wire, "blue": {"deployment": r.deployment("b")}, "green": {"deployment": r.deployment("g")}}
    return RolloutSpec.model_validate(wire)


@dataclass
class Walker:
    """One rollout driven by the operator's engine (the same reconcile, core and analysis), against a world
    whose router applies weights at once and whose tracks are always available."""

    spec: RolloutSpec
    source: PrometheusSource
    rollout: Rollout
    result: Walk = field(default_factory=Walk)
    passing: dict[str, float] = field(default_factory=dict)
    """Since when each check has passed without a break, in the current step."""

    def __post_init__(self) -> None:
        track = TrackObservation(True, 2, 2, "h")
        self.world = FakeWorld(self.spec, blue=track, green=track, results=lambda spec, at: self.evaluate(at))
        self.world.finalizers.append("greenlane.dev/traffic-to-blue")
        self.clock = ManualClock(datetime.fromtimestamp(START - 2, UTC))
        self.engine = Engine(self.clock, jitter=lambda: 1.0)

    @property
    def status(self) -> RolloutStatus:
        return self.world.status

    def run(self) -> Walk:
        end = datetime.fromtimestamp(START + self.rollout.end - 60, UTC)
        while self.clock.now() < end and self.status.phase not in ("Promoted", "RolledBack", "Paused"):
            self.tick()
        self.finish(self.clock.now())
        return self.result

    def tick(self) -> None:
        before, now = self.status, self.clock.now()
        outcome = self.engine.reconcile(self.world)
        if outcome.error is not None:
            raise RuntimeError(f"reconcile failed: {outcome.error}")
        self.record(before, self.status, now)
        self.clock.advance(max(1.0, min(outcome.requeue_after or 30.0, 30.0)))

    def evaluate(self, now: datetime) -> tuple[CheckResult, ...]:
        step = min(self.status.current_step, len(self.spec.steps) - 1)
        r = self.rollout
        results = tuple(
            evaluate_rollout(
                self.spec,
                self.status,
                self.source,
                namespace=r.namespace,
                now=now,
                blue_pods=r.pods("b", step),
                green_pods=r.pods("g", step),
            )
        )
        self.result.count(results)
        for c in results:
            if c.verdict != "Pass":
                self.passing.pop(c.name, None)
            else:
                self.passing.setdefault(c.name, now.timestamp())
        return results

    def record(self, old: RolloutStatus, new: RolloutStatus, now: datetime) -> None:
        """Step completions (and which check passed last), and the moment a rollback is decided."""
        minutes = round((now.timestamp() - START) / 60, 1)
        promoted = (new.phase == "Promoted") != (old.phase == "Promoted")
        if new.current_step != old.current_step or promoted:
            self.result.steps.append(minutes)
            self.result.holders.append(max(self.passing, key=lambda k: self.passing[k], default=""))
            self.passing.clear()
        if new.rollback is not None and old.rollback is None:
            self.result.at = now.timestamp() - START
            self.result.check = new.rollback.check or new.rollback.reason

    def finish(self, now: datetime) -> None:
        status, result = self.status, self.result
        outcomes = {"Promoted": "promoted", "RolledBack": "rolled back", "Paused": "paused"}
        result.outcome = outcomes.get(status.phase, "unfinished")
        if status.phase in ("Promoted", "Paused"):
            result.at = (status.promoted_at or now).timestamp() - START
        if status.phase != "Promoted":
            unsure = [c.message for c in status.checks if c.verdict != "Pass"]
            result.reason = status.message + (f" [{unsure[0]}]" if unsure else "")


def walk(url: str, r: Rollout, wire: dict[str, Any]) -> Walk:
    """Drive one rollout until it ends or its traces do."""
    source = PrometheusSource(url, timeout=30, attempts=3, backoff=0.2)
    try:
        return Walker(_spec_for(r, wire), source, r).run()
    finally:
        source.close()


def plan_rollouts(wire: dict[str, Any], healthy: int, faulty: int, levels: list[int], seed: int) -> list[Rollout]:
    spec = RolloutSpec.model_validate({**wire, "blue": {"deployment": "b"}, "green": {"deployment": "g"}})
    weights = tuple(s.weight for s in spec.steps)
    earliest, t = [], 0.0
    for s in spec.steps:
        earliest.append(t)
        t += s.pause if math.isfinite(s.pause) else 0.0
    rng = random.Random(seed)
    rollouts = []
    for level in levels:
        for kind, fault in FAULTS.items():
            for i in range(healthy if kind == "healthy" else faulty):
                p99 = math.exp(rng.uniform(math.log(0.15), math.log(0.35)))
                ident = f"{level}x{list(FAULTS).index(kind)}x{i}"
                end = TRACE_MINUTES[level] * 60.0
                rollouts.append(Rollout(ident, level, kind, fault, p99, weights, tuple(earliest), end))
    return rollouts


def _walk_all(url: str, rollouts: list[Rollout], wire: dict[str, Any], workers: int) -> list[Walk]:
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(walk, [url] * len(rollouts), rollouts, [wire] * len(rollouts), chunksize=2))


def _minutes(seconds: list[float]) -> str:
    if not seconds:
        return "-"
    return f"{statistics.median(seconds) / 60:.1f} / {max(seconds) / 60:.1f}"


def table(rollouts: list[Rollout], walks: list[Walk], levels: list[int]) -> str:
    lines = [
        "| green | req/s | rollouts | rolled back | promoted | paused / unfinished "
        "| time to outcome, median / max (min) | caught within target | rolled back by |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in FAULTS:
        for level in levels:
            pairs = [(r, w) for r, w in zip(rollouts, walks, strict=True) if r.kind == kind and r.rps == level]
            if not pairs:
                continue
            ws = [w for _, w in pairs]
            back = [w for w in ws if w.outcome == "rolled back"]
            promoted = [w for w in ws if w.outcome == "promoted"]
            stuck = len(ws) - len(back) - len(promoted)
            times = [w.at for w in (back if kind != "healthy" else promoted)]
            target = TARGETS.get(kind)
            within = f"{sum(w.at <= target for w in back)}/{len(ws)} in {target / 60:.0f}m" if target else "-"
            by = ", ".join(sorted({w.check for w in back})) or "-"
            lines.append(
                f"| {kind} | {level} | {len(ws)} | {len(back)} | {len(promoted)} | {stuck} | {_minutes(times)} "
                f"| {within} | {by} |"
            )
    return "\n".join(lines)


def false_fails(rollouts: list[Rollout], walks: list[Walk], levels: list[int]) -> str:
    lines = []
    for level in levels:
        ws = [w for r, w in zip(rollouts, walks, strict=True) if r.kind == "healthy" and r.rps == level]
        evaluations = sum(w.evaluations for w in ws)
        failing = sum(w.fail_evaluations for w in ws)
        by: dict[str, int] = {}
        for w in ws:
            for name, n in w.fails.items():
                by[name] = by.get(name, 0) + n
        lines.append(
            f"healthy at {level} req/s: {failing} evaluations with a Fail out of {evaluations}"
            + (f" ({', '.join(f'{k} {v}' for k, v in sorted(by.items()))})" if by else "")
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.judgement")
    parser.add_argument("--healthy", type=int, default=50, help="healthy rollouts per traffic level")
    parser.add_argument("--faulty", type=int, default=20, help="rollouts per regression and traffic level")
    parser.add_argument("--levels", default="20,200", help="total request rates, comma-separated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="one line per rollout")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    wire = readme_spec()
    rollouts = plan_rollouts(wire, args.healthy, args.faulty, levels, args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        source, data = Path(tmp) / "input.om", Path(tmp) / "data"
        write(rollouts, source, args.seed)
        generated = time.monotonic()
        backfill_file(source, data)
        print(
            f"{len(rollouts)} rollouts: traces written in {generated - started:.0f}s, "
            f"backfilled in {time.monotonic() - generated:.0f}s",
            flush=True,
        )
        with running(data) as url:
            walked = time.monotonic()
            walks = _walk_all(url, rollouts, wire, args.workers)
            print(f"walked in {time.monotonic() - walked:.0f}s\n")
    if args.verbose:
        for r, w in zip(rollouts, walks, strict=True):
            print(
                f"{r.kind:>12} {r.rps:>4} p99 {r.blue_p99:.3f}: {w.outcome} at {w.at / 60:.1f}m {w.check} "
                f"steps {list(zip(w.steps, w.holders, strict=True))} {w.reason} FIRST FAIL {w.first_fail}"
            )
    print(table(rollouts, walks, levels))
    print()
    print(false_fails(rollouts, walks, levels))


def backfill_file(source: Path, data: Path) -> None:
    """promtool over a file already on disk (``backfill`` takes text)."""
    import subprocess

    from tests.analysis.prometheus_server import require

    subprocess.run(
        [require("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=3600,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
