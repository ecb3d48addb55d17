"""Per check: green and blue over time, the threshold as a line, what the operator judged, its verdicts.

The level panel plots the check's own quantity (its template's PromQL over its window, or the gauge it
reads); a check with a trend threshold gets a second panel, the rolling Theil-Sen slope over the check's
window (the estimator the operator uses), with the limit drawn relative to blue's slope.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from controller.analysis.measure import TrackRef, variables
from controller.analysis.plan import Plan, plan_for
from controller.analysis.promql import render
from controller.analysis.slope import theil_sen
from controller.analysis.source import MetricSource, QueryRejected
from controller.analysis.units import Unit
from controller.model.spec import Check
from controller.report import queries as q
from controller.report.headline import TRACKS, Window
from controller.report.model import CheckChart, Panel, Point, RolloutRun, Track
from controller.report.timeline import verdicts

TREND_POINTS = 60
TREND_FIT_POINTS = 120
LEVEL_THRESHOLDS = ("max", "min", "max_ratio_to_blue", "max_increase_over_blue")


def _level_query(plan: Plan) -> str:
    check = plan.check
    if check.template == "memory":
        return q.MEMORY[plan.template.source if plan.template and plan.template.source else "container"]
    if check.template == "db-connections":
        return q.CONNECTIONS[plan.template.source if plan.template and plan.template.source else "server"]
    if check.template == "python-version":
        return q.PODS_REPORTING
    if check.template == "latency":
        return q.LATENCY_QUANTILE
    if check.template == "error-rate":
        return q.ERROR_RATE
    query = plan.level_query
    assert query is not None, f"check {check.name} has neither a template level nor a query"
    return query


def _series(source: MetricSource, plan: Plan, ref: TrackRef, window: Window, notes: list[str]) -> tuple[Point, ...]:
    rendered = render(_level_query(plan), variables(plan, ref, plan.window))
    try:
        result = source.range(rendered, window.start, window.end, window.step)
    except QueryRejected as exc:
        notes.append(f"{plan.check.name}: Prometheus rejected {rendered}: {exc}")
        return ()
    if len(result) > 1:
        notes.append(f"{plan.check.name}: {rendered} returned {len(result)} series; the chart shows the first")
    return tuple(p for s in result[:1] for p in s.points if math.isfinite(p[1]))


def level_threshold(
    check: Check, u: Unit, green: Sequence[Point], blue: Sequence[Point]
) -> tuple[tuple[Point, ...], str]:
    """The first level threshold as a line in time: a constant, or relative to blue at each instant."""
    thresholds = check.thresholds()
    kind = next((k for k in LEVEL_THRESHOLDS if k in thresholds), None)
    if kind is None:
        return (), ""
    limit = thresholds[kind]
    times = [t for t, _ in (green or blue)]
    if kind in ("max", "min"):
        return tuple((t, limit) for t in times), f"{'max' if kind == 'max' else 'min'} {u.value(limit)}"
    if kind == "max_ratio_to_blue":
        return tuple((t, limit * v) for t, v in blue), f"{limit:g}x blue"
    return tuple((t, v + limit) for t, v in blue), f"blue {u.delta(limit)}"


def rolling_slope(points: Sequence[Point], window: float) -> tuple[Point, ...]:
    """Theil-Sen slope over ``[t - window, t]`` at up to ``TREND_POINTS`` instants with a full window."""
    pts = sorted(points)
    if len(pts) < 2:
        return ()
    first = pts[0][0]
    candidates = [t for t, _ in pts if t - first >= window * 0.999]
    if not candidates:
        return ()
    stride = max(1, math.ceil(len(candidates) / TREND_POINTS))
    out = []
    for at in candidates[::stride] + ([candidates[-1]] if (len(candidates) - 1) % stride else []):
        inside = [p for p in pts if at - window <= p[0] <= at]
        thin = max(1, math.ceil(len(inside) / TREND_FIT_POINTS))
        slope = theil_sen(inside[::thin])
        if slope is not None:
            out.append((at, slope))
    return tuple(out)


def trend_threshold(
    check: Check, blue_slope: Sequence[Point], green_slope: Sequence[Point]
) -> tuple[tuple[Point, ...], str]:
    thresholds = check.thresholds()
    if "max_slope_over_blue" in thresholds:
        limit = thresholds["max_slope_over_blue"]
        return tuple((t, v + limit) for t, v in blue_slope), "blue's slope + limit"
    if "max_slope" in thresholds:
        limit = thresholds["max_slope"]
        return tuple((t, limit) for t, _ in green_slope), "limit"
    return (), ""


def judged(run: RolloutRun, check: str, slope: bool) -> dict[Track, tuple[Point, ...]]:
    """The values the operator judged, per track: slopes when ``slope``, levels otherwise."""
    out: dict[Track, list[Point]] = {"green": [], "blue": []}
    for evaluation in run.evaluations:
        for c in evaluation.checks:
            if c.name != check or c.threshold.startswith("slope") != slope:
                continue
            for track, value in (("green", c.green), ("blue", c.blue)):
                if value is not None and math.isfinite(value):
                    out[track].append((evaluation.at, value))  # type: ignore[index]
    return {"green": tuple(out["green"]), "blue": tuple(out["blue"])}


def _trend_panel(run: RolloutRun, plan: Plan, level: dict[Track, tuple[Point, ...]]) -> Panel:
    slopes = {t: tuple(p for p in rolling_slope(level[t], plan.window) if p[0] >= run.start) for t in TRACKS}
    line, label = trend_threshold(plan.check, slopes["blue"], slopes["green"])
    seen = judged(run, plan.check.name, slope=True)
    return Panel(
        f"trend over {plan.window:g}s (Theil-Sen)",
        plan.unit.name,
        slopes["green"],
        slopes["blue"],
        line,
        label,
        slope_axis=True,
        judged_green=seen["green"],
        judged_blue=seen["blue"],
    )


def check_chart(
    source: MetricSource, run: RolloutRun, refs: dict[Track, TrackRef], check: Check, notes: list[str]
) -> CheckChart:
    plan = plan_for(check)
    # One window earlier, so the rolling trend has a full window behind the chart's first instant.
    lead = plan.window if plan.needs_slope else 0.0
    fetched = {t: _series(source, plan, refs[t], Window(run.start - lead, run.end), notes) for t in TRACKS}
    level = {t: tuple(p for p in fetched[t] if p[0] >= run.start) for t in TRACKS}
    line, label = level_threshold(check, plan.unit, level["green"], level["blue"])
    # python-version's judged value counts mismatched pods, not what this panel plots
    seen = judged(run, check.name, slope=False) if check.template != "python-version" else {"green": (), "blue": ()}
    panels = [
        Panel(
            _describe(plan),
            plan.unit.name,
            level["green"],
            level["blue"],
            line,
            label,
            judged_green=seen["green"],
            judged_blue=seen["blue"],
        )
    ]
    if plan.needs_slope:
        panels.append(_trend_panel(run, plan, fetched))
    history = verdicts(run, check.name)
    last = next((c.message for e in reversed(run.evaluations) for c in e.checks if c.name == check.name), "")
    note = "" if level["green"] or level["blue"] else "no series for either track in this window"
    return CheckChart(check.name, _thresholds(check, plan.unit), tuple(panels), tuple(history), last, note)


def _describe(plan: Plan) -> str:
    check = plan.check
    if check.template == "latency":
        return f"p{plan.quantile * 100:g} latency over {plan.window:g}s"
    if check.template == "error-rate":
        return f"5xx share over {plan.window:g}s"
    if check.template == "memory":
        return f"memory of the mean pod ({plan.template.source if plan.template else 'container'})"
    if check.template == "db-connections":
        return "open DB connections of the track"
    if check.template == "python-version":
        return "pods reporting python_info"
    return f"custom query over {plan.window:g}s"


def _thresholds(check: Check, u: Unit) -> str:
    """The check's thresholds as its author wrote them, in the check's unit (``slope <= blue +300.0 MiB/h``)."""
    phrases = {
        "max": lambda v: f"max {u.value(v)}",
        "min": lambda v: f"min {u.value(v)}",
        "max_ratio_to_blue": lambda v: f"<= {v:g}x blue",
        "max_increase_over_blue": lambda v: f"<= blue {u.delta(v)}",
        "max_slope": lambda v: f"slope <= {u.slope(v)}",
        "max_slope_over_blue": lambda v: f"slope <= blue {u.slope(v)}",
    }
    parts = [phrases[name](value) for name, value in check.thresholds().items()]
    if check.template == "python-version":
        parts.append("every green pod on expectPython")
    return ", ".join(parts)
