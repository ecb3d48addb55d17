"""The ``status`` of a BlueGreenRollout: all progress, with timestamps, so a restarted controller resumes.

Status is written by the controller only; it is parsed leniently (unknown fields from a newer controller
are kept out of the way, not fatal) because losing a rollout's progress is worse than ignoring a field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from controller.model.base import Model

Phase = Literal["Pending", "Progressing", "Paused", "Promoted", "RolledBack", "Aborted", "Invalid"]
PHASES: tuple[str, ...] = ("Pending", "Progressing", "Paused", "Promoted", "RolledBack", "Aborted", "Invalid")
TERMINAL_PHASES: frozenset[str] = frozenset({"Promoted", "RolledBack", "Aborted"})
"""Phases that move no traffic on their own; only a command (or, from RolledBack, a new green template) leaves them.

``Invalid`` is not terminal: it is re-checked on every reconcile and returns to ``Pending`` once the
problem (a bad spec, a missing Deployment) is fixed.
"""
Verdict = Literal["Pass", "Fail", "Inconclusive"]
PauseReason = Literal["ManualStep", "Command", "AnalysisHold"]
HoldKind = Literal["PrometheusUnavailable", "Inconclusive"]
FinalPhase = Literal["RolledBack", "Aborted"]


class StatusModel(Model):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CheckStatus(StatusModel):
    """The last evaluation of one check, with the numbers an on-call engineer needs side by side."""

    name: str
    verdict: Verdict
    green: float | None = None
    blue: float | None = None
    threshold: str = ""
    samples: int = 0
    blue_samples: int = Field(default=0, description="Blue's requests (or points) behind its value.")
    estimate: float | None = Field(
        default=None, description="The judged quantity: green/blue ratio, difference, level or slope."
    )
    low: float | None = Field(default=None, description="Lower end of the judged quantity's interval.")
    high: float | None = Field(default=None, description="Upper end of the judged quantity's interval.")
    confidence: float | None = Field(default=None, description="Two-sided confidence of [low, high].")
    needs: float | None = Field(
        default=None, description="About how many more green requests (or seconds of data) a verdict needs."
    )
    needs_unit: Literal["requests", "seconds"] | None = None
    baseline: str = Field(default="", description="The stored blue window used when blue serves no traffic.")
    message: str = ""
    outage: bool = Field(default=False, description="Inconclusive because Prometheus was unreachable or erroring.")
    evaluated_at: datetime | None = None


class Baseline(StatusModel):
    """Blue's last well-measured window of one check before the cutover, judged against at 100%.

    Bounded: a histogram keeps at most 64 finite buckets (``le``, cumulative ``counts``); gauges keep the
    window's level and trend with their variances and degrees of freedom.
    """

    check: str
    since: datetime
    until: datetime
    weight: int = Field(ge=0, le=100, description="Green's weight while blue was measured.")
    requests: float | None = None
    errors: float | None = None
    le: list[float] = Field(default_factory=list, max_length=64)
    counts: list[float] = Field(default_factory=list, max_length=64)
    level: float | None = None
    level_var: float | None = None
    slope: float | None = None
    slope_var: float | None = None
    dof: float | None = None
    samples: int = 0


class Condition(StatusModel):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str = ""
    message: str = ""
    last_transition_time: datetime | None = None


class RollbackRecord(StatusModel):
    """Why and when traffic went back to blue: the failing check with its values."""

    reason: str
    check: str | None = None
    message: str = ""
    weight: int = Field(default=0, description="Green's weight when the rollback was decided.")
    at: datetime | None = None
    green: float | None = Field(default=None, description="The failing check's green value.")
    blue: float | None = Field(default=None, description="The failing check's blue value.")
    threshold: str = ""
    failures: int = Field(default=0, description="Consecutive failing evaluations when the rollback was decided.")
    final_phase: FinalPhase = Field(
        default="RolledBack", description="Phase entered once the router shows green at 0 (Aborted after abort)."
    )
    completed_at: datetime | None = Field(default=None, description="When the router was verified at green 0.")


class RolloutStatus(StatusModel):
    phase: Phase = "Pending"
    message: str = ""
    observed_generation: int | None = None
    current_step: int = Field(default=0, ge=0, description="Index into spec.steps of the step in progress.")
    weight: int = Field(default=0, ge=0, le=100, description="Green's weight as last verified on the router.")
    target_weight: int | None = Field(
        default=None, ge=0, le=100, description="Weight requested from the router and not yet read back."
    )
    weight_requested_at: datetime | None = Field(default=None, description="When target_weight was last written.")
    step_started_at: datetime | None = Field(default=None, description="When the current step's weight was verified.")
    pause_lifted: bool = Field(default=False, description="A promote command lifted the current step's pause.")
    traffic_started_at: datetime | None = Field(
        default=None, description="When green first took traffic in this attempt; warm-up counts from here."
    )
    green_template_hash: str | None = None
    consecutive_passes: int = 0
    consecutive_failures: int = 0
    last_evaluation_at: datetime | None = None
    hold_since: datetime | None = None
    hold_kind: HoldKind | None = Field(default=None, description="Why the current step is held.")
    pause_reason: PauseReason | None = None
    last_command: str | None = Field(default=None, description="Id of the last control command applied.")
    promoted_at: datetime | None = None
    blue_scale_down_requested_at: datetime | None = None
    blue_scaled_down: bool = False
    rollback: RollbackRecord | None = None
    checks: list[CheckStatus] = Field(default_factory=list)
    baselines: list[Baseline] = Field(
        default_factory=list,
        max_length=32,
        description="Blue's last well-measured window per check, for relative checks once blue serves nothing.",
    )
    conditions: list[Condition] = Field(default_factory=list)
