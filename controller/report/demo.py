"""The report of a ``greenlane demo`` run, built while the sandbox's Prometheus still runs.

The demo hands over its result object; this module reads it structurally (:class:`DemoRun`), so it does
not depend on the sandbox (which sits above it) and keeps working while the demo's loop is rewritten.
Decisions the demo recorded as events are marked as they are; otherwise they are derived from the
weight changes and the outcome timestamps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from controller.analysis.prometheus import PrometheusSource
from controller.model.spec import RolloutSpec
from controller.report.build import build_report
from controller.report.model import EvaluatedCheck, Evaluation, Event, Report, RolloutRun
from controller.report.write import write_html, write_json, write_markdown

DEMO_NAMESPACE = "sandbox"
DEMO_ROLLOUT = "checkout"
PHASES = {"promoted": "Promoted", "rolled_back": "RolledBack", "aborted": "Aborted", "paused": "Paused"}
QUERY_TIMEOUT_S = 10.0


class DemoRun(Protocol):
    """The fields of ``controller.sandbox.demo.DemoResult`` the report reads (read-only)."""

    @property
    def scenario(self) -> str: ...

    @property
    def outcome(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def fault_started_at(self) -> float | None: ...

    @property
    def rolled_back_at(self) -> float | None: ...

    @property
    def promoted_at(self) -> float | None: ...

    @property
    def weights(self) -> Sequence[tuple[float, int]]: ...

    @property
    def evaluations(self) -> Sequence[Mapping[str, Any]]: ...

    @property
    def outages(self) -> Sequence[tuple[float, float | None]]: ...

    @property
    def started_at(self) -> float: ...

    @property
    def finished_at(self) -> float: ...

    @property
    def spec(self) -> Mapping[str, Any]: ...


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def evaluations(raw: Sequence[Mapping[str, Any]]) -> tuple[Evaluation, ...]:
    out = []
    for e in raw:
        checks = tuple(
            EvaluatedCheck(
                name=str(c.get("name", "")),
                verdict=str(c.get("verdict", "Inconclusive")),
                green=_number(c.get("green")),
                blue=_number(c.get("blue")),
                threshold=str(c.get("threshold", "")),
                message=str(c.get("message", "")),
                samples=int(c.get("samples", 0) or 0),
                outage=bool(c.get("outage", False)),
            )
            for c in e.get("checks", [])
        )
        out.append(Evaluation(float(e["at"]), checks, e.get("step"), e.get("weight")))
    return tuple(out)


def derived_events(result: DemoRun) -> tuple[Event, ...]:
    """Weight changes, the fault, outages and the outcome as events, for a result that recorded none."""
    events = [
        Event(at, "WeightSet" if w > 0 else "RolledBack", f"green at {w}%", "Normal" if w > 0 else "Warning")
        for at, w in result.weights
    ]
    if result.fault_started_at is not None:
        events.append(Event(result.fault_started_at, "FaultInjected", "green's faults are active", "Warning"))
    for down, up in result.outages:
        events.append(Event(down, "PrometheusUnavailable", "Prometheus stopped", "Warning"))
        if up is not None:
            events.append(Event(up, "AnalysisRecovered", "Prometheus is back"))
    if result.promoted_at is not None:
        events.append(Event(result.promoted_at, "Promoted", result.reason))
    return tuple(sorted(events, key=lambda e: e.at))


def recorded_events(result: DemoRun) -> tuple[Event, ...]:
    raw = getattr(result, "events", None)
    if not raw:
        return derived_events(result)
    events = [
        Event(float(e["at"]), str(e["reason"]), str(e.get("message", "")), str(e.get("type", "Normal"))) for e in raw
    ]
    if result.fault_started_at is not None:
        events.append(Event(result.fault_started_at, "FaultInjected", "green's faults are active", "Warning"))
    return tuple(sorted(events, key=lambda e: e.at))


def demo_run(result: DemoRun, namespace: str = DEMO_NAMESPACE) -> RolloutRun:
    traffic = next((at for at, w in sorted(result.weights) if w > 0), None)
    return RolloutRun(
        name=DEMO_ROLLOUT,
        namespace=namespace,
        spec=RolloutSpec.model_validate(result.spec),
        start=result.started_at,
        end=max(result.finished_at, result.started_at + 1),
        phase=PHASES.get(result.outcome, result.outcome),
        message=result.reason,
        traffic_start=traffic,
        weights=tuple((float(t), int(w)) for t, w in result.weights),
        evaluations=evaluations(result.evaluations),
        events=recorded_events(result),
    )


def build_demo_report(prometheus_url: str, result: DemoRun) -> Report:
    """The demo's report from its live Prometheus; raises ``SourceUnavailable`` when Prometheus does not answer."""
    source = PrometheusSource(prometheus_url, timeout=QUERY_TIMEOUT_S, attempts=5, backoff=0.5)
    try:
        return build_report(source, demo_run(result), time.time())
    finally:
        source.close()


def write_demo_files(report: Report, scenario: str, out_dir: str | Path) -> Path:
    """HTML, JSON and Markdown as ``demo-<scenario>.*`` in ``out_dir``; returns the HTML path."""
    directory, stem = Path(out_dir), f"demo-{scenario}"
    write_json(report, directory / f"{stem}.json")
    write_markdown(report, directory / f"{stem}.md")
    return write_html(report, directory / f"{stem}.html")


def write_demo_report(prometheus_url: str, result: DemoRun, out_dir: str | Path) -> Path:
    """Build the demo's report from its live Prometheus; write HTML, JSON and Markdown; return the HTML path.

    Raises ``SourceUnavailable`` when Prometheus does not answer (the caller reports it in one line).
    """
    return write_demo_files(build_demo_report(prometheus_url, result), result.scenario, out_dir)
