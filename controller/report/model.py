"""What a report is made of: the description of one rollout run (input) and the measured report (output).

The run is plain data, so the same report is built from a cluster (status, events, the operator's
metrics), from the demo (its in-memory result) or from a test; the report is plain data too, so HTML,
PNG, JSON and Markdown are renderings of one object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from controller.model.spec import RolloutSpec
from controller.report.stats import Estimate

Point = tuple[float, float]
Track = Literal["green", "blue"]
ChangeKind = Literal["percent", "difference", "none"]
Better = Literal["lower", "higher", "neither"]


@dataclass(frozen=True)
class EvaluatedCheck:
    """One check in one evaluation, as the operator judged it (values in the check's base unit)."""

    name: str
    verdict: str
    green: float | None = None
    blue: float | None = None
    threshold: str = ""
    message: str = ""
    samples: int = 0
    outage: bool = False


@dataclass(frozen=True)
class Evaluation:
    at: float
    checks: tuple[EvaluatedCheck, ...]
    step: int | None = None
    weight: int | None = None


@dataclass(frozen=True)
class Event:
    """A decision worth marking on the charts: weight set, step completed, rollback, a command (with its user)."""

    at: float
    reason: str
    message: str
    type: str = "Normal"


@dataclass(frozen=True)
class RolloutRun:
    """Everything the report needs to know about the rollout besides the metrics themselves.

    ``start``/``end`` bound the report (unix seconds); ``traffic_start`` is when green first took traffic
    (the headline table compares the tracks from there on). ``weights`` are green's verified weights as
    ``(time, percent)`` changes; ``pods`` are exact pod regexes per track.
    """

    name: str
    namespace: str
    spec: RolloutSpec
    start: float
    end: float
    phase: str
    message: str = ""
    traffic_start: float | None = None
    weights: tuple[Point, ...] = ()
    evaluations: tuple[Evaluation, ...] = ()
    events: tuple[Event, ...] = ()
    pods: Mapping[Track, str] = field(default_factory=dict)
    python_versions: Mapping[Track, Mapping[str, str]] = field(default_factory=dict)
    source_note: str = ""

    @property
    def judged_from(self) -> float:
        """Start of the comparison window: green's first traffic, else the report's start."""
        if self.traffic_start is not None and self.start <= self.traffic_start < self.end:
            return self.traffic_start
        return self.start


@dataclass(frozen=True)
class HeadlineRow:
    """One line of the headline table: green and blue side by side, and green's change against blue."""

    key: str
    label: str
    unit: str
    green: Estimate
    blue: Estimate
    change: Estimate
    change_kind: ChangeKind = "percent"
    note: str = ""
    better: Better = "lower"


@dataclass(frozen=True)
class Panel:
    """A series pair on one chart panel, with an optional threshold line (same time axis)."""

    title: str
    unit: str
    green: tuple[Point, ...]
    blue: tuple[Point, ...]
    threshold: tuple[Point, ...] = ()
    threshold_label: str = ""
    slope_axis: bool = False
    judged_green: tuple[Point, ...] = ()
    judged_blue: tuple[Point, ...] = ()


@dataclass(frozen=True)
class CheckChart:
    """Per check: what was measured over time, what the operator judged, and its verdicts."""

    name: str
    description: str
    panels: tuple[Panel, ...]
    verdicts: tuple[tuple[float, str], ...]
    last_message: str = ""
    note: str = ""


@dataclass(frozen=True)
class StepSpan:
    """One step as it ran: when its weight was verified, when it ended, how long it baked."""

    index: int
    weight: int
    pause: str
    start: float
    end: float
    outcome: str

    @property
    def baked(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class Report:
    run: RolloutRun
    generated_at: float
    headline: tuple[HeadlineRow, ...]
    charts: tuple[CheckChart, ...]
    steps: tuple[StepSpan, ...]
    summary: tuple[str, ...]
    notes: tuple[str, ...] = ()
    versions: Mapping[Track, Mapping[str, str]] = field(default_factory=dict)
    prometheus: str = ""

    def row(self, key: str) -> HeadlineRow | None:
        return next((r for r in self.headline if r.key == key), None)

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report: headline with intervals, steps, verdicts, summary (no series)."""
        run = self.run
        return {
            "rollout": {"name": run.name, "namespace": run.namespace, "phase": run.phase, "message": run.message},
            "window": {"from": run.start, "to": run.end, "comparedFrom": run.judged_from},
            "generatedAt": self.generated_at,
            "prometheus": self.prometheus,
            "summary": list(self.summary),
            "headline": [
                {
                    "key": r.key,
                    "label": r.label,
                    "unit": r.unit,
                    "green": r.green.to_json(),
                    "blue": r.blue.to_json(),
                    "change": {**r.change.to_json(), "kind": r.change_kind},
                    "note": r.note,
                }
                for r in self.headline
            ],
            "steps": [
                {
                    "step": s.index + 1,
                    "weight": s.weight,
                    "pause": s.pause,
                    "from": s.start,
                    "to": s.end,
                    "bakedSeconds": round(s.baked, 1),
                    "outcome": s.outcome,
                }
                for s in self.steps
            ],
            "checks": [
                {
                    "name": c.name,
                    "verdicts": [{"at": t, "verdict": v} for t, v in c.verdicts],
                    "lastMessage": c.last_message,
                }
                for c in self.charts
            ],
            "pythonVersions": {track: dict(pods) for track, pods in self.versions.items()},
            "events": [{"at": e.at, "type": e.type, "reason": e.reason, "message": e.message} for e in run.events],
            "spec": run.spec.to_wire(),
            "notes": list(self.notes),
        }
