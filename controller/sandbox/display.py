"""What ``greenlane demo`` shows while it runs: frames of the rollout, notes, and the texts only the demo knows.

The demo does not draw. After every reconcile it hands its :class:`Display` a :class:`Frame` (spec, the
in-memory status, every event so far); what happens outside the rollout (the sandbox starting, a fault
switched on, Prometheus stopped) is a note. The CLI draws frames with the renderer of ``greenlane get -w``:
a screen redrawn in place on a terminal, change-only lines in a pipe.

:func:`shown` fills in what status cannot hold as a number: the Python versions behind the
``python-version`` check, and why a value is missing, so no cell is a bare dash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from controller.analysis.plan import plan_for
from controller.model.spec import RolloutSpec
from controller.model.status import CheckStatus, RolloutStatus

ValueText = tuple[str | None, str | None]
"""(green, blue) text shown where that track has no number."""
NO_DATA_YET = "no data yet"
NO_DATA = "no data"
NO_TREND_YET = "no trend yet"
NOT_AVAILABLE = "n/a"
PROMETHEUS_DOWN = "Prometheus down"
ABSOLUTE_LIMIT = "n/a (absolute limit)"
NO_BLUE_DATA = "n/a (no blue data)"
NO_GREEN_DATA = "n/a (no green data)"


@dataclass(frozen=True)
class EventRecord:
    """An Event the core emitted, as the demo recorded it (unix time)."""

    at: float
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Frame:
    """One moment of the rollout: what ``greenlane get`` would show if the sandbox had an API server."""

    namespace: str
    name: str
    spec: RolloutSpec
    status: RolloutStatus
    now: datetime
    events: tuple[EventRecord, ...] = ()
    value_text: Mapping[str, ValueText] = field(default_factory=dict)


class Display(Protocol):
    """Where the demo shows itself; :meth:`close` leaves plain lines behind (a live view stops)."""

    def note(self, text: str) -> None: ...

    def update(self, frame: Frame) -> None: ...

    def close(self) -> None: ...


class QuietDisplay:
    """Shows nothing: for tests and library callers that only want the :class:`DemoResult`."""

    def note(self, text: str) -> None:
        return None

    def update(self, frame: Frame) -> None:
        return None

    def close(self) -> None:
        return None


def known(check: CheckStatus, track: str) -> bool:
    """Whether the check measured anything for ``track`` (a level, a slope or the deciding value)."""
    values = [getattr(check, track)]
    values += [getattr(pair, track) for pair in (check.level, check.slope) if pair is not None]
    return any(v is not None for v in values)


def _is_python_check(check: CheckStatus, spec: RolloutSpec) -> bool:
    return any(c.name == check.name and c.template == "python-version" for c in spec.analysis.checks)


def _why_missing(check: CheckStatus, spec: RolloutSpec, track: str) -> str:
    """What a track shows where it has no number: never a bare dash."""
    other = "blue" if track == "green" else "green"
    if known(check, track):  # one part of two: the trend needs its whole window, or a level is missing
        slope = check.slope
        return NO_TREND_YET if slope is not None and getattr(slope, track) is None else NOT_AVAILABLE
    if not known(check, other):
        if check.outage:
            return PROMETHEUS_DOWN
        return NO_DATA_YET if check.verdict == "Inconclusive" else NO_DATA
    if track == "green":
        return NO_GREEN_DATA
    configured = next((c for c in spec.analysis.checks if c.name == check.name), None)
    return ABSOLUTE_LIMIT if configured is not None and not plan_for(configured).needs_blue else NO_BLUE_DATA


def shown(
    spec: RolloutSpec, checks: Iterable[CheckStatus], versions: tuple[str, str]
) -> tuple[list[CheckStatus], dict[str, ValueText]]:
    """Checks as the demo shows them, and the text for every value they lack (``Snapshot.value_text``).

    ``versions`` are (green, blue) Python versions as the sandbox's interpreters report them. Once green's
    pods reported theirs, ``python-version`` shows both versions instead of its count of off-version pods.
    """
    out: list[CheckStatus] = []
    texts: dict[str, ValueText] = {}
    for check in checks:
        if _is_python_check(check, spec) and known(check, "green"):
            out.append(check.model_copy(update={"green": None, "blue": None, "level": None, "slope": None}))
            texts[check.name] = versions
            continue
        out.append(check)
        texts[check.name] = (_why_missing(check, spec, "green"), _why_missing(check, spec, "blue"))
    return out, texts
