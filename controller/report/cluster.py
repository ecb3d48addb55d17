"""A :class:`RolloutRun` from a BlueGreenRollout as the API server returns it, plus its Events.

Status timestamps give the window (green's first traffic to promotion, rollback or now); history comes
from the operator's own metrics when this Prometheus scrapes them (weight and every verdict over time),
else from the Events (weights) and the status (the last evaluation only), with a note saying so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from controller.analysis.source import MetricSource, QueryRejected, Series
from controller.model.resource import BlueGreenRollout
from controller.model.status import RolloutStatus
from controller.report import queries as q
from controller.report.build import ReportError
from controller.report.model import EvaluatedCheck, Evaluation, Event, Point, RolloutRun

LEAD_S = 60.0
"""The charts start a minute before green's first traffic, to show both tracks' baseline."""
WEIGHT_IN_MESSAGE = re.compile(r"Green at (\d{1,3})% verified")
TO_ZERO = frozenset({"RollingBack", "RolledBack", "Aborted"})
Json = Mapping[str, Any]


def _time(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def parse_rollout(obj: Json) -> BlueGreenRollout:
    try:
        return BlueGreenRollout.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ReportError(f"the rollout cannot be read: {where}: {first.get('msg')}") from None


def window(rollout: BlueGreenRollout, now: float, start: float | None, end: float | None) -> tuple[float, float]:
    """``--from``/``--to`` when given; else from green's first traffic (less a lead) to the outcome or now."""
    status = rollout.status or RolloutStatus()
    if end is None:
        rollback = status.rollback
        ended = [_time(status.promoted_at)]
        if rollback is not None:
            ended.append(_time(rollback.completed_at) or _time(rollback.at))
        end = min([t for t in ended if t is not None] or [now])
    if start is None:
        created = (rollout.metadata.model_extra or {}).get("creationTimestamp")
        began = _time(status.traffic_started_at) or _time(status.step_started_at) or _time(created)
        if began is None:
            raise ReportError("the rollout's status records no start (no traffic yet?); give --from TIME")
        start = began - LEAD_S
    return start, min(end, now)


def events_of(raw: Sequence[Json], start: float, end: float) -> tuple[Event, ...]:
    out = []
    for e in raw:
        at = _time(e.get("firstTimestamp")) or _time(e.get("eventTime")) or _time(e.get("lastTimestamp"))
        if at is None or not start <= at <= end:
            continue
        count = int(e.get("count") or 1)
        message = str(e.get("message", "")) + (f" (x{count})" if count > 1 else "")
        out.append(Event(at, str(e.get("reason", "")), message, str(e.get("type", "Normal"))))
    return tuple(sorted(out, key=lambda e: e.at))


def weights_from_events(events: Sequence[Event]) -> tuple[Point, ...]:
    out: list[Point] = []
    for e in events:
        found = WEIGHT_IN_MESSAGE.search(e.message) if e.reason == "WeightSet" else None
        if found:
            out.append((e.at, float(found.group(1))))
        elif e.reason in TO_ZERO:
            out.append((e.at, 0.0))
    return tuple(out)


def _changes(points: Sequence[Point]) -> tuple[Point, ...]:
    out: list[Point] = []
    for t, v in points:
        if math.isfinite(v) and (not out or out[-1][1] != v):
            out.append((t, v))
    return tuple(out)


def _range(source: MetricSource, query: str, start: float, end: float, step: float) -> list[Series]:
    try:
        return source.range(query, start, end, step)
    except QueryRejected:
        return []


def operator_history(
    source: MetricSource, rollout: BlueGreenRollout, start: float, end: float
) -> tuple[tuple[Point, ...], tuple[Evaluation, ...]]:
    """Weights and verdicts as the operator exported them (``greenlane_*`` gauges), sampled every interval.

    ``greenlane_check_value`` is left out: it holds a level or a slope depending on which threshold spoke
    last, which the gauge does not say, so plotting it against the level would mislead.
    """
    ns, name = rollout.metadata.namespace or "default", rollout.metadata.name
    step = max(rollout.spec.analysis.interval, q.range_step(start, end))
    weight = _range(source, q.operator_query(q.OPERATOR_WEIGHT, ns, name), start, end, step)
    verdicts = _range(source, q.operator_query(q.OPERATOR_VERDICT, ns, name), start, end, step)
    by_time: dict[float, dict[str, str]] = {}
    for s in verdicts:
        for t, _ in s.points:
            by_time.setdefault(t, {})[s.labels.get("check", "")] = s.labels.get("verdict", "")
    evaluations = tuple(
        Evaluation(t, tuple(EvaluatedCheck(check, verdict) for check, verdict in checks.items()))
        for t, checks in sorted(by_time.items())
    )
    return _changes(weight[0].points if weight else ()), evaluations


def _last_evaluation(status: RolloutStatus) -> tuple[Evaluation, ...]:
    at = _time(status.last_evaluation_at)
    if at is None or not status.checks:
        return ()
    checks = tuple(
        EvaluatedCheck(c.name, c.verdict, c.green, c.blue, c.threshold, c.message, c.samples, c.outage)
        for c in status.checks
    )
    return (Evaluation(at, checks, status.current_step, status.weight),)


def run_from_cluster(
    obj: Json,
    raw_events: Sequence[Json],
    source: MetricSource,
    now: float,
    start: float | None = None,
    end: float | None = None,
) -> RolloutRun:
    rollout = parse_rollout(obj)
    status = rollout.status or RolloutStatus()
    begin, finish = window(rollout, now, start, end)
    events = events_of(raw_events, begin, finish)
    weights, evaluations = operator_history(source, rollout, begin, finish)
    note = ""
    if not evaluations:
        evaluations = _last_evaluation(status)
        note = (
            "verdict history: this Prometheus has no greenlane_check_verdict series for the rollout (scrape the "
            "operator's /metrics); charts show the last evaluation only"
        )
    if not weights:
        weights = weights_from_events(events)
    return RolloutRun(
        name=rollout.metadata.name,
        namespace=rollout.metadata.namespace or "default",
        spec=rollout.spec,
        start=begin,
        end=finish,
        phase=status.phase,
        message=status.message,
        traffic_start=_time(status.traffic_started_at) or next((t for t, w in weights if w > 0), None),
        weights=weights,
        evaluations=evaluations,
        events=events,
        source_note=note,
    )
