"""What a rollout looks like to the human watching it: one snapshot, two renderings.

:func:`render` turns a :class:`Snapshot` into a rich renderable (for ``get`` and the live view of
``get -w`` and ``greenlane demo``); :func:`change_lines` turns two consecutive snapshots into plain
lines, printed only when something a human cares about changed (never because a clock ticked), for
pipes, logs and ``TERM=dumb``. Both are pure: the caller supplies ``now`` and the data.

Numbers are shown in their unit (bytes as KiB/MiB/GiB, slopes per hour, latencies in ms or s),
steps are 1-based everywhere, verdicts carry a colour and a word (colour alone says nothing to a
screen reader or a log file).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from controller.analysis.plan import plan_for
from controller.model.quantities import format_duration
from controller.model.spec import RolloutSpec, format_pause
from controller.model.status import TERMINAL_PHASES, CheckStatus, RolloutStatus, TrackValues
from controller.model.units import Unit, UnitName

Json = dict[str, Any]
BAR_WIDTH = 30
EVENTS_SHOWN = 6
PHASE_STYLE = {
    "Pending": "dim",
    "Progressing": "cyan",
    "Paused": "yellow",
    "Promoted": "bold green",
    "RolledBack": "bold red",
    "Aborted": "bold red",
    "Invalid": "bold red",
}
VERDICT_STYLE = {"Pass": "green", "Fail": "bold red", "Inconclusive": "yellow"}
VERDICT_WORD = {"Pass": "ok", "Fail": "FAIL", "Inconclusive": "??"}
UNITS: tuple[str, ...] = ("seconds", "ratio", "bytes", "count", "number")


@dataclass(frozen=True)
class StepInfo:
    weight: int
    pause: str


@dataclass(frozen=True)
class EventRow:
    type: str
    reason: str
    message: str
    at: datetime | None = None
    count: int = 1


@dataclass(frozen=True)
class Snapshot:
    """Everything one screen shows. Build it with :meth:`from_object` (the CLI) or :meth:`from_models` (demo)."""

    namespace: str
    name: str
    status: RolloutStatus
    now: datetime
    steps: tuple[StepInfo, ...] = ()
    blue: str = ""
    green: str = ""
    required_passes: int | None = None
    failure_limit: int | None = None
    units: Mapping[str, str] = field(default_factory=dict)
    events: tuple[EventRow, ...] = ()

    @classmethod
    def from_models(
        cls,
        namespace: str,
        name: str,
        spec: RolloutSpec,
        status: RolloutStatus,
        now: datetime,
        events: Iterable[EventRow] = (),
    ) -> Snapshot:
        return cls(
            namespace=namespace,
            name=name,
            status=status,
            now=now,
            steps=tuple(StepInfo(s.weight, format_pause(s.pause)) for s in spec.steps),
            blue=spec.blue.deployment,
            green=spec.green.deployment,
            required_passes=spec.analysis.required_passes,
            failure_limit=spec.analysis.failure_limit,
            units={c.name: plan_for(c).unit.name for c in spec.analysis.checks},
            events=tuple(events),
        )

    @classmethod
    def from_object(cls, obj: Json, events: Sequence[Json], now: datetime) -> Snapshot:
        """From the API object; a spec that no longer validates (phase Invalid) still shows what it can."""
        meta, raw_spec = obj.get("metadata") or {}, obj.get("spec") or {}
        status = _status(obj.get("status") or {})
        rows = tuple(_event_row(e) for e in events)
        namespace, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
        try:
            spec = RolloutSpec.model_validate(raw_spec)
        except ValueError:
            steps = tuple(
                StepInfo(int(s.get("weight", 0)), str(s.get("pause", "0s")))
                for s in raw_spec.get("steps") or []
                if isinstance(s, dict)
            )
            blue, green = _deployment(raw_spec, "blue"), _deployment(raw_spec, "green")
            return cls(namespace, name, status, now, steps, blue, green, events=rows)
        return cls.from_models(namespace, name, spec, status, now, rows)

    @property
    def step_number(self) -> int:
        return min(self.status.step_number, len(self.steps)) if self.steps else self.status.step_number

    @property
    def terminal(self) -> bool:
        return self.status.phase in TERMINAL_PHASES

    def unit(self, check: CheckStatus) -> Unit:
        name = check.unit or self.units.get(check.name) or "number"
        return Unit(cast(UnitName, name if name in UNITS else "number"))


def _deployment(raw_spec: Json, track: str) -> str:
    value = raw_spec.get(track)
    return str(value.get("deployment") or "") if isinstance(value, dict) else ""


def _status(raw: Json) -> RolloutStatus:
    try:
        return RolloutStatus.model_validate(raw)
    except ValueError:
        return RolloutStatus(message="(status unreadable by this CLI version)")


def _event_row(event: Json) -> EventRow:
    stamp = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
    return EventRow(
        type=str(event.get("type") or ""),
        reason=str(event.get("reason") or ""),
        message=str(event.get("message") or ""),
        at=parse_time(stamp),
        count=int(event.get("count") or 1),
    )


def parse_time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- numbers ---------------------------------------------------------------------------------------


def age(then: datetime | None, now: datetime) -> str:
    """``45s``, ``3m``, ``2h``, ``5d``, like kubectl's AGE column."""
    if then is None:
        return "-"
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def level_text(unit: Unit, value: float | None) -> str:
    return unit.value(value) if value is not None and _finite(value) else "-"


def slope_text(unit: Unit, value: float | None) -> str:
    return unit.slope(value) if value is not None and _finite(value) else "-"


def check_values(snapshot: Snapshot, check: CheckStatus) -> tuple[str, str]:
    """(green, blue) as text: the level, and on a second line the trend per hour when there is one."""
    unit = snapshot.unit(check)
    level, slope = check.level, check.slope
    if level is None and slope is None:  # an operator that does not split them: trust ``measure``
        values = TrackValues(green=check.green, blue=check.blue)
        level, slope = (values, None) if check.measure == "level" else (None, values)
    cells = []
    for track in ("green", "blue"):
        parts = []
        if level is not None and (getattr(level, track) is not None or slope is None):
            parts.append(level_text(unit, getattr(level, track)))
        if slope is not None:
            parts.append(slope_text(unit, getattr(slope, track)))
        cells.append("\n".join(parts) or "-")
    return cells[0], cells[1]


# -- the rich view ---------------------------------------------------------------------------------


def weight_bar(weight: int, width: int = BAR_WIDTH) -> Text:
    """Green's share as a bar, green then blue, with the numbers beside it for anyone without colour."""
    green = round(width * max(0, min(100, weight)) / 100)
    bar = Text()
    bar.append("█" * green, style="green")
    bar.append("░" * (width - green), style="blue")
    bar.append(f"  green {weight}% / blue {100 - weight}%")
    return bar


def _phase(status: RolloutStatus) -> Text:
    text = Text(status.phase, style=PHASE_STYLE.get(status.phase, ""))
    if status.pause_reason:
        text.append(f" ({status.pause_reason})")
    if status.rollback is not None and status.rollback.completed_at is None:
        text.append(" - rolling back", style="bold red")
    return text


def _step(snapshot: Snapshot) -> Text:
    total = len(snapshot.steps)
    text = Text(f"{snapshot.step_number}/{total or '?'}")
    if total:
        step = snapshot.steps[snapshot.step_number - 1]
        text.append(f"  (target {step.weight}%, pause {step.pause})", style="dim")
    if snapshot.status.target_weight is not None and snapshot.status.target_weight != snapshot.status.weight:
        text.append(f"  moving to {snapshot.status.target_weight}%", style="yellow")
    return text


def _bake(snapshot: Snapshot) -> Text | None:
    status = snapshot.status
    if status.step_started_at is None or snapshot.terminal:
        return None
    elapsed = max(0.0, (snapshot.now - status.step_started_at).total_seconds())
    text = Text(f"{format_duration(round(elapsed))} at this weight")
    if snapshot.steps:
        text.append(f" of {snapshot.steps[snapshot.step_number - 1].pause}")
    passes = f"{status.consecutive_passes}/{snapshot.required_passes or '?'}"
    failures = f"{status.consecutive_failures}/{snapshot.failure_limit or '?'}"
    text.append("  passes ")
    text.append(passes, style="green")
    text.append("  failures ")
    text.append(failures, style="red" if status.consecutive_failures else "")
    return text


def _checks(snapshot: Snapshot) -> RenderableType:
    if not snapshot.status.checks:
        return Text("  (no evaluation yet)", style="dim")
    table = Table(box=None, padding=(0, 2, 0, 2), show_edge=False, header_style="bold")
    for column in ("CHECK", "VERDICT", "GREEN", "BLUE", "THRESHOLD", "SAMPLES"):
        table.add_column(column, justify="right" if column in ("GREEN", "BLUE", "SAMPLES") else "left")
    for check in snapshot.status.checks:
        green, blue = check_values(snapshot, check)
        verdict = Text(check.verdict, style=VERDICT_STYLE.get(check.verdict, ""))
        table.add_row(check.name, verdict, green, blue, check.threshold or "-", str(check.samples))
    return table


def _events(snapshot: Snapshot) -> RenderableType:
    rows = snapshot.events[-EVENTS_SHOWN:]
    if not rows:
        return Text("  (none)", style="dim")
    table = Table(box=None, padding=(0, 2, 0, 2), show_edge=False, header_style="bold")
    for column in ("AGE", "TYPE", "REASON", "MESSAGE"):
        table.add_column(column, overflow="fold")
    for event in rows:
        kind = Text(event.type, style="yellow" if event.type == "Warning" else "")
        message = event.message + (f" (x{event.count})" if event.count > 1 else "")
        table.add_row(age(event.at, snapshot.now), kind, event.reason, message)
    return table


def render(snapshot: Snapshot) -> RenderableType:
    """The whole screen of ``get``: phase, step, weights, bake, every check side by side, recent events."""
    status = snapshot.status
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("Rollout", f"{snapshot.namespace}/{snapshot.name}")
    facts.add_row("Phase", _phase(status))
    facts.add_row("Step", _step(snapshot))
    facts.add_row("Weights", weight_bar(status.weight))
    if snapshot.blue or snapshot.green:
        facts.add_row("Tracks", f"blue {snapshot.blue}  green {snapshot.green}")
    bake = _bake(snapshot)
    if bake is not None:
        facts.add_row("Baking", bake)
    if status.message:
        facts.add_row("Message", status.message)
    if status.rollback is not None:
        record = status.rollback
        facts.add_row("Rollback", Text(f"{record.reason}: {record.message}", style="red"))
    gap = Text("")
    return Group(
        facts,
        gap,
        Text("Checks", style="bold"),
        _checks(snapshot),
        gap,
        Text("Events", style="bold"),
        _events(snapshot),
    )


# -- plain lines -----------------------------------------------------------------------------------


def check_phrase(snapshot: Snapshot, check: CheckStatus) -> str:
    """``memory FAIL 68.6 MiB/38.3 MiB +1.8 GiB/h/+0 B/h (slope <= blue +300.0 MiB/h)``."""
    green, blue = check_values(snapshot, check)
    pairs = " ".join(f"{g}/{b}" for g, b in zip(green.split("\n"), blue.split("\n"), strict=False))
    threshold = f" ({check.threshold})" if check.threshold else ""
    return f"{check.name} {VERDICT_WORD.get(check.verdict, check.verdict)} {pairs}{threshold}"


def state_line(snapshot: Snapshot) -> str:
    """One line for the state: what changes it is worth printing; elapsed time is left out on purpose."""
    status = snapshot.status
    head = f"{snapshot.namespace}/{snapshot.name} {status.phase}"
    if status.pause_reason:
        head += f" ({status.pause_reason})"
    head += f" step {snapshot.step_number}/{len(snapshot.steps) or '?'} green {status.weight}%"
    if status.target_weight is not None and status.target_weight != status.weight:
        head += f" -> {status.target_weight}%"
    if status.step_started_at is not None and not snapshot.terminal:
        head += f" passes {status.consecutive_passes}/{snapshot.required_passes or '?'}"
        head += f" failures {status.consecutive_failures}/{snapshot.failure_limit or '?'}"
    checks = " | ".join(check_phrase(snapshot, c) for c in status.checks)
    return head + (f" | {checks}" if checks else "")


def event_line(event: EventRow) -> str:
    repeat = f" (x{event.count})" if event.count > 1 else ""
    return f"   event {event.type} {event.reason}: {event.message}{repeat}"


def change_lines(previous: Snapshot | None, current: Snapshot) -> list[str]:
    """Lines to print for the change from ``previous`` to ``current``: nothing when nothing changed."""
    lines: list[str] = []
    seen = {(e.reason, e.message, e.at, e.count) for e in previous.events} if previous else set()
    fresh = current.events if previous is not None else current.events[-EVENTS_SHOWN:]
    for event in fresh:
        if (event.reason, event.message, event.at, event.count) not in seen:
            lines.append(event_line(event))
    state = state_line(current)
    if previous is None or state != state_line(previous):
        lines.append(state)
    return lines
