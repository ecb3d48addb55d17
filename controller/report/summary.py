"""The few lines a pull request or change ticket needs: was it safe, was it worth it, with the numbers.

Example::

    checkout (shop): Promoted after 4 steps in 2m10s; green checkout-py312 on Python 3.12.1, blue checkout on 3.11.7.
    3.12 vs 3.11: p50 -3.1% [-9.0%, +2.8%], p99 +0.4% [...], errors 0.00% vs 0.00%, memory +79.2% (flat).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from controller.report import fmt
from controller.report.model import HeadlineRow, Report, RolloutRun, StepSpan, Track

FLAT_FRACTION_PER_HOUR = 0.02
"""Without a trend limit in the spec, a trend within 2% of blue's level per hour reads as flat."""


def _versions(versions: Mapping[Track, Mapping[str, str]], track: Track) -> str:
    found = sorted(set(versions.get(track, {}).values()))
    return ", ".join(found) if found else "unknown Python"


def _trend_word(report_rows: Sequence[HeadlineRow], run: RolloutRun, key: str, template: str) -> str:
    level = next((r for r in report_rows if r.key == key), None)
    trend = next((r for r in report_rows if r.key == f"{key}_trend"), None)
    if trend is None or trend.change.value is None:
        return ""
    check = next((c for c in run.spec.analysis.checks if c.template == template), None)
    limit = check.max_slope_over_blue if check is not None else None
    if limit is None:
        base = level.blue.value if level is not None and level.blue.value else 0.0
        limit = abs(base) * FLAT_FRACTION_PER_HOUR / 3600
    diff = trend.change.value
    if diff > limit:
        return "growing"
    return "shrinking" if diff < -limit else "flat"


def _headline_phrase(rows: Sequence[HeadlineRow], run: RolloutRun) -> str:
    parts = []
    for key, name in (("latency_p50", "p50"), ("latency_p99", "p99")):
        row = next((r for r in rows if r.key == key), None)
        if row is not None and row.change.value is not None:
            parts.append(f"{name} {fmt.change(row.change, 'percent', row.unit)}")
    errors = next((r for r in rows if r.key == "error_rate"), None)
    if errors is not None:
        parts.append(f"errors {fmt.value(errors.green.value, 'ratio')} vs {fmt.value(errors.blue.value, 'ratio')}")
    memory = next((r for r in rows if r.key == "memory"), None)
    if memory is not None and memory.change.value is not None:
        word = _trend_word(rows, run, "memory", "memory")
        parts.append(f"memory {fmt.percent(memory.change.value)}" + (f" ({word})" if word else ""))
    connections = next((r for r in rows if r.key == "db_connections"), None)
    if connections is not None and connections.green.value is not None:
        word = _trend_word(rows, run, "db_connections", "db-connections")
        parts.append(
            f"DB connections {fmt.value(connections.green.value, 'count')} vs "
            f"{fmt.value(connections.blue.value, 'count')}" + (f" ({word})" if word else "")
        )
    return "3.12 vs 3.11: " + (", ".join(parts) if parts else "no comparable figures in this window")


def summarize(
    run: RolloutRun, rows: Sequence[HeadlineRow], steps: Sequence[StepSpan], versions: Mapping[Track, Mapping[str, str]]
) -> tuple[str, ...]:
    green, blue = run.spec.green.deployment, run.spec.blue.deployment
    took = fmt.duration(run.end - run.judged_from)
    lines = [
        f"{run.name} ({run.namespace}): {run.phase} after {len(steps)} of {len(run.spec.steps)} steps in {took}; "
        f"green {green} on Python {_versions(versions, 'green')}, blue {blue} on {_versions(versions, 'blue')}.",
        _headline_phrase(rows, run) + ".",
    ]
    if run.message:
        lines.append(f"Outcome: {run.message}")
    lines.append(f"Window: {fmt.clock(run.start)} to {fmt.clock(run.end)}; intervals are 95%.")
    return tuple(lines)


def markdown(report: Report) -> str:
    """The summary and the headline table as Markdown, for a pull request or change ticket."""
    run = report.run
    out = [f"### Migration report: {run.namespace}/{run.name} — {run.phase}", ""]
    out += [f"{line}  " for line in report.summary]
    out += ["", "| figure | green (3.12) | blue (3.11) | change | n (green / blue) |", "|---|---|---|---|---|"]
    for r in report.headline:
        out.append(
            f"| {r.label} | {fmt.value(r.green.value, r.unit)} {fmt.interval(r.green, r.unit)} "
            f"| {fmt.value(r.blue.value, r.unit)} {fmt.interval(r.blue, r.unit)} "
            f"| {fmt.change(r.change, r.change_kind, r.unit)} | {r.green.samples} / {r.blue.samples} |"
        )
    if report.steps:
        out += ["", "| step | weight | baked | ended |", "|---|---|---|---|"]
        out += [f"| {s.index + 1} | {s.weight}% | {fmt.duration(s.baked)} | {s.outcome} |" for s in report.steps]
    return "\n".join(out) + "\n"
