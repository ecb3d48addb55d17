"""The operator's own Prometheus metrics, held in one object with its own registry.

Why a class and not module globals: tests (and two controllers in one test process) each get a
fresh registry without cross-talk, and the operator passes it in explicitly like every other
dependency. The alert rules in ``config/prometheus`` and the Grafana dashboard refer to these names
only; a test fails when they mention a ``greenlane_*`` series that is not defined here.

Everything per rollout is labelled ``namespace`` and ``rollout``. Series of a deleted rollout, or of a
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
from controller.model.status import PHASES, CheckStatus, RolloutStatus

VERDICTS: tuple[str, ...] = ("Pass", "Fail", "Inconclusive")
TRACKS: tuple[str, ...] = ("green", "blue")
RECONCILE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ROLLOUT = ("namespace", "rollout")

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
            "greenlane_rollout_step", "Index into spec.steps of the step in progress.", ROLLOUT, registry=r
        )
        self.last_transition = Gauge(
            "greenlane_rollout_last_transition_timestamp_seconds",
            "Unix time of the rollout's last progress: step verified, phase or condition change.",
            ROLLOUT,
            registry=r,
        )
        self.check_value = Gauge(
            "greenlane_check_value",
            "Last measured value of a check per track (units of the check's query).",
            [*ROLLOUT, "check", "track"],
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
            "Rollbacks to blue, by reason and failing check (empty when none).",
            [*ROLLOUT, "reason", "check"],
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
        self._checks: dict[RolloutKey, set[str]] = {}
        self._counted: dict[RolloutKey, set[tuple[Counter, tuple[str, ...]]]] = {}  # issue 15: forgotten on delete

    def set_leader(self, leading: bool) -> None:
        self.leader.set(1 if leading else 0)

    def observe_status(self, namespace: str, rollout: str, status: RolloutStatus) -> None:
        """Mirror one rollout's status; call after every reconcile that read or wrote it."""
        for phase in PHASES:
            self.phase.labels(namespace, rollout, phase).set(1 if phase == status.phase else 0)
        self.green_weight.labels(namespace, rollout).set(status.weight)
        self.step.labels(namespace, rollout).set(status.current_step)
        transition = last_transition(status)
        if transition is not None:
            self.last_transition.labels(namespace, rollout).set(transition.timestamp())
        self._observe_checks((namespace, rollout), status.checks)

    def _observe_checks(self, key: RolloutKey, checks: Iterable[CheckStatus]) -> None:
        seen: set[str] = set()
        for check in checks:
            seen.add(check.name)
            for verdict in VERDICTS:
                self.check_verdict.labels(*key, check.name, verdict).set(1 if verdict == check.verdict else 0)
            for track, value in (("green", check.green), ("blue", check.blue)):
                if value is None:
                    _remove(self.check_value, *key, check.name, track)
                else:
                    self.check_value.labels(*key, check.name, track).set(value)
        for gone in self._checks.get(key, set()) - seen:
            self._forget_check(key, gone)
        self._checks[key] = seen

    def record_rollback(self, namespace: str, rollout: str, reason: str, check: str | None = None) -> None:
        self._count(self.rollbacks, namespace, rollout, reason, check or "")

    def record_reconcile_error(self, namespace: str, rollout: str) -> None:
        self._count(self.reconcile_errors, namespace, rollout)

    def record_query_error(self, namespace: str, rollout: str) -> None:
        self._count(self.query_errors, namespace, rollout)

    def _count(self, counter: Counter, namespace: str, rollout: str, *more: str) -> None:
        labels = (namespace, rollout, *more)
        counter.labels(*labels).inc()
        self._counted.setdefault((namespace, rollout), set()).add((counter, labels))

    def observe_reconcile(self, seconds: float, *, ok: bool) -> None:
        """The caller measures (with its injected clock); this only records."""
        self.reconcile_duration.labels("ok" if ok else "error").observe(seconds)

    def forget_rollout(self, namespace: str, rollout: str) -> None:
        """Drop every series of a deleted rollout, counters included: with thousands of rollouts created and
        deleted, series kept for ghosts are memory that only grows (Prometheus keeps their history)."""
        key = (namespace, rollout)
        for counter, labels in self._counted.pop(key, set()):
            with contextlib.suppress(KeyError):
                counter.remove(*labels)
        for phase in PHASES:
            _remove(self.phase, *key, phase)
        for gauge in (self.green_weight, self.step, self.last_transition):
            _remove(gauge, *key)
        for check in self._checks.pop(key, set()):
            self._forget_check(key, check)

    def _forget_check(self, key: RolloutKey, check: str) -> None:
        for verdict in VERDICTS:
            _remove(self.check_verdict, *key, check, verdict)
        for track in TRACKS:
            _remove(self.check_value, *key, check, track)

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


def _remove(metric: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never set: nothing to remove
        metric.remove(*labels)
