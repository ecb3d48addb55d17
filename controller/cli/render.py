"""Plain-text rendering of a rollout for terminals: the view an engineer paged at 2am needs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]


def age(ts: str | None, now: datetime) -> str:
    if not ts:
        return "-"
    try:
        then = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return ts
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def rollout_view(obj: Json, events: list[Json], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    steps = spec.get("steps", [])
    step = int(status.get("currentStep", 0))
    weight = int(status.get("weight", 0))
    lines = [
        f"Rollout:  {meta.get('namespace')}/{meta.get('name')}",
        f"Phase:    {status.get('phase', 'Pending')}"
        + (f" ({status['pauseReason']})" if status.get("pauseReason") else ""),
        f"Step:     {min(step + 1, len(steps))}/{len(steps)}"
        + (f" (target {steps[step]['weight']}%, pause {steps[step].get('pause', '0s')})" if step < len(steps) else ""),
        f"Weights:  green {weight}%  blue {100 - weight}%",
        f"Tracks:   blue {spec.get('blue', {}).get('deployment')}  green {spec.get('green', {}).get('deployment')}",
    ]
    if status.get("message"):
        lines.append(f"Message:  {status['message']}")
    if status.get("stepStartedAt"):
        lines.append(
            f"Baking:   {age(status['stepStartedAt'], now)} at this step, passes {status.get('consecutivePasses', 0)}"
            f", failures {status.get('consecutiveFailures', 0)}"
        )
    rollback = status.get("rollback")
    if rollback:
        lines.append(f"Rollback: {rollback.get('reason')}: {rollback.get('message', '')}")
    lines += ["", "Checks:"]
    rows = [["NAME", "VERDICT", "GREEN", "BLUE", "THRESHOLD", "SAMPLES", "MESSAGE"]]
    for check in status.get("checks", []):
        rows.append(
            [
                check.get("name", ""),
                check.get("verdict", ""),
                number(check.get("green")),
                number(check.get("blue")),
                check.get("threshold", ""),
                str(check.get("samples", 0)),
                check.get("message", ""),
            ]
        )
    lines += ["  " + line for line in table(rows)] if len(rows) > 1 else ["  (not evaluated yet)"]
    lines += ["", "Events:"]
    event_rows = [["AGE", "TYPE", "REASON", "MESSAGE"]]
    for event in sorted(events, key=lambda e: e.get("lastTimestamp") or "")[-10:]:
        count = int(event.get("count") or 1)
        event_rows.append(
            [
                age(event.get("lastTimestamp"), now),
                event.get("type", ""),
                event.get("reason", ""),
                event.get("message", "") + (f" (x{count})" if count > 1 else ""),
            ]
        )
    lines += ["  " + line for line in table(event_rows)] if len(event_rows) > 1 else ["  (none)"]
    return "\n".join(lines)


def list_rows(items: list[Json], now: datetime | None = None) -> list[str]:
    now = now or datetime.now(UTC)
    rows = [["NAMESPACE", "NAME", "PHASE", "STEP", "GREEN", "AGE"]]
    for obj in items:
        meta, status = obj.get("metadata", {}), obj.get("status") or {}
        total = len(obj.get("spec", {}).get("steps", []))
        rows.append(
            [
                meta.get("namespace", ""),
                meta.get("name", ""),
                status.get("phase", "Pending"),
                f"{min(int(status.get('currentStep', 0)) + 1, total)}/{total}",
                f"{status.get('weight', 0)}%",
                age(meta.get("creationTimestamp"), now),
            ]
        )
    return table(rows)
