"""The ``status`` of a BlueGreenRollout: all progress, with timestamps, so a restarted controller resumes.

Status is written by the controller only; it is parsed leniently (unknown fields from a newer controller
are kept out of the way, not fatal) because losing a rollout's progress is worse than ignoring a field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, computed_field

from controller.model.base import DnsLabel, Model
from controller.model.routing import TrafficRouting
from controller.model.spec import RolloutSpec

Phase = Literal["Pending", "Progressing", "Paused", "Promoted", "RolledBack", "Aborted", "Invalid"]
PHASES: tuple[str, ...] = ("Pending", "Progressing", "Paused", "Promoted", "RolledBack", "Aborted", "Invalid")
TERMINAL_PHASES: frozenset[str] = frozenset({"Promoted", "RolledBack", "Aborted"})
"""Phases that move no traffic on their own; only a command (or, from RolledBack, a new green template) leaves them.

``Invalid`` is not terminal: it is re-checked on every reconcile and returns to ``Pending`` once the
problem (a bad spec, a missing Deployment) is fixed.
"""
Verdict = Literal["Pass", "Fail", "Inconclusive"]
PauseReason = Literal["ManualStep", "Command", "AnalysisHold", "GreenUnavailable", "ReconcileErrors"]
HoldKind = Literal["PrometheusUnavailable", "Inconclusive", "ClockSkew"]
Measure = Literal["level", "slope"]
FinalPhase = Literal["RolledBack", "Aborted"]


class StatusModel(Model):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TrackValues(StatusModel):
    """One quantity measured on both tracks; None where there was no data (or NaN/Inf)."""

    green: float | None = None
    blue: float | None = None


class CheckStatus(StatusModel):
    """The last evaluation of one check, with the numbers an on-call engineer needs side by side.

    ``green``/``blue`` are the values of the threshold that decided (a level or a slope, see
    ``measure``); ``level`` and ``slope`` keep both kinds apart so that dashboards never plot bytes and
    bytes per second in one series.
    """

    name: str
    verdict: Verdict
    green: float | None = None
    blue: float | None = None
    threshold: str = ""
    samples: int = 0
    message: str = ""
    outage: bool = Field(default=False, description="Inconclusive because Prometheus was unreachable or erroring.")
    evaluated_at: datetime | None = None
    unit: str = Field(
        default="", description="Base unit of the values: seconds, ratio, bytes, count, or number (custom queries)."
    )
    measure: Measure = Field(default="level", description="Whether green and blue are levels or slopes (per second).")
    level: TrackValues | None = Field(default=None, description="Each track's level over the window, in unit.")
    slope: TrackValues | None = Field(
        default=None, description="Each track's trend in unit per second, when the check has a slope threshold."
    )


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


class SpecFingerprint(StatusModel):
    """Short hashes of the spec parts a rollout in flight depends on, to tell which part an edit changed.

    ``steps`` and ``analysis`` edits are absorbed with defined semantics (README "Edits mid-rollout");
    ``routing`` and ``tracks`` edits while green holds traffic are refused: the old router may still
    send green its share, and nothing here could take it back.
    """

    steps: str = ""
    analysis: str = ""
    tracks: str = ""


class AppliedRouting(StatusModel):
    """The router greenlane steers for this rollout, as recorded when it first moved traffic.

    An edit of ``spec.trafficRouting`` (or of the Services it names) takes effect only once green is back
    at 0% or promoted: until then greenlane keeps steering, reading back and (on rollback or deletion)
    emptying the object that actually carries green's share, so an edit can never strand traffic.
    """

    traffic_routing: TrafficRouting
    blue_service: DnsLabel | None = None
    green_service: DnsLabel | None = None
    blue_deployment: DnsLabel
    green_deployment: DnsLabel

    @classmethod
    def of(cls, spec: RolloutSpec) -> AppliedRouting:
        """The routing ``spec`` asks for."""
        return cls(
            traffic_routing=spec.traffic_routing,
            blue_service=spec.blue.service,
            green_service=spec.green.service,
            blue_deployment=spec.blue.deployment,
            green_deployment=spec.green.deployment,
        )


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
    full_promotion: bool = Field(
        default=False, description="A promote --full command skipped the remaining steps and their analysis."
    )
    green_unavailable_since: datetime | None = Field(
        default=None, description="Since when green has had fewer available replicas than desired while active."
    )
    reconcile_errors_since: datetime | None = Field(
        default=None, description="Since when every reconcile has failed (cleared by the first success)."
    )
    routing: AppliedRouting | None = Field(
        default=None, description="The router in effect; a spec edit takes over when no traffic is at stake."
    )
    spec_fingerprint: SpecFingerprint | None = Field(
        default=None, description="Which spec the progress above was made under; tells what an edit changed."
    )
    checks: list[CheckStatus] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)

    @computed_field(  # type: ignore[prop-decorator]
        description="1-based number of the step in progress: what the CLI, events, metrics and kubectl show."
    )
    @property
    def step_number(self) -> int:
        return self.current_step + 1
