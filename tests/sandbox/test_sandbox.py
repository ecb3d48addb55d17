"""The whole sandbox, shared by this module: real Prometheus sees both tracks with the labels the
analysis templates rely on, HAProxy weights steer the load, faults show up in Prometheus, and
Prometheus can go away and come back."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator

import pytest

from controller.routing.haproxy import HaproxyRuntime
from controller.sandbox import FaultSettings, Sandbox, SandboxConfig
from controller.sandbox.servers.haproxy import BACKEND, BLUE_SERVER, GREEN_SERVER
from tests.sandbox.helpers import prom_query, prom_value, require, wait_until

pytestmark = [pytest.mark.servers, pytest.mark.e2e, pytest.mark.prometheus]
SCRAPE_WAIT_S = 15.0
DRAIN_WAIT_S = 30.0


@pytest.fixture(scope="module")
def sandbox(server_binaries: object, python311: object, python312: object) -> Iterator[Sandbox]:
    sb = Sandbox(SandboxConfig(load_rps=40))
    require(sb.start)
    try:
        yield sb
    finally:
        sb.stop()


def _pod_regex(deployment: str) -> str:
    return rf"{deployment}-[a-z0-9]{{6,10}}-[a-z0-9]{{5}}"


def test_tracks_run_the_expected_interpreters(sandbox: Sandbox) -> None:
    assert sandbox.blue.python_version.startswith("3.11.")
    assert sandbox.green.python_version.startswith("3.12.")
    assert (sandbox.blue.deployment, sandbox.green.deployment) == ("checkout", "checkout-py312")
    assert re.fullmatch(_pod_regex("checkout"), sandbox.blue.pod)
    assert re.fullmatch(_pod_regex("checkout-py312"), sandbox.green.pod)
    assert sandbox.startup_seconds < 60


def test_prometheus_sees_python_info_per_pod_with_k8s_labels(sandbox: Sandbox) -> None:
    result = wait_until(
        lambda: prom_query(sandbox.prometheus_url, 'python_info{namespace="sandbox"}'),
        lambda r: len(r) == 2,
        timeout_s=SCRAPE_WAIT_S,
        what="python_info from both apps",
    )
    by_pod = {s["metric"]["pod"]: s["metric"] for s in result}
    assert by_pod[sandbox.blue.pod]["version"] == sandbox.blue.python_version
    assert by_pod[sandbox.green.pod]["version"] == sandbox.green.python_version
    assert by_pod[sandbox.green.pod]["deployment"] == "checkout-py312"
    # The exact pod regex of blue must not catch green although the names share a prefix.
    blue_only = prom_query(sandbox.prometheus_url, f'python_info{{pod=~"{_pod_regex("checkout")}"}}')
    assert [s["metric"]["pod"] for s in blue_only] == [sandbox.blue.pod]


def test_request_series_exist_for_both_tracks_once_green_gets_traffic(sandbox: Sandbox) -> None:
    sandbox.router().set_weight(50)
    query = 'sum by (pod) (increase(http_requests_total{namespace="sandbox",status="200"}[10s]))'
    result = wait_until(
        lambda: [s for s in prom_query(sandbox.prometheus_url, query) if float(s["value"][1]) > 0],
        lambda r: len(r) == 2,
        timeout_s=SCRAPE_WAIT_S,
        what="request rates for both pods",
    )
    assert {s["metric"]["pod"] for s in result} == {sandbox.blue.pod, sandbox.green.pod}
    buckets = prom_query(
        sandbox.prometheus_url, f'http_request_duration_seconds_bucket{{pod="{sandbox.green.pod}",le="0.01"}}'
    )
    assert len(buckets) == 1


def test_db_connections_per_application_name_reach_prometheus(sandbox: Sandbox) -> None:
    query = 'sum by (application_name) (greenlane_pg_connections_count{namespace="sandbox"})'
    counts = wait_until(
        lambda: {
            s["metric"]["application_name"]: float(s["value"][1]) for s in prom_query(sandbox.prometheus_url, query)
        },
        lambda c: c.keys() >= {"checkout", "checkout-py312"},
        timeout_s=SCRAPE_WAIT_S,
        what="connection counts for both deployments",
    )
    assert 1 <= counts["checkout"] <= 4
    assert 1 <= counts["checkout-py312"] <= 4


def _open_sessions(sandbox: Sandbox, server: str) -> int:
    """Requests HAProxy has open on ``server`` right now (``show stat``'s ``scur``)."""
    header, *rows = HaproxyRuntime(sandbox.haproxy_socket).command("show stat").lstrip("# ").splitlines()
    columns = header.split(",")
    for row in (r.split(",") for r in rows):
        if len(row) == len(columns) and row[0] == BACKEND and row[1] == server:
            return int(row[columns.index("scur")])
    raise AssertionError(f"HAProxy has no server {BACKEND}/{server}")


def _drain(sandbox: Sandbox, percent: int) -> None:
    """Wait until requests routed under the previous weights can no longer reach the counters.

    First HAProxy has none left open on a server the new weights give nothing; then the load generator
    completes as many further requests as it can have in flight at once (two per worker), so answers already
    on their way back are counted before the reset. Both waits are hang guards, far above a request's timeout.
    """
    excluded = {0: GREEN_SERVER, 100: BLUE_SERVER}.get(percent)
    if excluded is not None:
        wait_until(
            lambda: _open_sessions(sandbox, excluded),
            lambda n: n == 0,
            timeout_s=DRAIN_WAIT_S,
            what=f"HAProxy to finish the requests it had sent to {excluded}",
            every_s=0.05,
        )
    load = sandbox.load
    completed = load.stats().sent
    wait_until(
        load.stats,
        lambda s: s.sent >= completed + 2 * load.workers,
        timeout_s=DRAIN_WAIT_S,
        what=f"{2 * load.workers} more load-generator requests after the weight change",
        every_s=0.05,
    )


def _split_after(sandbox: Sandbox, percent: int, requests: int = 80) -> dict[str, int]:
    """Traffic served per deployment for ``requests`` load-generator requests at ``percent`` green."""
    assert sandbox.router().set_weight(percent) == percent
    _drain(sandbox, percent)
    sandbox.load.stats(reset=True)
    stats = wait_until(
        sandbox.load.stats,
        lambda s: s.sent >= requests,
        timeout_s=15,
        what=f"{requests} load-generator requests",
    )
    assert stats.failed == 0
    return dict(stats.by_deployment)


def test_haproxy_weights_steer_the_load(sandbox: Sandbox) -> None:
    assert "checkout-py312" not in _split_after(sandbox, 0)
    assert "checkout" not in _split_after(sandbox, 100)
    split = _split_after(sandbox, 25, requests=120)
    share = split.get("checkout-py312", 0) / sum(split.values())
    assert 0.15 <= share <= 0.35, split
    assert sandbox.router_spec()["backend"] == BACKEND


def test_green_errors_show_in_prometheus_and_blue_stays_clean(sandbox: Sandbox) -> None:
    sandbox.router().set_weight(50)
    sandbox.set_faults(FaultSettings(error_rate=0.5, fault_after_s=0))
    try:
        green = f'sum(increase(http_requests_total{{pod="{sandbox.green.pod}",status="500"}}[5s]))'
        wait_until(
            lambda: prom_value(sandbox.prometheus_url, green) or 0.0,
            lambda v: v > 0,
            timeout_s=SCRAPE_WAIT_S,
            what="green 500s in Prometheus",
        )
        blue = f'sum(http_requests_total{{pod="{sandbox.blue.pod}",status="500"}})'
        assert prom_value(sandbox.prometheus_url, blue) is None
    finally:
        sandbox.set_faults(FaultSettings())


def test_prometheus_outage_and_recovery_keep_history(sandbox: Sandbox) -> None:
    url = sandbox.prometheus_url
    stopped_at = time.time()
    sandbox.stop_prometheus()
    assert not sandbox.prometheus_running
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/-/ready", timeout=2)
    back_at = time.time()
    sandbox.start_prometheus()
    assert sandbox.prometheus_running
    assert sandbox.prometheus_url == url
    # History survived the restart: both pods' samples from the minute before the stop are still there. (Not
    # `python_info` now: on a busy machine a scrape that failed just before the stop marks that pod's series
    # stale until the next scrape after the restart.)
    before = prom_query(url, "count_over_time(python_info[60s])", at=stopped_at)
    assert len(before) == 2 and all(float(r["value"][1]) >= 1 for r in before), before
    wait_until(
        lambda: prom_value(url, f'timestamp(up{{pod="{sandbox.green.pod}"}})') or 0.0,
        lambda ts: ts > back_at,
        timeout_s=SCRAPE_WAIT_S,
        what="fresh scrapes after the restart",
    )


def test_green_db_connection_leak_shows_in_prometheus(sandbox: Sandbox) -> None:
    query = 'sum(greenlane_pg_connections_count{application_name="checkout-py312"})'
    sandbox.set_faults(FaultSettings(db_leak_per_min=600, fault_after_s=0))
    try:
        wait_until(
            lambda: prom_value(sandbox.prometheus_url, query) or 0.0,
            lambda n: n >= 10,
            timeout_s=SCRAPE_WAIT_S,
            what="10+ green connections",
        )
    finally:
        sandbox.set_faults(FaultSettings())
    blue_query = 'sum(greenlane_pg_connections_count{application_name="checkout"})'
    blue = prom_value(sandbox.prometheus_url, blue_query)
    assert blue is not None
    assert blue <= 4
