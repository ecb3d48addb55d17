"""``greenlane demo``: the operator's core driving a real local platform, one scenario at a time.

The loop is the caller loop of :func:`controller.core.decide.decide`: read HAProxy's weight, observe both
tracks (the sandbox's processes; Python versions from Prometheus), evaluate when due, decide, apply the
actions, keep the status in memory, sleep until the core next needs a call (at most 1 s).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.analysis import PrometheusSource, SourceUnavailable, evaluate_rollout, python_versions
from controller.analysis.plan import plan_for
from controller.analysis.units import Unit
from controller.clock import Clock, SystemClock
from controller.core.actions import Action, Decision, EmitEvent, SetWeight
from controller.core.decide import decide
from controller.core.observations import Observations, TrackObservation
from controller.core.preflight import python_versions_needed
from controller.core.results import CheckResult
from controller.core.schedule import evaluation_due
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus
from controller.routing.base import RouterError
from controller.routing.haproxy import HaproxyRouter
from controller.sandbox.app.faults import FaultSettings
from controller.sandbox.sandbox import Sandbox, SandboxConfig
from controller.sandbox.scenarios import SCENARIOS, Outcome, Scenario, Speed, build_spec

Printer = Callable[[str], None]
TIMEOUT_S: dict[Speed, float] = {"fast": 240.0, "realistic": 3600.0}
HELD_GRACE_S: dict[Speed, float] = {"fast": 20.0, "realistic": 300.0}
TEMPLATE_HASH = "sandbox"  # the sandbox never changes a pod template mid-demo
"""How long the demo watches a Paused (or preflight-held Pending) rollout before calling it held."""


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

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["weights"] = [list(w) for w in self.weights]
        data["outages"] = [list(o) for o in self.outages]
        return data

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")


def _fmt(value: float | None, unit: Unit | None = None, threshold: str = "") -> str:
    """A check's green or blue value as the live view shows it; slopes per hour (``+1.7 GiB/h``)."""
    if value is None:
        return "-"
    if unit is not None:
        return unit.slope(value) if threshold.startswith("slope") else unit.value(value)
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 2**20:.0f}Mi"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _check_json(r: CheckResult) -> dict[str, Any]:
    return {
        "name": r.name,
        "verdict": r.verdict,
        "green": r.green,
        "blue": r.blue,
        "threshold": r.threshold,
        "outage": r.outage,
        "message": r.message,
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
        out: Printer = print,
        clock: Clock | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.scenario = scenario
        self.faults = faults if faults is not None else scenario.faults
        self.speed = speed
        self.out = out
        self.clock = clock or SystemClock()
        self.timeout_s = timeout_s or TIMEOUT_S[speed]
        self._outage_until: float | None = None
        self._outage_done = False
        self._units: dict[str, Unit] = {}
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
        self.out(f"starting the sandbox for scenario {self.scenario.name!r}: {self.scenario.description}")
        with Sandbox(self.config) as sb:
            return self._drive(sb)

    # ---- the loop ------------------------------------------------------------------------------
    def _drive(self, sb: Sandbox) -> DemoResult:
        spec = build_spec(sb.router_spec(), self.speed)
        self._units = {c.name: plan_for(c).unit for c in spec.analysis.checks}
        router = sb.router()
        source = PrometheusSource(sb.prometheus_url, timeout=2.0)
        result = self._announce(sb, spec)
        status = RolloutStatus()
        started = self.clock.monotonic()
        held_since: float | None = None
        while True:
            decision = self._tick(sb, spec, router, source, status, result)
            status = decision.status
            mono = self.clock.monotonic()
            held_since = self._held_since(status, held_since, mono)
            if self._stopped(status, result, mono - started, held_since, mono):
                break
            wait = decision.requeue_after if decision.requeue_after is not None else 1.0
            self.clock.sleep(max(0.2, min(wait, 1.0)))
        if self._outage_until is not None:
            sb.start_prometheus(wait=False)
        result.finished_at = time.time()
        self._summary(result, sb)
        return result

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
        self.out(
            f"sandbox ready in {sb.startup_seconds:.1f}s: blue {sb.blue.deployment} on Python "
            f"{sb.blue.python_version}, green {sb.green.deployment} on Python {sb.green.python_version}; "
            f"Prometheus {sb.prometheus_url}, HAProxy {sb.haproxy_url}"
        )
        self.out(
            "steps: "
            + " → ".join(f"{s.weight}%" for s in spec.steps)
            + f"; interval {spec.analysis.interval:g}s, failureLimit {spec.analysis.failure_limit}, "
            f"requiredPasses {spec.analysis.required_passes}"
        )
        return result

    def _tick(
        self,
        sb: Sandbox,
        spec: RolloutSpec,
        router: HaproxyRouter,
        source: PrometheusSource,
        status: RolloutStatus,
        result: DemoResult,
    ) -> Decision:
        """One reconcile of the sandbox rollout: observe, evaluate when due, decide, apply."""
        now = self.clock.now()
        if self._outage_tick(sb, status, result):
            now = self.clock.now()
        try:
            weight: int | None = router.get_weight()
        except RouterError as exc:
            self.out(f"   router unreadable: {exc}")
            weight = None
        if weight is not None and (not result.weights or result.weights[-1][1] != weight):
            result.weights.append((time.time(), weight))
        observations = self._observe(sb, source, weight, now.timestamp(), spec, status)
        results: tuple[CheckResult, ...] | None = None
        if evaluation_due(spec, status, now):
            results = tuple(self._evaluate(spec, sb, source, status, now.timestamp()))
            result.evaluations.append(
                {
                    "at": now.timestamp(),
                    "step": status.current_step,
                    "weight": status.weight,
                    "checks": [_check_json(r) for r in results],
                }
            )
            self._print_evaluation(spec, status, results)
        decision = decide(spec, status, replace(observations, results=results), (), now)
        self._apply(sb, router, decision.actions, result)
        return decision

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

    def _apply(self, sb: Sandbox, router: HaproxyRouter, actions: Sequence[Action], result: DemoResult) -> None:
        for action in actions:
            if isinstance(action, SetWeight):
                self._set_weight(sb, router, action.green, result)
            elif isinstance(action, EmitEvent):
                self.out(f"   event {action.type} {action.reason}: {action.message}")

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
            self.out(f"!! Prometheus stopped for {self.scenario.outage_s:g}s")
        elif self._outage_until is not None and mono >= self._outage_until:
            sb.start_prometheus(wait=True)
            self._outage_until, self._outage_done = None, True
            result.outages[-1] = (result.outages[-1][0], time.time())
            self.out("!! Prometheus is back")
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

    def _set_weight(self, sb: Sandbox, router: HaproxyRouter, green: int, result: DemoResult) -> None:
        try:
            router.set_weight(green)
        except RouterError as exc:
            self.out(f"   weight {green}% not applied: {exc}")
            return
        result.weights.append((time.time(), green))
        self.out(f"-> green {green}% / blue {100 - green}%")
        if green > 0 and result.fault_started_at is None and self.faults.fault_after_s is None and self._has_faults():
            result.fault_started_at = sb.activate_faults("green")
            self.out(
                "!! green's faults are active: " + ", ".join(f"{k}={v:g}" for k, v in asdict(self.faults).items() if v)
            )
        elif green > 0 and result.fault_started_at is None and self.faults.fault_after_s is not None:
            state = sb.fault_state("green")
            started = state.get("active_from")
            result.fault_started_at = float(started) if isinstance(started, (int, float)) else None

    def _has_faults(self) -> bool:
        return any(v for k, v in asdict(self.faults).items() if k != "fault_after_s")

    def _observe(
        self,
        sb: Sandbox,
        source: PrometheusSource,
        weight: int | None,
        at: float,
        spec: RolloutSpec,
        status: RolloutStatus,
    ) -> Observations:
        ns = sb.config.namespace
        needed = python_versions_needed(spec, status, TEMPLATE_HASH, ())
        tracks: dict[str, TrackObservation] = {}
        for name, info in (("blue", sb.blue), ("green", sb.green)):
            versions: dict[str, str] | None = None
            if needed:
                try:
                    versions = python_versions(source, ns, info.pod, at)
                except SourceUnavailable:
                    versions = None
            tracks[name] = TrackObservation(True, 1, 1, TEMPLATE_HASH, versions)
        return Observations(router_weight=weight, blue=tracks["blue"], green=tracks["green"])

    def _evaluate(
        self, spec: RolloutSpec, sb: Sandbox, source: PrometheusSource, status: RolloutStatus, at: float
    ) -> list[CheckResult]:
        # The operator's judging path: evidence windows, warm-up, budget and blue's baseline from the status.
        return evaluate_rollout(
            spec,
            status,
            source,
            namespace=sb.config.namespace,
            now=datetime.fromtimestamp(at, UTC),
            blue_pods=sb.blue.pod,
            green_pods=sb.green.pod,
        )

    def _print_evaluation(self, spec: RolloutSpec, status: RolloutStatus, results: Sequence[CheckResult]) -> None:
        parts = []
        for r in results:
            mark = {"Pass": "ok", "Fail": "FAIL", "Inconclusive": "??"}[r.verdict]
            limit = f" ({r.threshold})" if r.threshold else ""
            unit = self._units.get(r.name)
            green, blue = _fmt(r.green, unit, r.threshold), _fmt(r.blue, unit, r.threshold)
            parts.append(f"{r.name} {mark} {green}/{blue}{limit}")
        self.out(f"[step {status.current_step + 1}/{len(spec.steps)} green {status.weight}%] " + " | ".join(parts))

    def _summary(self, result: DemoResult, sb: Sandbox) -> None:
        self.out("")
        self.out(
            f"outcome: {result.outcome}"
            + (f" (check {result.failed_check})" if result.failed_check else "")
            + f" — {result.reason}"
        )
        if result.fault_started_at and result.rolled_back_at:
            self.out(f"fault to rollback: {result.rolled_back_at - result.fault_started_at:.1f}s")
        self.out(
            f"wall time: {result.finished_at - result.started_at:.1f}s after a {result.sandbox_startup_s}s "
            "sandbox start-up"
        )
        last: dict[str, dict[str, Any]] = {}
        for ev in result.evaluations:
            for c in ev["checks"]:
                if c["green"] is not None or c["name"] not in last:
                    last[c["name"]] = c
        self.out(
            f"{'check':<16}{'green (' + result.green_python + ')':>22}{'blue (' + result.blue_python + ')':>22}"
            f"  {'threshold':<28}verdict"
        )
        for name, c in last.items():
            unit, threshold = self._units.get(name), c["threshold"]
            green, blue = _fmt(c["green"], unit, threshold), _fmt(c["blue"], unit, threshold)
            self.out(f"{name:<16}{green:>22}{blue:>22}  {threshold:<28}{c['verdict']}")
        for c in last.values():
            if "slope" in c["message"]:  # the trend evidence behind a level shown above, or the failing slope
                self.out(f"  {c['message']}")
        try:
            stats = sb.load.stats()
            self.out(f"load: {stats}")
        except Exception:
            pass


def run_demo(
    scenario: str = "healthy",
    *,
    fault_pairs: Sequence[str] = (),
    blue_python: str | Path | None = None,
    green_python: str | Path | None = None,
    speed: Speed = "fast",
    keep: bool = False,
    out: Printer = print,
    timeout_s: float | None = None,
) -> DemoResult:
    """Run one scenario end to end; ``fault_pairs`` (``KEY=VALUE``) override the scenario's faults."""
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
        out=out,
        timeout_s=timeout_s,
    ).run()
