"""The fixed list of event reasons, their type, and when each is emitted.

Reasons are part of the public interface: alerts, dashboards and ``kubectl get events
--field-selector reason=RolledBack`` depend on them, so they are a closed, documented set (the README's
"Events" table is checked against :data:`REASONS`). Each reason has one type, so a Warning always means
someone may need to look.
"""

from __future__ import annotations

from typing import Literal

EventType = Literal["Normal", "Warning"]
EventReason = Literal[
    "PreflightWaiting",
    "PreflightPassed",
    "DeploymentMissing",
    "PythonVersionMismatch",
    "InvalidSpec",
    "WeightSet",
    "WeightDrift",
    "RouterUnavailable",
    "StepCompleted",
    "ManualGate",
    "PromoteAccepted",
    "AnalysisFailed",
    "AnalysisInconclusive",
    "PrometheusUnavailable",
    "AnalysisRecovered",
    "RollingBack",
    "RolledBack",
    "Aborted",
    "Promoted",
    "Paused",
    "Resumed",
    "Retried",
    "GreenTemplateChanged",
    "BlueScaledDown",
    "CommandIgnored",
    "CommandRejected",
    "PromoteFullAccepted",
    "SpecChanged",
    "GreenUnavailable",
    "GreenRecovered",
    "ClockSkew",
    "ReconcileFailed",
    "ReconcileRecovered",
    "Deleted",
    "DeletionForced",
]

REASONS: dict[str, tuple[EventType, str]] = {
    "PreflightWaiting": ("Normal", "preflight waits for replicas or for every pod to report python_info"),
    "PreflightPassed": ("Normal", "both Deployments available and on the expected Python; traffic may move"),
    "DeploymentMissing": ("Warning", "a Deployment named in the spec does not exist (phase Invalid)"),
    "PythonVersionMismatch": ("Warning", "a pod runs another Python than its track's expectPython"),
    "InvalidSpec": ("Warning", "the spec cannot be used; the message names the field (phase Invalid)"),
    "WeightSet": ("Normal", "a step's weight was read back from the router; its bake starts"),
    "WeightDrift": ("Warning", "the router shows another weight than greenlane set; it is re-asserted"),
    "RouterUnavailable": ("Warning", "the router's weight cannot be read; nothing advances"),
    "StepCompleted": ("Normal", "a step baked for its pause with its required passing evaluations"),
    "ManualGate": ("Normal", "a manual step's weight is verified; waiting for promote"),
    "PromoteAccepted": ("Normal", "promote lifted the current step's pause; it completes on its passes"),
    "AnalysisFailed": ("Warning", "an evaluation failed, below failureLimit"),
    "AnalysisInconclusive": ("Warning", "an evaluation was inconclusive (not an outage); the step holds"),
    "PrometheusUnavailable": ("Warning", "Prometheus unreachable or erroring; the weight is frozen"),
    "AnalysisRecovered": ("Normal", "a conclusive evaluation ended a hold"),
    "RollingBack": ("Warning", "rollback decided; green's weight set to 0, the message says why"),
    "RolledBack": ("Warning", "the router shows green at 0 after a rollback"),
    "Aborted": ("Warning", "the router shows green at 0 after an abort command"),
    "Promoted": ("Normal", "the last step completed; green serves 100%"),
    "Paused": ("Normal", "paused by a command or after maxHold with onHold: pause"),
    "Resumed": ("Normal", "a resume command continued a paused rollout"),
    "Retried": ("Normal", "a retry command restarted from step 1 at weight 0"),
    "GreenTemplateChanged": ("Normal", "green's pod template changed; the rollout restarts from step 1"),
    "BlueScaledDown": ("Normal", "blue scaled to 0, scaleDownBlueAfter after promotion"),
    "CommandIgnored": ("Warning", "a command does not apply in the current phase; the message says why"),
    "CommandRejected": ("Warning", "the command annotation could not be parsed; consumed without effect"),
    "PromoteFullAccepted": ("Warning", "promote --full: green goes to 100% skipping the remaining steps' bakes"),
    "SpecChanged": ("Normal", "the spec was edited mid-rollout; the message says what happens (README: Edits)"),
    "GreenUnavailable": ("Warning", "green lost available replicas while active; the step holds"),
    "GreenRecovered": ("Normal", "green's replicas are all available again"),
    "ClockSkew": ("Warning", "Prometheus' clock differs too much from the operator's; evaluations hold"),
    "ReconcileFailed": ("Warning", "a reconcile raised; weight frozen, retried with backoff; message has the error"),
    "ReconcileRecovered": ("Normal", "a reconcile succeeded after failures"),
    "Deleted": ("Normal", "the rollout is being deleted and traffic is on blue; the finalizer lets it go"),
    "DeletionForced": ("Warning", "the finalizer let go without a verified 0% (timeout or skip-finalizer)"),
}


def event_type(reason: EventReason) -> EventType:
    return REASONS[reason][0]
