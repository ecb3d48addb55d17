"""The fault scenarios of issue 4 judged by ``evaluate`` against a real, backfilled Prometheus."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from controller.analysis import PrometheusSource, default_pods_regex, evaluate, python_versions
from controller.core.results import CheckResult, overall
from controller.model.resource import BlueGreenRollout
from tests.analysis.prometheus_server import running
from tests.analysis.scenarios import BY_NAMESPACE, manifest
from tests.analysis.traces import ANCHOR, MIB

pytestmark = pytest.mark.prometheus


def run(
    source: PrometheusSource, namespace: str, checks: list[dict[str, Any]] | None = None, **kw: Any
) -> dict[str, CheckResult]:
    rollout = BlueGreenRollout.model_validate(manifest(BY_NAMESPACE[namespace], checks))
    results = evaluate(rollout.spec, source, namespace=namespace, at=kw.pop("at", ANCHOR), **kw)
    return {r.name: r for r in results}


def test_healthy_312_with_higher_flat_memory_passes(source: PrometheusSource) -> None:
    results = run(source, "shop")
    assert overall(list(results.values())) == "Pass", [r.message for r in results.values()]
    memory = results["memory"]
    assert memory.green is not None and memory.blue is not None
    assert 1.15 < memory.green / memory.blue < 1.30, memory.message  # higher (PEP 683), yet flat: passes


def test_memory_leak_fails_on_slope_over_blue(source: PrometheusSource) -> None:
    memory = run(source, "leak")["memory"]
    assert memory.verdict == "Fail"
    assert re.fullmatch(
        r"memory slope \+\d+\.\d MiB/h vs blue [+-][\d.]+ [KM]iB/h: \+\d+\.\d MiB/h over blue "
        r"\(\+[\d.]+ MiB/h\.\.\+[\d.]+ MiB/h, 99\.\d+%\), limit \+20\.0 MiB/h over blue; "
        r"green 480 vs blue 720 points in 30m",
        memory.message,
    ), memory.message
    assert memory.low is not None and memory.low > 20 * MIB / 3600 and memory.samples == 480
    assert memory.green is not None and 34 * MIB / 3600 < memory.green < 46 * MIB / 3600
    assert memory.threshold == "slope <= blue +20.0 MiB/h"


def test_db_connections_creeping_under_load_fail(source: PrometheusSource) -> None:
    db = run(source, "dbcreep")["db-connections"]
    assert db.verdict == "Fail", db.message
    assert "db-connections slope +" in db.message and "limit +20/h over blue" in db.message
    assert db.low is not None and db.low > 20 / 3600


def test_p99_latency_13x_blue_fails(source: PrometheusSource) -> None:
    latency = run(source, "slow")["p99-latency"]
    assert latency.verdict == "Fail"
    assert re.fullmatch(
        r"p99-latency 0\.\d+s vs blue 0\.3\d+s: 1\.[23]\dx \(1\.[1-3]\dx-[\d.]+x, 99\.\d+%\), limit 1\.10x; "
        r"green [\d,]+ vs blue [\d,]+ requests in 30m",
        latency.message,
    ), latency.message
    assert latency.samples > 10_000 and latency.low is not None and latency.low > 1.10


def test_error_spike_fails(source: PrometheusSource) -> None:
    errors = run(source, "errors")["errors"]
    assert errors.verdict == "Fail"
    assert errors.green is not None and errors.green > 0.03, errors.message
    assert errors.message.startswith("errors ") and "max 1%" in errors.message


def test_green_series_missing_while_serving_fails_naming_the_template(source: PrometheusSource) -> None:
    latency = run(source, "missing")["p99-latency"]
    assert latency.verdict == "Fail"
    assert "latency template found no series for green" in latency.message
    assert "http_request_duration_seconds_bucket" in latency.message


def test_green_without_traffic_is_inconclusive(source: PrometheusSource) -> None:
    results = run(source, "idle")
    assert results["p99-latency"].verdict == "Inconclusive"
    assert results["errors"].verdict == "Inconclusive"
    assert "green has no traffic" in results["p99-latency"].message
    assert overall(list(results.values())) == "Inconclusive"


def test_verified_weight_decides_serving(source: PrometheusSource) -> None:
    assert run(source, "idle", green_weight=25)["p99-latency"].verdict == "Fail"
    assert run(source, "missing", green_weight=0)["p99-latency"].verdict == "Inconclusive"


def test_wrong_python_version_fails_naming_the_pod(source: PrometheusSource) -> None:
    python = run(source, "wrongpy")["python"]
    wrong = BY_NAMESPACE["wrongpy"].green.pod_names()[1]
    assert python.verdict == "Fail"
    assert f"{wrong} (3.11.7)" in python.message and "1 of 2 green pods" in python.message


def test_prefix_colliding_deployments_are_kept_apart(source: PrometheusSource) -> None:
    scenario = BY_NAMESPACE["slow"]
    blue_versions = python_versions(source, "slow", default_pods_regex("slow"), ANCHOR)
    assert sorted(blue_versions) == sorted(scenario.blue.pod_names())
    assert set(blue_versions.values()) == {"3.11.7"}
    exact = run(source, "slow")["p99-latency"]
    naive = run(source, "slow", blue_pods="slow-.*")["p99-latency"]  # also matches slow-py312-… pods
    assert exact.blue is not None and naive.blue is not None and naive.blue > exact.blue


def test_pod_template_hash_selects_one_replicaset(source: PrometheusSource) -> None:
    green_pods = default_pods_regex("slow-py312", pod_template_hash="5c8d7f9b6")
    assert run(source, "slow", green_pods=green_pods)["p99-latency"].verdict == "Fail"
    other = default_pods_regex("slow-py312", pod_template_hash="6b7c8d9f4")
    assert run(source, "slow", green_pods=other)["p99-latency"].verdict == "Inconclusive"


def test_warmup_is_excluded(source: PrometheusSource) -> None:
    started = ANCHOR - BY_NAMESPACE["fresh"].green.started
    early = run(source, "fresh", at=started + 90, warmup_until=started + 60)
    assert early["memory"].verdict == "Inconclusive" and "after warm-up" in early["memory"].message
    slope_only = [{"name": "memory", "template": "memory", "maxSlopeOverBlue": "20Mi/h"}]
    ramp = run(source, "fresh", slope_only)["memory"]  # the startup ramp looks like growth
    later = run(source, "fresh", slope_only, warmup_until=started + 60)["memory"]
    assert ramp.green is not None and later.green is not None and later.green < ramp.green
    assert later.verdict != "Fail" and abs(later.green) < 5 * MIB / 3600, later.message


def test_short_window_trend_is_judged_from_its_whole_window(source: PrometheusSource) -> None:
    """A 2-minute window needs 2 minutes of data, not five: a young green is judged as soon as it has them."""
    started = ANCHOR - BY_NAMESPACE["fresh"].green.started
    short = [{"name": "memory", "template": "memory", "window": "2m", "maxSlopeOverBlue": "20Mi/h"}]
    judged = run(source, "fresh", short, at=started + 180, warmup_until=started + 60)["memory"]
    assert judged.green is not None and judged.low is not None and judged.high is not None, judged.message
    assert "slope" in judged.message and "vs blue" in judged.message
    young = run(source, "fresh", short, at=started + 90)["memory"]
    assert young.verdict == "Inconclusive" and "spans the 2m a trend needs" in young.message, young.message


def test_default_window_trend_still_needs_five_minutes(source: PrometheusSource) -> None:
    started = ANCHOR - BY_NAMESPACE["fresh"].green.started
    slope_only = [{"name": "memory", "template": "memory", "maxSlopeOverBlue": "20Mi/h"}]  # 30m window
    clipped = run(source, "fresh", slope_only, at=started + 300, warmup_until=started + 60)["memory"]
    assert clipped.verdict == "Inconclusive" and "only 240s of green data after warm-up, need 300s" in clipped.message
    young = run(source, "fresh", slope_only, at=started + 240)["memory"]
    assert young.verdict == "Inconclusive" and "spans the 5m a trend needs" in young.message, young.message
    old_enough = run(source, "fresh", slope_only, at=started + 330)["memory"]
    assert old_enough.green is not None and old_enough.low is not None, old_enough.message


def test_rejected_query_fails_naming_the_query_and_others_still_judged(source: PrometheusSource) -> None:
    checks = [
        {"name": "broken", "query": 'sum(rate(http_requests_total{pod=~"{{ pods }}"}[{{ window }}])', "max": 1},
        {"name": "errors", "template": "error-rate", "max": 0.01},
    ]
    results = run(source, "shop", checks)
    assert results["broken"].verdict == "Fail"
    assert "rejected the check's query" in results["broken"].message and "bad_data" in results["broken"].message
    assert results["errors"].verdict == "Pass"


def test_custom_query_must_give_one_series(source: PrometheusSource) -> None:
    checks = [{"name": "per-pod", "query": 'process_resident_memory_bytes{pod=~"{{ pods }}"}', "max": 1e12}]
    result = run(source, "shop", checks)["per-pod"]
    assert result.verdict == "Fail" and "returned 2 series" in result.message


def test_custom_query_with_slope(source: PrometheusSource) -> None:
    query = 'avg(process_resident_memory_bytes{namespace="{{ namespace }}",pod=~"{{ pods }}"})'
    checks = [{"name": "rss", "query": query, "maxSlopeOverBlue": "20Mi/h"}]
    assert run(source, "leak", checks)["rss"].verdict == "Fail"
    assert run(source, "shop", checks)["rss"].verdict == "Pass"


def test_prometheus_stopped_is_inconclusive_outage(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with running(data) as url:
        source = PrometheusSource(url, attempts=2, backoff=0.01)
        assert source.instant("vector(1)", ANCHOR)[0].value == 1.0
    results = run(source, "shop")
    assert all(r.verdict == "Inconclusive" and r.outage for r in results.values())
    assert "Prometheus unavailable" in results["memory"].message
