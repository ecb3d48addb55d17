"""The demo app on both real interpreters, against a real PostgreSQL: metrics, faults, pool."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator

import psycopg
import pytest

from controller.sandbox.app.faults import FaultSettings
from controller.sandbox.binaries import ServerBinaries
from controller.sandbox.processes import free_ports
from controller.sandbox.servers.apps import AppProcess, install_app, pod_name
from controller.sandbox.servers.postgres import PostgresServer
from controller.sandbox.venvs import AppVenv
from tests.sandbox.helpers import http_json, scrape, wait_until

pytestmark = [pytest.mark.servers, pytest.mark.e2e]
MINORS = ("3.11", "3.12")


@pytest.fixture(scope="module")
def postgres(server_binaries: ServerBinaries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    state = tmp_path_factory.mktemp("pg")  # 0700 under root's pytest dir: PostgresServer copes
    (port,) = free_ports(1)
    server = PostgresServer(server_binaries, data_dir=state / "data", log_dir=state, port=port)
    server.start()
    try:
        server.wait_ready(30)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def apps(
    postgres: PostgresServer, app_venvs: dict[str, AppVenv], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, AppProcess]]:
    state = tmp_path_factory.mktemp("apps")
    pythonpath = install_app(state)
    ports = free_ports(len(MINORS))
    started: dict[str, AppProcess] = {}
    try:
        for minor, port in zip(MINORS, ports, strict=True):
            deployment = f"app-py{minor.replace('.', '')}"
            app = AppProcess(
                python=app_venvs[minor].python,
                pythonpath=pythonpath,
                deployment=deployment,
                pod=pod_name(deployment),
                port=port,
                dsn=postgres.dsn,
                faults=FaultSettings(),
                log_dir=state,
            )
            app.start()
            started[minor] = app
        for app in started.values():
            app.wait_ready(30)
        yield started
    finally:
        for app in started.values():
            app.process.stop()


def _get(url: str, count: int = 1) -> list[int]:
    statuses = []
    for _ in range(count):
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                statuses.append(resp.status)
        except urllib.error.HTTPError as err:
            statuses.append(err.code)
    return statuses


def _requests(app: AppProcess, status: str) -> float:
    return scrape(f"{app.url}/metrics").get(("http_requests_total", (("status", status),)), 0.0)


def _rss_mb(app: AppProcess) -> float:
    return scrape(f"{app.url}/metrics")[("process_resident_memory_bytes", ())] / 2**20


@pytest.mark.parametrize("minor", MINORS)
def test_python_info_is_the_interpreter_that_runs_it(
    apps: dict[str, AppProcess], minor: str, app_venvs: dict[str, AppVenv]
) -> None:
    metrics = scrape(f"{apps[minor].url}/metrics")
    info = [dict(labels) for (name, labels) in metrics if name == "python_info"]
    assert len(info) == 1
    assert info[0]["version"] == app_venvs[minor].version
    assert f"{info[0]['major']}.{info[0]['minor']}" == minor


@pytest.mark.parametrize("minor", MINORS)
def test_requests_are_counted_and_timed_but_metrics_scrapes_are_not(apps: dict[str, AppProcess], minor: str) -> None:
    app = apps[minor]
    before = scrape(f"{app.url}/metrics")
    assert _get(app.url + "/checkout", 20) == [200] * 20
    after = scrape(f"{app.url}/metrics")
    counted = after[("http_requests_total", (("status", "200"),))] - before.get(
        ("http_requests_total", (("status", "200"),)), 0.0
    )
    assert counted == 20
    assert (
        after[("http_request_duration_seconds_count", ())]
        - before.get(("http_request_duration_seconds_count", ()), 0.0)
        == 20
    )
    assert ("http_request_duration_seconds_bucket", (("le", "0.005"),)) in after  # ms-fine buckets


@pytest.mark.parametrize("minor", MINORS)
def test_error_rate_fault_turns_into_counted_500s(apps: dict[str, AppProcess], minor: str) -> None:
    app = apps[minor]
    app.set_faults(FaultSettings(error_rate=1.0, fault_after_s=0))
    try:
        before = _requests(app, "500")
        assert set(_get(app.url, 10)) == {500}
        assert _requests(app, "500") - before == 10
    finally:
        app.set_faults(FaultSettings())
    assert set(_get(app.url, 5)) == {200}


def test_faults_without_delay_wait_for_activation(apps: dict[str, AppProcess]) -> None:
    app = apps["3.12"]
    state = app.set_faults(FaultSettings(error_rate=1.0))
    try:
        assert state["active"] is False
        assert set(_get(app.url, 5)) == {200}
        started = app.activate_faults()
        assert app.fault_state()["active_from"] == started
        assert set(_get(app.url, 5)) == {500}
    finally:
        app.set_faults(FaultSettings())


def test_extra_latency_shows_in_the_histogram(apps: dict[str, AppProcess]) -> None:
    app = apps["3.12"]
    key_sum, key_count = (
        ("http_request_duration_seconds_sum", ()),
        ("http_request_duration_seconds_count", ()),
    )
    before = scrape(f"{app.url}/metrics")
    app.set_faults(FaultSettings(extra_latency_ms=50, fault_after_s=0))
    try:
        _get(app.url, 5)
    finally:
        app.set_faults(FaultSettings())
    after = scrape(f"{app.url}/metrics")
    mean = (after[key_sum] - before[key_sum]) / (after[key_count] - before[key_count])
    assert 0.05 <= mean < 0.5


def test_admin_rejects_unknown_knobs(apps: dict[str, AppProcess]) -> None:
    status, body = http_json(f"{apps['3.11'].url}/admin/faults", {"eror_rate": 1})
    assert status == 400
    assert "unknown fault knob" in body["error"]


def test_startup_memory_is_higher_but_flat(apps: dict[str, AppProcess]) -> None:
    app = apps["3.11"]
    base = _rss_mb(app)
    app.set_faults(FaultSettings(startup_memory_mb=80, fault_after_s=0))
    try:
        raised = wait_until(lambda: _rss_mb(app), lambda mb: mb > base + 70, timeout_s=5, what="ballast")
        assert app.fault_state()["startup_mb"] == 80
        time.sleep(1.0)  # several chaos ticks: a ballast must not grow like a leak
        assert abs(_rss_mb(app) - raised) < 10
    finally:
        app.set_faults(FaultSettings())


def test_memory_leak_grows_steadily(apps: dict[str, AppProcess]) -> None:
    app = apps["3.12"]
    base = _rss_mb(app)
    app.set_faults(FaultSettings(memory_leak_mb_per_min=1200, fault_after_s=0))  # 20 MB/s
    try:
        wait_until(lambda: _rss_mb(app), lambda mb: mb > base + 20, timeout_s=5, what="RSS +20 MB")
        wait_until(lambda: _rss_mb(app), lambda mb: mb > base + 40, timeout_s=5, what="RSS +40 MB")
    finally:
        app.set_faults(FaultSettings())


def _connections(postgres: PostgresServer, application_name: str) -> int:
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_pool_uses_the_deployment_as_application_name(apps: dict[str, AppProcess], postgres: PostgresServer) -> None:
    for app in apps.values():
        assert 1 <= _connections(postgres, app.deployment) <= 4


def test_db_leak_opens_and_keeps_connections(apps: dict[str, AppProcess], postgres: PostgresServer) -> None:
    app = apps["3.11"]
    before = _connections(postgres, app.deployment)
    app.set_faults(FaultSettings(db_leak_per_min=600, fault_after_s=0))  # 10/s
    try:
        wait_until(
            lambda: int(app.fault_state()["leaked_connections"]),
            lambda n: n >= 5,
            timeout_s=5,
            what="5 leaked connections",
        )
    finally:
        app.set_faults(FaultSettings())
    leaked = app.fault_state()["leaked_connections"]
    assert _connections(postgres, app.deployment) >= before + leaked
    used = scrape(f"{app.url}/metrics")[
        ("db_client_connections_usage", (("pool_name", app.deployment), ("state", "used")))
    ]
    assert used >= leaked
