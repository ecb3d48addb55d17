"""What a notification says, decided once for every sink: what happened, where, the numbers, who acted.

Pure: built from the event the core emitted, the status it wrote and the spec, so Slack, Teams and
the webhook carry the same facts and a test can check them without any HTTP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from controller.model.notify import SEVERITIES, Severity
from controller.model.spec import RolloutSpec
from controller.model.status import CheckStatus, RolloutStatus
from controller.model.units import Unit, UnitName

ERROR_REASONS = frozenset({"RolledBack", "Aborted", "InvalidSpec", "DeploymentMissing", "PythonVersionMismatch"})
COMMAND_REASONS = frozenset({"PromoteAccepted", "Paused", "Resumed", "Retried", "Aborted", "CommandIgnored"})
ROLLBACK_REASONS = frozenset({"RollingBack", "RolledBack", "Aborted"})
UNITS = ("seconds", "ratio", "bytes", "count", "number")


@dataclass(frozen=True)
class RolloutRef:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class FailingCheck:
    name: str
    green: str
    blue: str
    threshold: str


@dataclass(frozen=True)
class Message:
    rollout: RolloutRef
    reason: str
    event_type: str
    severity: Severity
    text: str
    phase: str
    step: str
    weight: int
    actor: str
    at: datetime
    check: FailingCheck | None = None
    checks: list[CheckStatus] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.rollout}: {self.reason}"

    def facts(self) -> list[tuple[str, str]]:
        """Label/value pairs every sink shows (Slack fields, Teams FactSet, webhook metadata)."""
        out = [
            ("Phase", self.phase),
            ("Step", self.step),
            ("Weight", f"green {self.weight}% / blue {100 - self.weight}%"),
            ("Acted", self.actor),
        ]
        if self.check is not None:
            out += [
                ("Check", self.check.name),
                ("Green", self.check.green),
                ("Blue", self.check.blue),
                ("Threshold", self.check.threshold or "-"),
            ]
        return out


def severity_of(reason: str, event_type: str) -> Severity:
    if reason in ERROR_REASONS:
        return "error"
    return "warning" if event_type == "Warning" else "info"


def at_least(severity: Severity, minimum: Severity) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(minimum)


def _unit(check: CheckStatus | None) -> Unit:
    name = check.unit if check is not None and check.unit in UNITS else "number"
    return Unit(cast(UnitName, name))


def _value(unit: Unit, value: float | None, measure: str) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return unit.slope(value) if measure == "slope" else unit.value(value)


def failing_check(status: RolloutStatus, reason: str) -> FailingCheck | None:
    """The check that explains the event: the rollback's, else the first failing one in the last evaluation."""
    by_name = {c.name: c for c in status.checks}
    record = status.rollback
    if reason in ROLLBACK_REASONS and record is not None and record.check:
        check = by_name.get(record.check)
        unit = _unit(check)
        measure = check.measure if check is not None else "level"
        green, blue = _value(unit, record.green, measure), _value(unit, record.blue, measure)
        return FailingCheck(record.check, green, blue, record.threshold)
    failing = next((c for c in status.checks if c.verdict == "Fail"), None)
    if failing is None or reason not in ("AnalysisFailed", "RollingBack", "RolledBack"):
        return None
    unit = _unit(failing)
    return FailingCheck(
        failing.name,
        _value(unit, failing.green, failing.measure),
        _value(unit, failing.blue, failing.measure),
        failing.threshold,
    )


def build(
    rollout: RolloutRef,
    reason: str,
    event_type: str,
    text: str,
    status: RolloutStatus,
    spec: RolloutSpec | None,
    at: datetime,
    actor: str | None = None,
) -> Message:
    """The message for one event; ``actor`` is the user of the command applied in this reconcile, if any."""
    total = len(spec.steps) if spec is not None else 0
    number = min(status.step_number, total) if total else status.step_number
    weight = status.rollback.weight if reason in ROLLBACK_REASONS and status.rollback is not None else status.weight
    who = actor if actor and reason in COMMAND_REASONS else "greenlane (automatic)"
    return Message(
        rollout=rollout,
        reason=reason,
        event_type=event_type,
        severity=severity_of(reason, event_type),
        text=text,
        phase=status.phase,
        step=f"{number}/{total}" if total else str(number),
        weight=weight,
        actor=who,
        at=at,
        check=failing_check(status, reason),
        checks=list(status.checks),
    )
