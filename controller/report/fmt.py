"""Numbers as the report's reader sees them: one formatter for HTML, Markdown and the text summary."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from controller.analysis.units import BYTES, COUNT, NUMBER, RATIO, SECONDS, Unit
from controller.model.quantities import format_duration
from controller.report.stats import Estimate

UNITS: dict[str, Unit] = {"seconds": SECONDS, "ratio": RATIO, "bytes": BYTES, "count": COUNT, "number": NUMBER}
MISSING = "—"


def value(x: float | None, unit: str) -> str:
    """``12ms``, ``0.52%``, ``64.1 MiB``, ``3.2 req/s``, ``4.1% core``; trends (``<unit>/s``) per hour."""
    if x is None:
        return MISSING
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("+Inf" if x > 0 else "-Inf")
    if unit.endswith("/s"):
        return UNITS.get(unit[:-2], NUMBER).slope(x)
    if unit == "rps":
        return f"{x:.3g} req/s"
    if unit == "cores":
        return f"{x * 100:.3g}% core"
    if unit == "ratio":
        return f"{x * 100:.2f}%" if x < 0.1 else f"{x * 100:.3g}%"
    return UNITS.get(unit, NUMBER).value(x)


def interval(e: Estimate, unit: str) -> str:
    if e.low is None or e.high is None:
        return ""
    return f"[{value(e.low, unit)}, {value(e.high, unit)}]"


def percent(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return MISSING
    return f"{x:+.1f}%"


def change(e: Estimate, kind: str, unit: str) -> str:
    """The change column: ``-3.1% [-8.0%, +2.0%]`` or, for differences, ``+41.8 MiB/h [...]``."""
    if e.value is None:
        return MISSING
    if kind == "percent":
        text = percent(e.value)
        return text + (f" [{percent(e.low)}, {percent(e.high)}]" if e.low is not None else "")
    signed = value(e.value, unit)
    if unit == "ratio":
        signed = f"{e.value * 100:+.2f} pts"
        return signed + (
            f" [{e.low * 100:+.2f}, {e.high * 100:+.2f}]" if e.low is not None and e.high is not None else ""
        )
    if not signed.startswith(("+", "-")):
        signed = "+" + signed
    return signed + (f" {interval(e, unit)}" if e.low is not None else "")


def clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float) -> str:
    return format_duration(max(0.0, round(seconds)))
