"""The operator's metrics: what a scrape shows for a rollout's status, and that stale series go away."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from controller import __version__
from controller.kube.metrics import OperatorMetrics
from controller.model.status import CheckStatus, Condition, RollbackRecord, RolloutStatus, TrackValues

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
            CheckStatus(name="p99-latency", verdict="Pass", green=0.21, blue=0.2, unit="seconds"),
            CheckStatus(name="errors", verdict="Inconclusive", green=None, blue=0.001, unit="ratio"),
            CheckStatus(
                name="memory",
                verdict="Fail",
                green=900.0,
                blue=10.0,
                unit="bytes",
                measure="slope",
                level=TrackValues(green=71_303_168.0, blue=40_000_000.0),
                slope=TrackValues(green=900.0, blue=10.0),
            ),
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
    assert value(s, "greenlane_rollout_step", **r) == 2, "1-based, like the CLI and events"
    assert value(s, "greenlane_rollout_last_transition_timestamp_seconds", **r) == T0.timestamp()
    latency = {**r, "check": "p99-latency", "unit": "seconds"}
    assert value(s, "greenlane_check_level", **latency, track="green") == 0.21
    assert value(s, "greenlane_check_level", **latency, track="blue") == 0.2
    assert value(s, "greenlane_check_level", **r, check="errors", track="green", unit="ratio") is None, "no data"
    memory = {**r, "check": "memory", "unit": "bytes"}
    assert value(s, "greenlane_check_level", **memory, track="green") == 71_303_168.0, "level stays a level"
    assert value(s, "greenlane_check_slope", **memory, track="green") == 900.0, "slope in its own series"
    assert value(s, "greenlane_check_slope", **latency, track="green") is None
    assert value(s, "greenlane_check_verdict", **r, check="errors", verdict="Inconclusive") == 1
    assert value(s, "greenlane_check_verdict", **r, check="errors", verdict="Pass") == 0


def test_the_first_rollback_is_seen_by_increase_and_latest_transition_wins() -> None:
    metrics = OperatorMetrics()
    r = {"namespace": "shop", "rollout": "checkout"}
    metrics.observe_status("shop", "checkout", status())
    assert value(scrape(metrics), "greenlane_rollbacks_total", **r) == 0, "a 0 exists before the first rollback"
    rollback = RollbackRecord(reason="AnalysisFailed", check="errors", at=T1, completed_at=T1)
    rolled_back = status(
        phase="RolledBack",
        weight=0,
        rollback=rollback,
        conditions=[Condition(type="Progressing", status="False", last_transition_time=T0)],
    )
    metrics.observe_status("shop", "checkout", rolled_back)
    metrics.observe_status("shop", "checkout", rolled_back)  # the same rollback seen again counts once
    metrics.record_query_error("shop", "checkout")
    metrics.observe_reconcile(0.3, ok=True)
    metrics.observe_reconcile(2.0, ok=False)
    s = scrape(metrics)
    assert value(s, "greenlane_rollout_last_transition_timestamp_seconds", **r) == T1.timestamp()
    assert value(s, "greenlane_rollbacks_total", **r) == 1
    assert value(s, "greenlane_rollout_rollback_info", **r, reason="AnalysisFailed", check="errors") == 1
    assert value(s, "greenlane_prometheus_query_errors_total", **r) == 1
    assert value(s, "greenlane_reconcile_duration_seconds_count", result="error") == 1
    assert value(s, "greenlane_reconcile_duration_seconds_bucket", result="ok", le="0.5") == 1
    restarted = OperatorMetrics()
    restarted.observe_status("shop", "checkout", rolled_back)
    assert value(scrape(restarted), "greenlane_rollbacks_total", **r) == 0, "a restart does not count it again"
    retried = status(rollback=None)
    metrics.observe_status("shop", "checkout", retried)
    assert (
        value(scrape(metrics), "greenlane_rollout_rollback_info", **r, reason="AnalysisFailed", check="errors") is None
    )


def test_notification_counters_exist_from_the_start() -> None:
    metrics = OperatorMetrics()
    assert value(scrape(metrics), "greenlane_notifications_total", sink="slack", result="sent") == 0
    metrics.record_notification("teams", "failed")
    assert value(scrape(metrics), "greenlane_notifications_total", sink="teams", result="failed") == 1


def test_removed_checks_and_deleted_rollouts_leave_no_ghost_series() -> None:
    metrics = OperatorMetrics()
    metrics.observe_status("shop", "checkout", status())
    metrics.observe_status(
        "shop", "checkout", status(checks=[CheckStatus(name="errors", verdict="Pass", green=0.0, unit="ratio")])
    )
    s = scrape(metrics)
    assert not [k for k in s if ("check", "p99-latency") in k[1]]
    metrics.forget_rollout("shop", "checkout")
    left = {name for name, labels in scrape(metrics) if ("rollout", "checkout") in labels}
    assert left == set(), "a deleted rollout's counters go too: with churn, kept ghosts are memory that only grows"


def test_each_instance_has_its_own_registry_and_reports_leadership() -> None:
    one, two = OperatorMetrics(), OperatorMetrics()
    one.set_leader(True)
    assert value(scrape(one), "greenlane_leader") == 1
    assert value(scrape(two), "greenlane_leader") == 0
    assert value(scrape(two), "greenlane_build_info", version=__version__) == 1
