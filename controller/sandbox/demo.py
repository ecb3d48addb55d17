"""``greenlane demo``: the operator's engine driving a real local platform, one scenario at a time.

The loop is the operator's: one :meth:`Engine.reconcile` through :class:`SandboxWorld` (HAProxy's weight, the
sandbox's processes, its Prometheus), status kept in memory, then a sleep until the core next needs a call
(at most 1 s). After every reconcile the demo hands its :class:`Display` a frame; the CLI draws it. At the
end it writes the migration report while Prometheus still runs, and keeps the report's headline so the
summary and the report say the same thing.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from controller.analysis import PrometheusSource, SourceUnavailable
from controller.clock import Clock, SystemClock
from controller.core.actions import EmitEvent
from controller.core.results import CheckResult
from controller.engine import Engine
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus
from controller.report import ReportError
from controller.report.demo import build_demo_report, write_demo_files
from controller.routing.base import RouterError
from controller.routing.haproxy import HaproxyRouter
from controller.sandbox.app.faults import FaultSettings
from controller.sandbox.display import Display, EventRecord, Frame, QuietDisplay, shown
from controller.sandbox.loadgen import UNROUTED, LoadStats
from controller.sandbox.logsink import LogSink
from controller.sandbox.sandbox import Sandbox, SandboxConfig
from controller.sandbox.scenarios import SCENARIOS, Outcome, Scenario, Speed, build_spec
from controller.sandbox.world import ROLLOUT_NAME, SandboxWorld

TIMEOUT_S: dict[Speed, float] = {"fast": 360.0, "realistic": 3600.0}
HELD_GRACE_S: dict[Speed, float] = {"fast": 20.0, "realistic": 300.0}
"""How long the demo watches a Paused (or preflight-held Pending) rollout before calling it held."""
HEADLINE_PREFIX = "3.12 vs 3.11:"
"""The report summary's line comparing the tracks (``controller.report.summary``)."""


@dataclass
class DemoResult:
    scenario: str
    outcome: Outcome
    failed_check: str | None
    reason: str
    blue_python: str
    green_python: str
    fault_started_at: float | None = None
    rolled_back_at: float | None = None
    promoted_at: float | None = None
    weights: list[tuple[float, int]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    outages: list[tuple[float, float | None]] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0
    sandbox_startup_s: float = 0.0
    spec: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    report: str | None = None
    report_error: str | None = None
    headline: str | None = None
    """The report's one-line comparison of green and blue (``3.12 vs 3.11: p50 ...``)."""
    load: dict[str, Any] = field(default_factory=dict)
    """What the load generator sent and got back, in total and per track (see :func:`load_figures`)."""
    state_dir: str | None = None
    """The sandbox's state directory (logs, data) when it was kept (``--keep``)."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["weights"] = [list(w) for w in self.weights]
        data["outages"] = [list(o) for o in self.outages]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DemoResult:
        """What ``--json`` wrote; unknown keys (a newer writer) are ignored."""
        known = {f.name for f in fields(cls)}
        result = cls(**{k: v for k, v in data.items() if k in known})
        result.weights = [(float(t), int(w)) for t, w in result.weights]
        result.outages = [(float(a), None if b is None else float(b)) for a, b in result.outages]
        return result

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _pair(values: tuple[float | None, float | None] | None) -> dict[str, float | None] | None:
    return None if values is None else {"green": _finite(values[0]), "blue": _finite(values[1])}


def check_json(r: CheckResult) -> dict[str, Any]:
    """One judged check in the shape of ``status.checks[]`` (readable as a ``CheckStatus``)."""
    return {
        "name": r.name,
        "verdict": r.verdict,
        "green": _finite(r.green),
        "blue": _finite(r.blue),
        "threshold": r.threshold,
        "samples": r.samples,
        "outage": r.outage,
        "message": r.message,
        "unit": r.unit,
        "measure": r.measure,
        "level": _pair(r.levels),
        "slope": _pair(r.slopes),
    }


def load_figures(stats: LoadStats, blue: str, green: str) -> dict[str, Any]:
    """The load generator's counters as plain numbers: in total, per track, and what no app answered."""

    def track(deployment: str) -> dict[str, int]:
        return {
            "requests": stats.by_deployment.get(deployment, 0),
            "errors": stats.errors_by_deployment.get(deployment, 0),
        }

    return {
        "requests": stats.sent,
        "errors": stats.errors,
        "seconds": round(stats.seconds, 1),
        "not_sent": stats.dropped,
        "blue": track(blue),
        "green": track(green),
        "unanswered": track(UNROUTED),
    }


class Demo:
    """One scenario on one sandbox; :meth:`run` returns the outcome."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        faults: FaultSettings | None = None,
        blue_python: str | Path | None = None,
        green_python: str | Path | None = None,
        speed: Speed = "fast",
        keep: bool = False,
        display: Display | None = None,
        log_sink: LogSink | None = None,
        clock: Clock | None = None,
        timeout_s: float | None = None,
        report_dir: str | Path | None = None,
    ) -> None:
        self.scenario = scenario
        self.report_dir = report_dir
        self.faults = faults if faults is not None else scenario.faults
        self.speed = speed
        self.display: Display = display or QuietDisplay()
        self.log_sink = log_sink
        self.clock = clock or SystemClock()
        self.timeout_s = timeout_s or TIMEOUT_S[speed]
        self._outage_until: float | None = None
        self._outage_done = False
        self._events: list[EventRecord] = []
        green_expect = "3.12"
        if scenario.wrong_python:
            green_expect = "3.11"
            green_python = green_python or blue_python
        self.config = SandboxConfig(
            blue_python=blue_python,
            green_python=green_python,
            green_expect=green_expect,
            speed=speed,
            green_faults=self.faults,
            keep=keep,
        )

    def run(self) -> DemoResult:
        self.display.note(f"starting the sandbox for scenario {self.scenario.name!r}: {self.scenario.description}")
        try:
            with Sandbox(self.config) as sb:
                if self.log_sink is not None:
                    self.log_sink.attach(sb.state_dir / "logs")
                result = self._drive(sb)
        finally:
            self.display.close()
            if self.log_sink is not None:
                self.log_sink.detach()
        return result

    # ---- the loop ------------------------------------------------------------------------------
    def _drive(self, sb: Sandbox) -> DemoResult:
        spec = build_spec(sb.router_spec(), self.speed)
        source = PrometheusSource(sb.prometheus_url, timeout=2.0)
        result = self._announce(sb, spec)
        router = _RecordingRouter(sb.router(), lambda green: self._weight_set(sb, green, result))
        world = SandboxWorld(
            sb,
            spec,
            source,
            router,
            clock=self.clock,
            on_event=lambda event, status: self._event(event, result),
            on_evaluation=lambda status, results, at: self._evaluated(status, results, at, result),
        )
        self._loop(sb, world, router, result)
        self.display.close()
        if self._outage_until is not None:
            sb.start_prometheus(wait=False)
        result.finished_at = time.time()
        result.load = load_figures(sb.load.stats(), sb.blue.deployment, sb.green.deployment)
        result.state_dir = str(sb.state_dir) if self.config.keep else None
        self._write_report(sb, result)
        return result

    def _loop(self, sb: Sandbox, world: SandboxWorld, router: _RecordingRouter, result: DemoResult) -> None:
        """Reconcile, show the frame, stop at an outcome (or a hold, or the timeout), sleep; repeat."""
        engine = Engine(self.clock)
        started = self.clock.monotonic()
        held_since: float | None = None
        while True:
            self._outage_tick(sb, world.status, result)
            weight = _peek(router)
            if weight is not None and (not result.weights or result.weights[-1][1] != weight):
                result.weights.append((time.time(), weight))
            outcome = engine.reconcile(world)
            status = world.status
            self.display.update(self._frame(sb, world.spec, status, result))
            mono = self.clock.monotonic()
            held_since = self._held_since(status, held_since, mono)
            if self._stopped(status, result, mono - started, held_since, mono):
                return
            wait = outcome.requeue_after if outcome.requeue_after is not None else 1.0
            self.clock.sleep(max(0.2, min(wait, 1.0)))

    def _frame(self, sb: Sandbox, spec: RolloutSpec, status: RolloutStatus, result: DemoResult) -> Frame:
        checks, texts = shown(spec, status.checks, (result.green_python, result.blue_python))
        return Frame(
            namespace=sb.config.namespace,
            name=ROLLOUT_NAME,
            spec=spec,
            status=status.model_copy(update={"checks": checks}),
            now=self.clock.now(),
            events=tuple(self._events),
            value_text=texts,
        )

    def _write_report(self, sb: Sandbox, result: DemoResult) -> None:
        """The migration report, built while the sandbox's Prometheus still runs; its headline is kept."""
        if self.report_dir is None:
            return
        self.display.note("writing the migration report")
        try:
            report = build_demo_report(sb.prometheus_url, result)
            result.report = str(write_demo_files(report, result.scenario, self.report_dir))
        except (SourceUnavailable, ReportError, OSError) as exc:
            result.report_error = str(exc)
            return
        result.headline = next((line for line in report.summary if line.startswith(HEADLINE_PREFIX)), None)

    def _announce(self, sb: Sandbox, spec: RolloutSpec) -> DemoResult:
        """Say what runs where, and open the result the loop fills in."""
        result = DemoResult(
            self.scenario.name,
            "paused",
            None,
            "",
            sb.blue.python_version,
            sb.green.python_version,
            started_at=time.time(),
            sandbox_startup_s=round(sb.startup_seconds, 1),
            spec=spec.to_wire(),
        )
        self.display.note(
            f"sandbox ready in {sb.startup_seconds:.1f}s: blue {sb.blue.deployment} on Python "
            f"{sb.blue.python_version}, green {sb.green.deployment} on Python {sb.green.python_version}; "
            f"Prometheus {sb.prometheus_url}, HAProxy {sb.haproxy_url}, {sb.config.load_rps:g} req/s"
        )
        self.display.note(
            "steps: "
            + " → ".join(f"{s.weight}%" for s in spec.steps)
            + f"; interval {spec.analysis.interval:g}s, failureLimit {spec.analysis.failure_limit}, "
            f"requiredPasses {spec.analysis.required_passes}"
        )
        return result

    def _event(self, event: EmitEvent, result: DemoResult) -> None:
        record = EventRecord(time.time(), event.type, event.reason, event.message)
        self._events.append(record)
        result.events.append(asdict(record))

    def _evaluated(
        self,
        status: RolloutStatus,
        results: Sequence[CheckResult],
        at: datetime,
        result: DemoResult,
    ) -> None:
        result.evaluations.append(
            {
                "at": at.timestamp(),
                "step": status.current_step,
                "weight": status.weight,
                "checks": [check_json(r) for r in results],
            }
        )

    def _stopped(
        self, status: RolloutStatus, result: DemoResult, elapsed: float, held_since: float | None, mono: float
    ) -> bool:
        """An outcome was reached, the rollout is held for good (demo mode), or time ran out."""
        if self._finished(status, result):
            return True
        if held_since is not None and mono - held_since >= HELD_GRACE_S[self.speed]:
            result.outcome, result.reason = "paused", f"held in {status.phase}: {status.message}"
            return True
        if elapsed >= self.timeout_s:
            result.outcome = "paused"
            result.reason = f"demo timed out after {self.timeout_s:g}s in phase {status.phase}: {status.message}"
            return True
        return False

    def _outage_tick(self, sb: Sandbox, status: RolloutStatus, result: DemoResult) -> bool:
        """Prometheus-outage scenario: stop it once the chosen step is verified, restart it after a while."""
        mono = self.clock.monotonic()
        step = self.scenario.outage_at_step
        if (
            step is not None
            and not self._outage_done
            and self._outage_until is None
            and status.phase == "Progressing"
            and status.current_step == step
            and status.step_started_at is not None
            and status.target_weight is None
        ):
            sb.stop_prometheus()
            self._outage_until = mono + self.scenario.outage_s
            result.outages.append((time.time(), None))
            self.display.note(f"!! Prometheus stopped for {self.scenario.outage_s:g}s")
        elif self._outage_until is not None and mono >= self._outage_until:
            sb.start_prometheus(wait=True)
            self._outage_until, self._outage_done = None, True
            result.outages[-1] = (result.outages[-1][0], time.time())
            self.display.note("!! Prometheus is back")
            return True
        return False

    def _held_since(self, status: RolloutStatus, since: float | None, mono: float) -> float | None:
        """Since when the rollout is Paused, or Pending on a failed preflight; None while it moves."""
        held = status.phase == "Paused" or (
            status.phase == "Pending" and (status.pause_reason is not None or self._preflight_failed(status))
        )
        if not held:
            return None
        return mono if since is None else since

    @staticmethod
    def _preflight_failed(status: RolloutStatus) -> bool:
        return any(c.type == "Preflight" and c.status == "False" for c in status.conditions)

    def _finished(self, status: RolloutStatus, result: DemoResult) -> bool:
        if status.phase == "Promoted":
            result.outcome = "promoted"
            result.promoted_at = status.promoted_at.timestamp() if status.promoted_at else time.time()
            result.reason = status.message or "every step passed"
            return True
        if status.phase in ("RolledBack", "Aborted"):
            result.outcome = "rolled_back" if status.phase == "RolledBack" else "aborted"
            rb = status.rollback
            if rb is not None:
                result.failed_check = rb.check
                result.reason = rb.message or rb.reason
                result.rolled_back_at = rb.at.timestamp() if rb.at else time.time()
            else:
                result.reason = status.message
            return True
        return False

    def _weight_set(self, sb: Sandbox, green: int, result: DemoResult) -> None:
        """The router took a new weight: record it, and switch green's faults on once it takes traffic."""
        result.weights.append((time.time(), green))
        if green > 0 and result.fault_started_at is None and self.faults.fault_after_s is None and self._has_faults():
            result.fault_started_at = sb.activate_faults("green")
            self.display.note(
                "!! green's faults are active: " + ", ".join(f"{k}={v:g}" for k, v in asdict(self.faults).items() if v)
            )
        elif green > 0 and result.fault_started_at is None and self.faults.fault_after_s is not None:
            state = sb.fault_state("green")
            started = state.get("active_from")
            result.fault_started_at = float(started) if isinstance(started, (int, float)) else None

    def _has_faults(self) -> bool:
        return any(v for k, v in asdict(self.faults).items() if k != "fault_after_s")


class _RecordingRouter:
    """The sandbox's HAProxy router, telling the demo about every weight it verified."""

    def __init__(self, router: HaproxyRouter, on_set: Callable[[int], None]) -> None:
        self._router, self._on_set = router, on_set

    def describe(self) -> str:
        return self._router.describe()

    def get_weight(self) -> int:
        return self._router.get_weight()

    def set_weight(self, green: int) -> int:
        effective = self._router.set_weight(green)
        self._on_set(effective)
        return effective


def _peek(router: _RecordingRouter) -> int | None:
    try:
        return router.get_weight()
    except RouterError:
        return None


def run_demo(
    scenario: str = "healthy",
    *,
    fault_pairs: Sequence[str] = (),
    blue_python: str | Path | None = None,
    green_python: str | Path | None = None,
    speed: Speed = "fast",
    keep: bool = False,
    display: Display | None = None,
    log_sink: LogSink | None = None,
    timeout_s: float | None = None,
    report_dir: str | Path | None = None,
) -> DemoResult:
    """Run one scenario end to end; ``fault_pairs`` (``KEY=VALUE``) override the scenario's faults.

    ``display`` shows the run (default: nothing); ``log_sink`` takes the sandbox's log lines, which the
    caller has pointed structlog at (kept in the sandbox's ``logs/sandbox.log``).
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    chosen = SCENARIOS[scenario]
    faults = chosen.faults
    if fault_pairs:
        override = FaultSettings.from_pairs(list(fault_pairs))
        merged = asdict(faults)
        explicit = {p.partition("=")[0].strip() for p in fault_pairs}
        merged.update({k: v for k, v in asdict(override).items() if k in explicit})
        faults = FaultSettings.from_mapping(merged)
    return Demo(
        chosen,
        faults=faults,
        blue_python=blue_python,
        green_python=green_python,
        speed=speed,
        keep=keep,
        display=display,
        log_sink=log_sink,
        timeout_s=timeout_s,
        report_dir=report_dir,
    ).run()
