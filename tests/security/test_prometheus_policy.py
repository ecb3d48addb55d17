"""Issue 11's credential-exfiltration attacks, replayed against the operator: an in-process Reconciler on
the strict kmock emulator, with loopback HTTP servers that record every request they receive.

A rollout author controls the rollout; the operator's admin controls which Prometheus origins the operator
talks to and a Secret's owner controls whether greenlane may use it. No attack here gets a request — let
alone a credential — to a server the admin did not allow.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from controller.analysis.prometheus import PrometheusSource
from controller.analysis.source import QueryRejected, SourceUnavailable
from controller.clock import ManualClock
from controller.kube.events import EventRecorder
from controller.kube.metrics import OperatorMetrics
from controller.kube.prometheus_pool import SourcePool, SourceRejected, allowed_origin, origin
from controller.kube.reconciler import Reconciler
from controller.model.spec import PrometheusConfig
from tests.kube.harness import RunningEmulator
from tests.operator.world import BGR, rollout, route, track_objects
from tests.security.certs import ca_bundle
from tests.security.recorder import recording

Json = dict[str, Any]
NS = "shop"
TOKEN = "s3cret-token-of-the-shop-team"
OPT_IN = {"greenlane.dev/prometheus-credentials": "true"}
STEPS = [{"weight": 20, "pause": "1m"}, {"weight": 100, "pause": "1m"}]


def secret(name: str, data: dict[str, bytes], labels: dict[str, str] | None = None) -> Json:
    encoded = {k: base64.b64encode(v).decode() for k, v in data.items()}
    metadata = {"name": name, "namespace": NS, "labels": OPT_IN if labels is None else labels}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "data": encoded}


def world(kube: RunningEmulator, address: str, *, preflight: bool = True, **prometheus: Any) -> None:
    """Two ready tracks, a route and a rollout; ``preflight=False`` drops the Python version gate so that
    the rollout moves traffic and evaluates its checks at once."""
    for obj in [*track_objects(NS, "checkout"), *track_objects(NS, "checkout-py312"), route(NS)]:
        kube.seed(obj)
    doc = rollout(NS, address, STEPS)
    doc["spec"]["analysis"]["prometheus"].update(prometheus)
    if not preflight:
        for track in ("blue", "green"):
            doc["spec"][track].pop("expectPython")
        doc["spec"]["analysis"]["checks"] = [c for c in doc["spec"]["analysis"]["checks"] if c["name"] != "python"]
    kube.seed(doc)


def reconciler(api: Any, clock: ManualClock, default: str | None, *allowed: str) -> Reconciler:
    return Reconciler(
        api,
        clock,
        EventRecorder(api, clock),
        OperatorMetrics(),
        lambda: True,
        default,
        allowed_prometheus_origins=allowed,
    )


def status(kube: RunningEmulator) -> Json:
    obj = kube.get(*BGR, NS, "checkout") or {}
    found: Json = obj.get("status") or {}
    return found


def secret_reads(kube: RunningEmulator) -> list[str]:
    return [r.path for r in kube.requests() if "/secrets/" in r.path]


def test_a_rollout_cannot_point_the_operator_at_its_own_server(kube: RunningEmulator, api_client: Any) -> None:
    """The tenant's server, a labelled Secret: the operator sends nothing there, not even a bare query."""
    with recording() as theirs, recording() as ours:
        kube.seed(secret("reader", {"token": TOKEN.encode()}), "secrets")
        world(kube, theirs.url, bearerTokenSecret={"name": "reader", "key": "token"})
        clock = ManualClock(datetime.now(UTC))
        op = reconciler(api_client, clock, ours.url)
        for _ in range(3):
            op.reconcile(NS, "checkout")
            clock.advance(5)
        op.close()
        found = status(kube)
        assert found["phase"] == "Invalid"
        assert "spec.analysis.prometheus.address" in found["message"]
        assert f"{origin(theirs.url)} is not an allowed Prometheus origin" in found["message"]
        assert f"allowed: {origin(ours.url)}" in found["message"]
        assert theirs.seen == [] and ours.seen == []
        assert secret_reads(kube) == [], "the Secret must not even be read for a refused address"
        assert not [r for r in kube.requests(writes_only=True) if "/httproutes/" in r.path], "traffic moved"


@pytest.mark.parametrize(
    "address",
    [
        "https://127.0.0.1:{port}",
        "http://127.0.0.1:{other}",
        "http://localhost:{port}",
        "http://127.0.0.1.nip.io:{port}",
    ],
    ids=["other-scheme", "other-port", "other-host-name", "look-alike-host"],
)
def test_only_the_exact_allowed_origin_passes(kube: RunningEmulator, api_client: Any, address: str) -> None:
    with recording() as allowed:
        port = allowed.url.rsplit(":", 1)[1]
        world(kube, address.format(port=port, other=int(port) + 1))
        reconciler(api_client, ManualClock(), None, allowed.url).reconcile(NS, "checkout")
        found = status(kube)
        assert found["phase"] == "Invalid" and "is not an allowed Prometheus origin" in found["message"]
        assert allowed.seen == []


def test_an_allowed_origin_with_a_path_is_used(kube: RunningEmulator, api_client: Any) -> None:
    """Thanos/Mimir behind a path prefix: the origin is what the admin allows, any path under it is fine."""
    with recording() as allowed:
        world(kube, f"{allowed.url}/prometheus")
        reconciler(api_client, ManualClock(), None, allowed.url + "/").reconcile(NS, "checkout")
        assert status(kube)["phase"] != "Invalid", status(kube)
        assert allowed.seen and all(s.path.startswith("/prometheus/api/v1/") for s in allowed.seen)


def test_a_secret_without_the_opt_in_label_is_not_used(kube: RunningEmulator, api_client: Any) -> None:
    with recording() as prometheus:
        kube.seed(secret("db-password", {"password": b"hunter2"}, labels={}), "secrets")
        world(kube, prometheus.url, bearerTokenSecret={"name": "db-password", "key": "password"})
        reconciler(api_client, ManualClock(), prometheus.url).reconcile(NS, "checkout")
        found = status(kube)
        assert found["phase"] == "Invalid"
        assert (
            "spec.analysis.prometheus.bearerTokenSecret: Secret shop/db-password is not labelled "
            'greenlane.dev/prometheus-credentials: "true"' in found["message"]
        )
        assert "hunter2" not in str(found)
        assert prometheus.seen == []


@pytest.mark.parametrize(
    ("data", "field", "expected"),
    [
        ({"token": b"\xff\xfe\x00token"}, "bearerTokenSecret", "Secret shop/creds key 'token' is not UTF-8 text"),
        ({"other": b"x"}, "bearerTokenSecret", "Secret shop/creds has no key 'token'"),
        ({"token": b"abc\r\nX-Injected: 1"}, "bearerTokenSecret", "key 'token' holds characters an HTTP header"),
        ({"username": b"a:b", "password": b"p"}, "basicAuthSecret", "key 'username' may not contain ':'"),
        ({"username": b"grafana"}, "basicAuthSecret", "Secret shop/creds has no key 'password'"),
        ({"ca.crt": b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"}, "caSecret", "not a PEM CA"),
    ],
    ids=["non-utf8", "missing-key", "crlf-token", "colon-user", "no-password", "bad-ca"],
)
def test_an_unusable_secret_is_invalid_naming_secret_and_key(
    kube: RunningEmulator, api_client: Any, data: dict[str, bytes], field: str, expected: str
) -> None:
    refs = {"bearerTokenSecret": {"name": "creds", "key": "token"}, "basicAuthSecret": {"name": "creds"}}
    refs["caSecret"] = {"name": "creds", "key": "ca.crt"}
    with recording() as prometheus:
        kube.seed(secret("creds", data), "secrets")
        world(kube, prometheus.url, preflight=True, **{field: refs[field]})
        reconciler(api_client, ManualClock(), prometheus.url).reconcile(NS, "checkout")
        found = status(kube)
        assert found["phase"] == "Invalid"
        assert f"spec.analysis.prometheus.{field}: " in found["message"] and expected in found["message"]
        assert "X-Injected" not in found["message"]
        assert prometheus.seen == []


@pytest.mark.parametrize("preflight", [True, False], ids=["preflight-query", "check-queries"])
def test_redirects_never_carry_credentials(kube: RunningEmulator, api_client: Any, preflight: bool) -> None:
    """The allowed Prometheus answers 302 to the tenant's server: the operator does not follow it, and the
    checks say why they are inconclusive."""
    with recording() as elsewhere, recording(status=302) as allowed:
        allowed.location = f"{elsewhere.url}/api/v1/query"
        kube.seed(secret("reader", {"token": TOKEN.encode()}), "secrets")
        world(kube, allowed.url, preflight=preflight, bearerTokenSecret={"name": "reader", "key": "token"})
        clock = ManualClock(datetime.now(UTC))
        op = reconciler(api_client, clock, allowed.url)
        for _ in range(6):
            op.reconcile(NS, "checkout")
            clock.advance(3)
        op.close()
        found = status(kube)
        assert allowed.seen, "the allowed Prometheus was queried"
        assert all(s.headers.get("Authorization") == f"Bearer {TOKEN}" for s in allowed.seen)
        assert elsewhere.seen == [], "a redirect was followed"
        assert TOKEN not in str(found)
        if not preflight:
            messages = [c["message"] for c in found["checks"]]
            assert messages and all(f"redirect to {elsewhere.url} not followed" in m for m in messages), messages


def test_a_redirect_is_a_clear_error_not_a_silent_follow() -> None:
    with recording() as elsewhere, recording(status=307) as allowed:
        allowed.location = f"{elsewhere.url}/api/v1/query"
        source = PrometheusSource(allowed.url, timeout=2, bearer_token=TOKEN, attempts=1)
        with pytest.raises(SourceUnavailable, match=rf"HTTP 307: redirect to {elsewhere.url} not followed"):
            source.instant("up", 0)
        source.close()
        assert len(allowed.seen) == 1 and elsewhere.seen == []


def test_error_bodies_reaching_status_are_bounded_and_sanitised() -> None:
    hostile = ("\x1b[31mERROR\r\nSet-Cookie: x\x00 " + "A" * 10**6).encode()
    with recording(status=503, body=hostile) as server:
        source = PrometheusSource(server.url, timeout=2, attempts=1)
        with pytest.raises(SourceUnavailable) as raised:
            source.instant("up", 0)
        message = str(raised.value)
        assert len(message) < 400 and message.isprintable() and "\r" not in message and "\x1b" not in message
        server.status, server.body = 400, b'{"status":"error","errorType":"bad_data","error":"' + b"B" * 10**5 + b'"}'
        with pytest.raises(QueryRejected) as rejected:
            source.instant("up", 0)
        assert len(str(rejected.value)) < 400
        source.close()


def _pool(api: Any, clock: ManualClock, url: str, **kwargs: float) -> SourcePool:
    return SourcePool(api, clock, url, (), **kwargs)


def test_rotation_leaves_no_sessions_or_ca_files_behind(kube: RunningEmulator, api_client: Any) -> None:
    ca = ca_bundle().encode()
    prom = PrometheusConfig.model_validate(
        {"bearerTokenSecret": {"name": "reader", "key": "token"}, "caSecret": {"name": "reader", "key": "ca.crt"}}
    )
    with recording() as server:
        kube.seed(secret("reader", {"token": b"v1", "ca.crt": ca}), "secrets")
        clock = ManualClock(datetime.now(UTC))
        pool = _pool(api_client, clock, server.url, grace_seconds=60)
        first = pool.get(NS, prom)
        first.instant("up", 0)
        assert pool.get(NS, prom) is first, "one pooled session per configuration"
        ca_files = list(Path(first._client._session.verify).parent.glob("*.pem"))
        assert server.wait_for_connections(1) == 1 and len(ca_files) == 1

        kube.seed(secret("reader", {"token": b"v2", "ca.crt": ca}), "secrets")  # rotation
        second = pool.get(NS, prom)
        second.instant("up", 0)
        assert second is not first
        assert [s.headers["Authorization"] for s in server.seen] == ["Bearer v1", "Bearer v2"]
        assert server.wait_for_connections(2) == 2, "the old session stays open for a grace period"

        clock.advance(61)
        assert pool.get(NS, prom) is second
        assert server.wait_for_connections(1) == 1, "the replaced session is closed"
        assert not ca_files[0].exists(), "the replaced CA file is removed"
        assert pool.open_sources() == 1

        ca_dir = ca_files[0].parent
        pool.close()
        assert server.wait_for_connections(0) == 0 and not ca_dir.exists()


def test_idle_sources_are_closed(kube: RunningEmulator, api_client: Any) -> None:
    """A rollout deleted or edited leaves its source unused; it is closed, not kept forever."""
    with recording() as server:
        clock = ManualClock(datetime.now(UTC))
        pool = _pool(api_client, clock, server.url, idle_seconds=600)
        pool.get(NS, PrometheusConfig()).instant("up", 0)
        edited = PrometheusConfig.model_validate({"timeout": "20s"})
        clock.advance(601)
        pool.get(NS, edited)
        assert pool.open_sources() == 1 and server.wait_for_connections(0) == 0
        pool.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://Prometheus.Monitoring:9090", "http://prometheus.monitoring:9090"),
        ("https://prom", "https://prom:443"),
        ("http://prom/", "http://prom:80"),
        ("http://[FD00::1]:9090", "http://[fd00::1]:9090"),
    ],
)
def test_origins_are_normalised(text: str, expected: str) -> None:
    assert allowed_origin(text) == expected


@pytest.mark.parametrize(
    "text", ["prom:9090", "ftp://prom", "http://user@prom", "http://prom:99999", "http://prom/api", "http://prom/?x"]
)
def test_the_allowlist_flag_takes_origins_only(text: str) -> None:
    with pytest.raises(ValueError):
        allowed_origin(text)


def test_greenlane_run_refuses_a_bad_allowlist_before_starting(capsys: pytest.CaptureFixture[str]) -> None:
    from controller.cli import main

    assert main(["run", "--prometheus-allowed-origin", "http://prom:9090/api"]) == 2
    assert "--prometheus-allowed-origin: 'http://prom:9090/api': give an origin" in capsys.readouterr().err


def test_no_address_and_no_default_is_invalid(kube: RunningEmulator, api_client: Any) -> None:
    with pytest.raises(SourceRejected, match=r"spec.analysis.prometheus.address: required"):
        SourcePool(api_client, ManualClock(), None).get(NS, PrometheusConfig())
