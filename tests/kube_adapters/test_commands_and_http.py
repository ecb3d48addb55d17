"""Control-command annotations and the operator's probe/metrics endpoints."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry, Counter

from controller.kube.http import Endpoints, parse_addr, serve
from controller.kube.rollouts import COMMAND_ANNOTATION, CommandRequest


def _obj(annotation: str | None) -> dict[str, object]:
    annotations = {COMMAND_ANNOTATION: annotation} if annotation is not None else {}
    return {"metadata": {"name": "checkout", "annotations": annotations}}


def test_command_round_trips_through_the_annotation() -> None:
    request = CommandRequest.new("promote", "alice", datetime(2026, 1, 1, tzinfo=UTC))
    parsed = CommandRequest.from_object(_obj(request.to_annotation()))
    assert parsed == request
    assert len(request.id) == 12


@pytest.mark.parametrize(
    "annotation", [None, "", "not json", json.dumps({"command": "promote"}), json.dumps({"id": "1", "command": "nuke"})]
)
def test_unreadable_or_unknown_commands_are_ignored(annotation: str | None) -> None:
    assert CommandRequest.from_object(_obj(annotation)) is None


@pytest.mark.parametrize(
    ("text", "expected"), [(":8080", ("0.0.0.0", 8080)), ("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:81", ("::1", 81))]
)
def test_parse_addr(text: str, expected: tuple[str, int]) -> None:
    assert parse_addr(text, "--metrics-addr") == expected


@pytest.mark.parametrize("text", ["8080", "host:", "host:http", ":70000"])
def test_parse_addr_names_the_flag(text: str) -> None:
    with pytest.raises(ValueError, match="--health-addr: expected HOST:PORT"):
        parse_addr(text, "--health-addr")


def test_endpoints_serve_probes_and_metrics() -> None:
    registry = CollectorRegistry()
    Counter("greenlane_test_total", "probe", registry=registry).inc()
    state = {"ready": False}
    endpoints = Endpoints(lambda: (True, "ok"), lambda: (state["ready"], "waiting for first list"), registry)
    server = serve(("127.0.0.1", 0), endpoints)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert urllib.request.urlopen(f"{base}/healthz").read() == b"ok\n"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{base}/readyz")
        assert info.value.code == 503
        state["ready"] = True
        assert urllib.request.urlopen(f"{base}/readyz").status == 200
        assert b"greenlane_test_total 1.0" in urllib.request.urlopen(f"{base}/metrics").read()
    finally:
        server.shutdown()
        server.server_close()


def test_every_api_call_has_a_timeout_even_against_a_server_that_never_answers() -> None:
    import socket
    import threading
    import time

    from kubernetes import client as k8s

    from controller.kube.client import TimeoutApiClient

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    configuration = k8s.Configuration()
    configuration.host = f"http://127.0.0.1:{server.getsockname()[1]}"
    configuration.retries = 0
    api = TimeoutApiClient(configuration, timeout=(0.5, 0.5))
    started = time.monotonic()
    with pytest.raises(Exception, match=r"timed out"):
        k8s.CoreV1Api(api).read_namespace("shop")
    assert time.monotonic() - started < 30  # bounded by the timeout, not by the server (which never answers)
    server.close()


def test_liveness_fails_when_a_worker_dies_a_reconcile_is_stuck_or_a_watch_goes_silent() -> None:
    import threading

    from kubernetes import client as k8s

    from controller.clock import ManualClock
    from controller.kube.manager import STUCK_RECONCILE, Manager, ManagerConfig

    clock = ManualClock()
    manager = Manager(k8s.ApiClient(), ManagerConfig(leader_elect=False), clock)
    assert manager._live() == (True, "ok")
    dead = threading.Thread(target=lambda: None, name="worker-0")
    dead.start()
    dead.join()
    manager._workers = [dead]
    assert manager._live() == (False, "workers stopped: worker-0")
    manager._workers = []
    manager._busy["worker-1"] = ("shop/checkout", clock.monotonic())
    clock.advance(STUCK_RECONCILE + 1)
    ok, why = manager._live()
    assert not ok and "shop/checkout" in why
    manager._busy.clear()
    for informer in manager.cache.all_informers():
        informer.heartbeat = clock.monotonic()
    assert manager._live() == (True, "ok")
    clock.advance(manager.cache.informers[0].stale_after + 1)
    ok, why = manager._live()
    assert not ok and "watches without progress" in why
