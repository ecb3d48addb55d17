"""Applying one evaluation to the rollout: pass streaks, failure streaks, holds and analysis rollbacks.

- A pass adds to the pass streak and clears the failure streak.
- A fail adds to the failure streak and clears the pass streak; ``failureLimit`` in a row roll back, and
  a failing ``critical`` check rolls back at once.
- An outage or other inconclusive evaluation clears the pass streak but leaves the failure streak alone
  (no evidence either way), and holds the step: weight frozen, one Warning when the hold begins.
  Verdicts need evidence, so the first evaluations of a step are usually Inconclusive: while the
  step's pause has not elapsed that is gathering evidence, not a hold (no Warning, no ``maxHold`` clock);
  only checks still inconclusive once the pause is over hold the step.
- A hold that lasts ``maxHold`` pauses for a human, or rolls back with ``onHold: rollback``.
- While blue still serves traffic, each check's blue window is kept in ``status.baselines`` (the last
  one before the cutover is what relative checks compare with at 100%, when blue serves nothing).
"""

from __future__ import annotations

from controller.core.conditions import ANALYSIS_HEALTHY
from controller.core.draft import Draft, duration
from controller.core.events import EventReason
from controller.core.results import CheckResult
from controller.core.rollback import start_rollback
from controller.core.schedule import evaluation_due
from controller.core.skew import CLOCK_SYNCHRONIZED, skew_problem
from controller.core.verdicts import Assessment, assess, in_warmup, summary
from controller.model.status import Baseline, HoldKind


def absorb_evaluation(d: Draft) -> None:
    """Count the results passed in, if an evaluation was due; otherwise ignore them."""
    results = d.observations.results
    skewed = skew_problem(d.observations.clock_skew)
    if (results is None and skewed is None) or not evaluation_due(d.spec, d.status, d.now):
        return
    if skewed is not None:
        d.update(last_evaluation_at=d.now, consecutive_passes=0)
        d.condition(CLOCK_SYNCHRONIZED, "False", "ClockSkew", skewed)
        _start_hold(d, "ClockSkew", skewed)
        return
    if d.observations.clock_skew is not None:
        d.condition(CLOCK_SYNCHRONIZED, "True", "Synchronized", f"skew {d.observations.clock_skew:+.1f}s")
    assert results is not None
    warming = in_warmup(d.spec, d.status, d.now)
    assessment = assess(d.spec, results, warming, d.now)
    d.update(last_evaluation_at=d.now, checks=assessment.checks)
    keep_baselines(d, results)
    judgement = assessment.judgement
    if judgement == "pass":
        _passed(d)
    elif judgement in ("fail", "critical"):
        _failed(d, assessment)
    elif judgement == "warmup":
        d.update(consecutive_passes=0)
        d.condition(ANALYSIS_HEALTHY, "Unknown", "WarmingUp", "level checks set aside during warm-up")
    elif judgement == "inconclusive" and _baking(d):
        _gathering(d, assessment)
    else:
        d.update(consecutive_passes=0)
        _hold(d, assessment)


def keep_baselines(d: Draft, results: tuple[CheckResult, ...]) -> None:
    """Keep each check's latest well-measured blue window while blue serves traffic (bounded: one per check)."""
    names = {c.name for c in d.spec.analysis.checks}
    kept: dict[str, Baseline] = {b.check: b for b in d.status.baselines if b.check in names}
    if d.status.weight < 100:
        for r in results:
            if r.baseline_candidate is not None and r.name in names:
                kept[r.name] = r.baseline_candidate
    ordered = [kept[c.name] for c in d.spec.analysis.checks if c.name in kept]
    if ordered != d.status.baselines:
        d.update(baselines=ordered)


def _baking(d: Draft) -> bool:
    """The step's pause has not elapsed: too little evidence is expected, not a reason to hold."""
    status = d.status
    if status.pause_lifted or status.step_started_at is None:
        return False
    return d.since(status.step_started_at) < d.step.pause


def _gathering(d: Draft, assessment: Assessment) -> None:
    d.update(consecutive_passes=0)
    if d.status.hold_kind == "PrometheusUnavailable":
        _end_hold(d)
    lead = assessment.lead
    detail = lead.message if lead else summary(assessment.checks)
    d.condition(ANALYSIS_HEALTHY, "Unknown", "GatheringEvidence", detail)


def _passed(d: Draft) -> None:
    passes = d.status.consecutive_passes + 1
    d.update(consecutive_passes=passes, consecutive_failures=0)
    _end_hold(d)
    required = d.spec.analysis.required_passes
    d.condition(ANALYSIS_HEALTHY, "True", "Passing", f"all checks pass ({min(passes, required)}/{required})")


def _failed(d: Draft, assessment: Assessment) -> None:
    failures = d.status.consecutive_failures + 1
    limit = d.spec.analysis.failure_limit
    d.update(consecutive_failures=failures, consecutive_passes=0)
    _end_hold(d, announce=False)
    lead = assessment.lead
    assert lead is not None  # a failing judgement always names its check
    more = f" (+{assessment.failing - 1} more failing)" if assessment.failing > 1 else ""
    d.condition(ANALYSIS_HEALTHY, "False", "Failing", lead.message + more)
    if assessment.judgement == "critical":
        cause = f"{lead.message}{more} (critical check, first failure)"
        start_rollback(d, "CriticalCheckFailed", cause, lead)
    elif failures >= limit:
        start_rollback(d, "AnalysisFailed", f"{lead.message}{more} ({failures}/{limit} failures)", lead)
    else:
        d.emit("AnalysisFailed", f"At {d.where()}: {lead.message}{more} ({failures}/{limit} failures)")


def _hold(d: Draft, assessment: Assessment) -> None:
    kind: HoldKind = "PrometheusUnavailable" if assessment.judgement == "outage" else "Inconclusive"
    lead = assessment.lead
    detail = lead.message if lead else summary(assessment.checks)
    d.condition(ANALYSIS_HEALTHY, "False", kind, detail)
    _start_hold(d, kind, detail)


HOLD_EVENTS: dict[str, EventReason] = {
    "PrometheusUnavailable": "PrometheusUnavailable",
    "Inconclusive": "AnalysisInconclusive",
    "ClockSkew": "ClockSkew",
}
HOLD_WORDS = {
    "PrometheusUnavailable": "Prometheus unavailable",
    "Inconclusive": "analysis inconclusive",
    "ClockSkew": "clock skew",
}


def _start_hold(d: Draft, kind: HoldKind, detail: str) -> None:
    """Freeze the weight; one Warning when a hold (of this kind) begins; maxHold counts from the first."""
    if d.status.hold_kind == kind:
        return
    since = d.status.hold_since or d.now
    d.update(hold_kind=kind, hold_since=since)
    limit = duration(d.spec.analysis.max_hold)
    then = "pause" if d.spec.analysis.on_hold == "pause" else "roll back"
    d.emit(HOLD_EVENTS[kind], f"Holding green at {d.status.weight}%: {detail}; {then} after {limit}")


def _end_hold(d: Draft, announce: bool = True) -> None:
    if d.status.hold_since is None:
        return
    held = duration(d.since(d.status.hold_since))
    kind = HOLD_WORDS.get(d.status.hold_kind or "", "inconclusive data")
    d.update(hold_since=None, hold_kind=None)
    if announce:
        d.emit("AnalysisRecovered", f"Analysis conclusive again at {d.where()} after {held} of {kind}")


def escalate_hold(d: Draft) -> None:
    """After ``maxHold`` of outage or inconclusive data: pause for a human, or roll back if configured."""
    status = d.status
    if status.phase != "Progressing" or status.hold_since is None:
        return
    held = d.since(status.hold_since)
    limit = d.spec.analysis.max_hold
    if held < limit:
        return
    what = HOLD_WORDS.get(status.hold_kind or "", "analysis inconclusive")
    cause = f"{what} for {duration(held)} (maxHold {duration(limit)}, onHold {d.spec.analysis.on_hold})"
    if d.spec.analysis.on_hold == "rollback":
        start_rollback(d, status.hold_kind or "Inconclusive", cause)
        return
    d.update(phase="Paused", pause_reason="AnalysisHold", message=f"Paused at {d.where()}: {cause}")
    d.emit("Paused", f"Paused at {d.where()}: {cause}; `greenlane resume` to continue, `abort` to roll back")
