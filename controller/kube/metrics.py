"""The operator's own Prometheus metrics, held in one object with its own registry.

Why a class and not module globals: tests (and two controllers in one test process) each get a
fresh registry without cross-talk, and the operator passes it in explicitly like every other
dependency. The alert rules in ``config/prometheus`` and the Grafana dashboard refer to these names
only; a test fails when they mention a ``greenlane_*`` series that is not defined here.

Everything per rollout is labelled ``namespace`` and ``rollout``. Counters are created at 0 the first
time a rollout (or sink) is seen, so ``increase()`` sees the first rollback too (a series born at 1
shows no increase). A check's level and its slope are separate series (``greenlane_check_level``,
``greenlane_check_slope``), each labelled with the check's ``unit``, so a panel never plots bytes and
bytes per second on one line. Series of a deleted rollout, or of a
check removed from its spec, are removed rather than left frozen at their last value, so alerts do
not fire on ghosts. Values we do not have (no data) are removed, not exported as NaN, because NaN
breaks ``max``/``>`` comparisons in alerts and leaves gaps that look like zero in dashboards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from controller import __version__
from controller.model.notify import SinkType
from controller.model.status import PHASES, CheckStatus, RolloutStatus, TrackValues

VERDICTS: tuple[str, ...] = ("Pass", "Fail", "Inconclusive")
TRACKS: tuple[str, ...] = ("green", "blue")
RECONCILE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ROLLOUT = ("namespace", "rollout")
SINKS: tuple[SinkType, ...] = ("slack", "teams", "webhook")
NOTIFICATION_RESULTS = ("sent", "failed", "dropped", "refused")

RolloutKey = tuple[str, str]


class OperatorMetrics:
    """Every ``greenlane_*`` metric of the operator; ``registry`` is what ``/metrics`` serves."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.build_info = Gauge(
            "greenlane_build_info", "Always 1; the running greenlane version.", ["version"], registry=r
        )
        self.leader = Gauge("greenlane_leader", "1 while this replica holds the leader-election Lease.", registry=r)
        self.phase = Gauge(
            "greenlane_rollout_phase",
            "1 for the rollout's current phase, 0 for the others.",
            [*ROLLOUT, "phase"],
            registry=r,
        )
        self.green_weight = Gauge(
            "greenlane_rollout_green_weight_percent",
            "Green's traffic share as last verified on the router, 0..100.",
            ROLLOUT,
            registry=r,
        )
        self.step = Gauge(
            "greenlane_rollout_step",
            "1-based number of the step in progress, as the CLI and events show it.",
            ROLLOUT,
            registry=r,
        )
        self.last_transition = Gauge(
            "greenlane_rollout_last_transition_timestamp_seconds",
            "Unix time of the rollout's last progress: step verified, phase or condition change.",
            ROLLOUT,
            registry=r,
        )
        self.check_level = Gauge(
            "greenlane_check_level",
            "Last measured level of a check per track, in the check's base unit (label unit).",
            [*ROLLOUT, "check", "track", "unit"],
            registry=r,
        )
        self.check_slope = Gauge(
            "greenlane_check_slope",
            "Last measured trend of a check per track, in the check's base unit per second (label unit).",
            [*ROLLOUT, "check", "track", "unit"],
            registry=r,
        )
        self.check_verdict = Gauge(
            "greenlane_check_verdict",
            "1 for the check's last verdict (Pass, Fail, Inconclusive), 0 for the others.",
            [*ROLLOUT, "check", "verdict"],
            registry=r,
        )
        self.reconcile_duration = Histogram(
            "greenlane_reconcile_duration_seconds",
            "Wall time of one reconcile, by result (ok, error).",
            ["result"],
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.rollbacks = Counter(
            "greenlane_rollbacks_total",
            "Rollbacks to blue completed (router verified at green 0); 0 from the first sight of a rollout.",
            ROLLOUT,
            registry=r,
        )
        self.rollback_info = Gauge(
            "greenlane_rollout_rollback_info",
            "1 while status.rollback is set, labelled with its reason and failing check (empty when none).",
            [*ROLLOUT, "reason", "check"],
            registry=r,
        )
        self.notifications = Counter(
            "greenlane_notifications_total",
            "Notifications by sink (slack, teams, webhook) and result (sent, failed, dropped, refused).",
            ["sink", "result"],
            registry=r,
        )
        self.query_errors = Counter(
            "greenlane_prometheus_query_errors_total",
            "Prometheus queries that failed (unreachable, HTTP or PromQL error).",
            ROLLOUT,
            registry=r,
        )
        self.reconcile_errors = Counter(
            "greenlane_reconcile_errors_total",
            "Reconciles of a rollout that failed (the error is in its Reconciled condition and events).",
            ROLLOUT,
            registry=r,
        )
        self.build_info.labels(__version__).set(1)
        for sink in SINKS:
            for result in NOTIFICATION_RESULTS:
                self.notifications.labels(sink, result)
        self._checks: dict[RolloutKey, dict[str, str]] = {}
        self._rollback_done: dict[RolloutKey, datetime | None] = {}
        self._rollback_labels: dict[RolloutKey, tuple[str, str]] = {}

    def set_leader(self, leading: bool) -> None:
        self.leader.set(1 if leading else 0)

    def observe_status(self, namespace: str, rollout: str, status: RolloutStatus) -> None:
        """Mirror one rollout's status; call after every reconcile that read or wrote it."""
        for phase in PHASES:
            self.phase.labels(namespace, rollout, phase).set(1 if phase == status.phase else 0)
        self.green_weight.labels(namespace, rollout).set(status.weight)
        self.step.labels(namespace, rollout).set(status.step_number)
        transition = last_transition(status)
        if transition is not None:
            self.last_transition.labels(namespace, rollout).set(transition.timestamp())
        self._observe_checks((namespace, rollout), status.checks)
        self._observe_rollback((namespace, rollout), status)

    def _observe_checks(self, key: RolloutKey, checks: Iterable[CheckStatus]) -> None:
        seen: dict[str, str] = {}
        before = self._checks.get(key, {})
        for check in checks:
            unit = check.unit or "number"
            if check.name in before and before[check.name] != unit:
                self._forget_check(key, check.name, before[check.name])
            seen[check.name] = unit
            for verdict in VERDICTS:
                self.check_verdict.labels(*key, check.name, verdict).set(1 if verdict == check.verdict else 0)
            level = check.level or (None if check.measure == "slope" else _pair(check))
            slope = check.slope or (_pair(check) if check.measure == "slope" else None)
            for gauge, values in ((self.check_level, level), (self.check_slope, slope)):
                for track in TRACKS:
                    value = None if values is None else getattr(values, track)
                    if value is None:
                        _remove(gauge, *key, check.name, track, unit)
                    else:
                        gauge.labels(*key, check.name, track, unit).set(value)
        for gone in before.keys() - seen.keys():
            self._forget_check(key, gone, before[gone])
        self._checks[key] = seen

    def _observe_rollback(self, key: RolloutKey, status: RolloutStatus) -> None:
        """Count a rollback when a new completion appears in status; the first sight only creates the 0."""
        record = status.rollback
        done = record.completed_at if record is not None and record.final_phase == "RolledBack" else None
        if key not in self._rollback_done:
            self.rollbacks.labels(*key)
        elif done is not None and done != self._rollback_done[key]:
            self.rollbacks.labels(*key).inc()
        self._rollback_done[key] = done
        labels = (record.reason, record.check or "") if record is not None else None
        previous = self._rollback_labels.pop(key, None)
        if previous is not None and previous != labels:
            _remove(self.rollback_info, *key, *previous)
        if labels is not None:
            self.rollback_info.labels(*key, *labels).set(1)
            self._rollback_labels[key] = labels

    def record_notification(self, sink: str, result: str) -> None:
        self.notifications.labels(sink, result).inc()

    def record_reconcile_error(self, namespace: str, rollout: str) -> None:
        self.reconcile_errors.labels(namespace, rollout).inc()

    def record_query_error(self, namespace: str, rollout: str) -> None:
        self.query_errors.labels(namespace, rollout).inc()

    def observe_reconcile(self, seconds: float, *, ok: bool) -> None:
        """The caller measures (with its injected clock); this only records."""
        self.reconcile_duration.labels("ok" if ok else "error").observe(seconds)

    def forget_rollout(self, namespace: str, rollout: str) -> None:
        """Drop every series of a deleted rollout, its counters too: with thousands of rollouts created and
        deleted, series kept for ghosts are memory that only grows (Prometheus keeps their history)."""
        key = (namespace, rollout)
        for counter in (self.rollbacks, self.reconcile_errors, self.query_errors):  # issue 15: bounded memory
            _remove(counter, *key)
        for phase in PHASES:
            _remove(self.phase, *key, phase)
        for gauge in (self.green_weight, self.step, self.last_transition):
            _remove(gauge, *key)
        for check, unit in self._checks.pop(key, {}).items():
            self._forget_check(key, check, unit)
        labels = self._rollback_labels.pop(key, None)
        if labels is not None:
            _remove(self.rollback_info, *key, *labels)
        self._rollback_done.pop(key, None)

    def _forget_check(self, key: RolloutKey, check: str, unit: str) -> None:
        for verdict in VERDICTS:
            _remove(self.check_verdict, *key, check, verdict)
        for track in TRACKS:
            _remove(self.check_level, *key, check, track, unit)
            _remove(self.check_slope, *key, check, track, unit)

    def exposition(self) -> bytes:
        """The text format served on ``/metrics``."""
        return generate_latest(self.registry)

    def sample_names(self) -> frozenset[str]:
        """Every series name this registry can expose (``_total``, ``_bucket``… included)."""
        names: set[str] = set()
        suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
        for family in self.registry.collect():
            names.update(family.name + s for s in suffixes.get(family.type, ("",)))
        return frozenset(names)


def last_transition(status: RolloutStatus) -> datetime | None:
    """The latest timestamp in status that marks progress or a change of state."""
    stamps = [status.step_started_at, status.promoted_at, status.rollback.at if status.rollback else None]
    stamps += [c.last_transition_time for c in status.conditions]
    present = [s for s in stamps if s is not None]
    return max(present) if present else None


def _pair(check: CheckStatus) -> TrackValues:
    return TrackValues(green=check.green, blue=check.blue)


def _remove(metric: Gauge | Counter, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never set: nothing to remove
        metric.remove(*labels)
