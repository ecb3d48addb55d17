"""The report's charts, drawn with matplotlib into SVG (for the HTML) or PNG (``--png``).

matplotlib renders on the server side: the page gets finished images, with glyphs as paths, so it needs
no JavaScript, no font and no network to display. It is imported on first use only, which keeps
``greenlane --help`` and the operator's start-up free of its import time.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from controller.report import fmt
from controller.report.model import CheckChart, Event, Panel, Point, RolloutRun
from controller.report.timeline import OUTAGE, weight_spans

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

GREEN, BLUE, LIMIT, SHADE = "#1a9850", "#2c62c9", "#d62728", "#1a9850"
VERDICT_COLOURS = {"Pass": "#4daf4a", "Fail": "#e41a1c", "Inconclusive": "#bdbdbd", OUTAGE: "#ff7f00"}
MARKED = {
    "WeightSet": "#555555",
    "StepCompleted": "#888888",
    "RollingBack": LIMIT,
    "RolledBack": LIMIT,
    "Aborted": LIMIT,
    "Promoted": GREEN,
    "Paused": "#ff7f00",
    "Resumed": "#ff7f00",
    "Retried": "#ff7f00",
    "PromoteAccepted": "#ff7f00",
    "PrometheusUnavailable": "#ff7f00",
    "FaultInjected": "#984ea3",
}
WIDTH_IN = 10.0
PANEL_IN = 2.3
STRIP_IN = 0.55


def _figure(height: float) -> Figure:
    from matplotlib.figure import Figure  # noqa: PLC0415 - see the module docstring

    return Figure(figsize=(WIDTH_IN, height), dpi=100, layout="constrained")


def _clock_axis(ax: Axes, start: float, end: float) -> None:
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    span = max(end - start, 1.0)

    def label(x: float, _pos: int) -> str:
        seconds = round(x - start)
        if span >= 3 * 3600:
            return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"
        return f"{seconds // 60}:{seconds % 60:02d}"

    ax.xaxis.set_major_formatter(FuncFormatter(label))
    ax.set_xlim(start, end)


def _value_axis(ax: Axes, unit: str) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: PLC0415

    if unit in ("count", "number"):  # connections and pods come in whole numbers: no 2.0, 2.1, 2.1 ticks
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        low, high = ax.get_ylim()
        if high - low < 2:
            ax.set_ylim(low - 1, high + 1)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: fmt.value(y, unit)))


def _shade_weights(ax: Axes, run: RolloutRun, label: bool) -> None:
    for begin, finish, weight in weight_spans(run.weights, run.start, run.end):
        if weight <= 0:
            continue
        ax.axvspan(begin, finish, color=SHADE, alpha=0.04 + 0.16 * weight / 100, lw=0)
        if label:
            ax.text(
                (begin + finish) / 2,
                1.0,
                f"{weight}%",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=8,
                color="#333333",
            )


def _mark_events(ax: Axes, events: Sequence[Event], label: bool) -> None:
    for event in events:
        colour = MARKED.get(event.reason)
        if colour is None:
            continue
        ax.axvline(event.at, color=colour, lw=0.8, ls=":", alpha=0.9)
        if label:
            ax.text(
                event.at,
                0.98,
                event.reason,
                rotation=90,
                transform=ax.get_xaxis_transform(),
                ha="right",
                va="top",
                fontsize=6.5,
                color=colour,
            )


def _xy(points: Sequence[Point]) -> tuple[list[float], list[float]]:
    return [t for t, _ in points], [v for _, v in points]


def _draw_panel(ax: Axes, panel: Panel, run: RolloutRun, first: bool) -> None:
    _shade_weights(ax, run, label=first)
    _mark_events(ax, run.events, label=first)
    unit = f"{panel.unit}/s" if panel.slope_axis else panel.unit
    for points, colour, name in ((panel.blue, BLUE, "blue (3.11)"), (panel.green, GREEN, "green (3.12)")):
        if points:
            ax.plot(*_xy(points), color=colour, lw=1.4, label=name)
    if panel.threshold:
        ax.plot(*_xy(panel.threshold), color=LIMIT, lw=1.1, ls="--", label=f"threshold ({panel.threshold_label})")
    for points, colour, name in ((panel.judged_blue, BLUE, "blue judged"), (panel.judged_green, GREEN, "green judged")):
        if points:
            ax.scatter(*_xy(points), s=10, color=colour, edgecolors="white", linewidths=0.4, zorder=3, label=name)
    if not (panel.green or panel.blue):
        ax.text(0.5, 0.5, "no data in this window", transform=ax.transAxes, ha="center", va="center", color="#777")
    ax.set_title(panel.title, loc="left", fontsize=9)
    ax.grid(True, alpha=0.25)
    _value_axis(ax, unit)
    _clock_axis(ax, run.start, run.end)
    if panel.green or panel.blue:
        ax.legend(loc="upper left", fontsize=7, ncols=3, framealpha=0.7)


def _draw_verdicts(ax: Axes, verdicts: Sequence[tuple[float, str]], run: RolloutRun, interval: float) -> None:
    for i, (at, verdict) in enumerate(verdicts):
        until = verdicts[i + 1][0] if i + 1 < len(verdicts) else min(run.end, at + interval)
        ax.broken_barh([(at, max(until - at, 0.5))], (0, 1), color=VERDICT_COLOURS.get(verdict, "#999999"))
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    ax.set_ylabel("verdict", rotation=0, ha="right", va="center", fontsize=8)
    _clock_axis(ax, run.start, run.end)
    if not verdicts:
        ax.text(0.5, 0.5, "no evaluations recorded", transform=ax.transAxes, ha="center", va="center", fontsize=8)


def check_figure(chart: CheckChart, run: RolloutRun) -> Figure:
    heights = [PANEL_IN] * len(chart.panels) + [STRIP_IN]
    fig = _figure(sum(heights) + 0.5)
    axes = fig.subplots(len(heights), 1, sharex=True, gridspec_kw={"height_ratios": heights})
    for i, panel in enumerate(chart.panels):
        _draw_panel(axes[i], panel, run, first=i == 0)
    _draw_verdicts(axes[-1], chart.verdicts, run, run.spec.analysis.interval)
    fig.suptitle(f"{chart.name}: {chart.description}", x=0.01, ha="left", fontsize=10, fontweight="bold")
    return fig


def weight_figure(run: RolloutRun) -> Figure:
    """Green's share over time, the steps and the decisions: the rollout at a glance."""
    fig = _figure(2.1)
    ax = fig.subplots()
    spans = weight_spans(run.weights, run.start, run.end)
    xs = [x for begin, finish, _ in spans for x in (begin, finish)]
    ys = [w for _, _, w in spans for _ in (0, 1)]
    ax.fill_between(xs, ys, color=GREEN, alpha=0.25, lw=0)
    ax.plot(xs, ys, color=GREEN, lw=1.5, label="green weight")
    _mark_events(ax, run.events, label=True)
    ax.set_ylim(0, 105)
    ax.set_ylabel("green %", fontsize=8)
    ax.grid(True, alpha=0.25)
    _clock_axis(ax, run.start, run.end)
    ax.set_title("green's share of traffic (verified on the router) and decisions", loc="left", fontsize=9)
    return fig


def _save(fig: Figure, kind: str) -> bytes:
    buffer = io.BytesIO()
    metadata: dict[str, Any] = {"Date": None} if kind == "svg" else {}
    fig.savefig(buffer, format=kind, metadata=metadata)
    fig.clear()
    return buffer.getvalue()


def svg(fig: Figure) -> bytes:
    return _save(fig, "svg")


def png(fig: Figure) -> bytes:
    return _save(fig, "png")
