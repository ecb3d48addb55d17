"""Parsing of the human-friendly units in a rollout spec: durations, quantities and slopes.

Kept separate from the models so that the CLI, the analysis messages and the CRD patterns share one
definition of what ``2m``, ``50Mi`` and ``20/h`` mean.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

DURATION_UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_NUMBER = r"[0-9]{1,9}(?:\.[0-9]{1,3})?"
DURATION_PATTERN = rf"^(?:[0-9]{{1,9}}d)?(?:{_NUMBER}h)?(?:{_NUMBER}m)?(?:{_NUMBER}s)?(?:{_NUMBER}ms)?$"
"""Units largest first, each at most once (``1d12h``, ``1h30m``, ``2m30s``, ``500ms``), whole days, at most
three decimals and nine digits a part: every value is a whole number of microseconds, far inside what a
CEL ``duration`` holds, so the CRD's CEL range rules and this parser agree to the microsecond."""
DURATION_MAX_LENGTH = 64
_DURATION_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_MICROS = {"ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000}

QUANTITY_SUFFIXES: dict[str, float] = {
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}
_QUANTITY = r"[0-9]{1,15}(?:\.[0-9]{1,15})?(?:Ki|Mi|Gi|Ti|k|M|G|T)?"
RATE_UNITS: dict[str, float] = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
RATE_PATTERN = rf"^[+]?{_QUANTITY}/(?:s|min|m|h|d)$"
"""At most 15 digits either side of the point: a slope is always finite (no ``1e400``-style overflow)."""
RATE_MAX_LENGTH = 40
_RATE_RE = re.compile(r"^\+?([0-9]{1,15}(?:\.[0-9]{1,15})?)(Ki|Mi|Gi|Ti|k|M|G|T)?/(s|min|m|h|d)$")


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration such as ``90s``, ``2m`` or ``1h30m``.

    Raises ValueError with an example of the accepted form, because the value came from a human.
    """
    return duration_micros(text) / 1_000_000


def duration_micros(text: str) -> int:
    """The exact duration in microseconds, for range checks that must agree with the CRD's CEL rules."""
    ok = isinstance(text, str) and 0 < len(text) <= DURATION_MAX_LENGTH and re.fullmatch(DURATION_PATTERN, text)
    if not ok:
        raise ValueError(
            "invalid duration, expected a number with a unit such as 30s, 2m, 1h or 1h30m "
            "(units largest first: d, h, m, s, ms; whole days; at most 3 decimals)"
        )
    return sum(int(Decimal(n) * _MICROS[u]) for n, u in _DURATION_RE.findall(text))


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of a duration (``90`` → ``1m30s``), for messages and round trips."""
    if seconds < 0 or math.isnan(seconds):
        raise ValueError(f"duration must be non-negative, got {seconds}")
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    out = []
    rest = round(seconds, 3)
    for unit in ("d", "h", "m"):
        size = DURATION_UNITS[unit]
        count = int(rest // size)
        if count:
            out.append(f"{count}{unit}")
            rest -= count * size
    if rest:
        out.append(f"{rest:g}s")
    return "".join(out)


def parse_rate(text: str) -> float:
    """Per-second value of a slope such as ``50Mi/h`` (bytes per hour) or ``20/h`` (count per hour)."""
    match = _RATE_RE.fullmatch(text) if isinstance(text, str) and len(text) <= RATE_MAX_LENGTH else None
    if not match:
        raise ValueError("invalid slope, expected an amount per time unit such as 50Mi/h, 20/h or 1.5/min")
    number, suffix, unit = match.groups()
    return float(number) * QUANTITY_SUFFIXES[suffix or ""] / RATE_UNITS[unit]


def format_rate(per_second: float, binary: bool = False) -> str:
    """A per-hour spelling of a slope, with binary suffixes for byte quantities."""
    per_hour = per_second * 3600.0
    if binary:
        for suffix in ("Gi", "Mi", "Ki"):
            size = QUANTITY_SUFFIXES[suffix]
            if abs(per_hour) >= size:
                return f"{per_hour / size:+.1f} {suffix}B/h"
        return f"{per_hour:+.0f} B/h"
    if abs(per_hour) >= 100:  # whole counts, never exponent notation (+3600/h, not +3.6e+03/h)
        return f"{per_hour:+.0f}/h"
    return f"{per_hour:+.3g}/h"


def format_bytes(value: float) -> str:
    """Binary-suffixed byte count for messages (``318.4 MiB``)."""
    for suffix in ("Ti", "Gi", "Mi", "Ki"):
        size = QUANTITY_SUFFIXES[suffix]
        if abs(value) >= size:
            return f"{value / size:.1f} {suffix}B"
    return f"{value:.0f} B"
