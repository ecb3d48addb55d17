"""The operator's metrics: what a scrape shows for a rollout's status, and that stale series go away."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from controller import __version__
from controller.kube.metrics import OperatorMetrics
from controller.model.status import CheckStatus, Condition, RollbackRecord, RolloutStatus

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2025, 1, 1, 12, 5, tzinfo=UTC)


def scrape(metrics: OperatorMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def status(**changes: object) -> RolloutStatus:
    base = RolloutStatus(
        phase="Progressing",
        current_step=1,
        weight=25,
        step_started_at=T0,
        checks=[
            CheckStatus(name="p99-latency", verdict="Pass", green=0.21, blue=0.2),
            CheckStatus(name="errors", verdict="Inconclusive", green=None, blue=0.001),
        ],
    )
    return base.model_copy(update=changes)


def test_status_becomes_phase_weight_step_and_checks() -> None:
    metrics = OperatorMetrics()
    metrics.observe_status("shop", "checkout", status())
    s = scrape(metrics)
    r = {"namespace": "shop", "rollout": "checkout"}
    assert value(s, "greenlane_rollout_phase", **r, phase="Progressing") == 1
    assert value(s, "greenlane_rollout_phase", **r, phase="RolledBack") == 0
    assert value(s, "greenlane_rollout_green_weight_percent", **r) == 25
    assert value(s, "greenlane_rollout_step", **r) == 1
    assert value(s, "greenlane_rollout_last_transition_timestamp_seconds", **r) == T0.timestamp()
    assert value(s, "greenlane_check_value", **r, check="p99-latency", track="green") == 0.21
    assert value(s, "greenlane_check_value", **r, check="p99-latency", track="blue") == 0.2
    assert value(s, "greenlane_check_value", **r, check="errors", track="green") is None, "no data is no series"
    assert value(s, "greenlane_check_verdict", **r, check="errors", verdict="Inconclusive") == 1
    assert value(s, "greenlane_check_verdict", **r, check="errors", verdict="Pass") == 0


def test_rollback_counts_and_latest_transition_wins() -> None:
    metrics = OperatorMetrics()
    rollback = RollbackRecord(reason="CheckFailed", check="errors", at=T1)
    rolled_back = status(
        phase="RolledBack",
        weight=0,
        rollback=rollback,
        conditions=[Condition(type="Progressing", status="False", last_transition_time=T0)],
    )
    metrics.observe_status("shop", "checkout", rolled_back)
    metrics.record_rollback("shop", "checkout", "CheckFailed", "errors")
    metrics.record_query_error("shop", "checkout")
    metrics.observe_reconcile(0.3, ok=True)
    metrics.observe_reconcile(2.0, ok=False)
    s = scrape(metrics)
    r = {"namespace": "shop", "rollout": "checkout"}
    assert value(s, "greenlane_rollout_last_transition_timestamp_seconds", **r) == T1.timestamp()
    assert value(s, "greenlane_rollbacks_total", **r, reason="CheckFailed", check="errors") == 1
    assert value(s, "greenlane_prometheus_query_errors_total", **r) == 1
    assert value(s, "greenlane_reconcile_duration_seconds_count", result="error") == 1
    assert value(s, "greenlane_reconcile_duration_seconds_bucket", result="ok", le="0.5") == 1


def test_removed_checks_and_deleted_rollouts_leave_no_ghost_series() -> None:
    metrics = OperatorMetrics()
    metrics.observe_status("shop", "checkout", status())
    metrics.observe_status("shop", "checkout", status(checks=[CheckStatus(name="errors", verdict="Pass", green=0.0)]))
    s = scrape(metrics)
    assert not [k for k in s if ("check", "p99-latency") in k[1]]
    metrics.record_rollback("shop", "checkout", "Manual")
    metrics.forget_rollout("shop", "checkout")
    left = {name for name, labels in scrape(metrics) if ("rollout", "checkout") in labels}
    assert left == set(), "a deleted rollout's counters go too: with churn, kept ghosts are memory that only grows"


def test_each_instance_has_its_own_registry_and_reports_leadership() -> None:
    one, two = OperatorMetrics(), OperatorMetrics()
    one.set_leader(True)
    assert value(scrape(one), "greenlane_leader") == 1
    assert value(scrape(two), "greenlane_leader") == 0
    assert value(scrape(two), "greenlane_build_info", version=__version__) == 1
