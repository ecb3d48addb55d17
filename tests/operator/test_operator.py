"""The operator against the strict kmock emulator with the official client: invalid input, commands,
status conflicts, leader election, and the real ``greenlane run`` process."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.cli import main
from controller.clock import ManualClock, SystemClock
from controller.kube.events import EventRecorder
from controller.kube.leader import LeaderElector, LeaseConfig
from controller.kube.metrics import OperatorMetrics
from controller.kube.reconciler import Reconciler
from controller.kube.rollouts import COMMAND_ANNOTATION, RolloutClient
from controller.sandbox.processes import free_ports
from tests.conftest import REPO
from tests.kube.harness import RunningEmulator
from tests.security.certs import ca_bundle

Json = dict[str, Any]
BGR = ("greenlane.dev/v1alpha1", "bluegreenrollouts")


def sample(**overrides: Any) -> Json:
    doc: Json = yaml.safe_load((REPO / "config" / "samples" / "checkout-gateway-api.yaml").read_text())
    doc["spec"]["analysis"]["prometheus"]["address"] = "http://127.0.0.1:9"  # nothing listens: an outage
    doc.update(overrides)
    return doc


def deployment(name: str) -> Json:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "generation": 1,
            "uid": f"uid-{name}",
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "x"}]}},
        },
        "status": {
            "observedGeneration": 1,
            "replicas": 2,
            "availableReplicas": 2,
            "updatedReplicas": 2,
            "readyReplicas": 2,
        },
    }


def reconciler(kube: RunningEmulator, api: Any) -> Reconciler:
    clock = SystemClock()
    allowed = ("http://127.0.0.1:9",)  # sample()'s address
    return Reconciler(
        api, clock, EventRecorder(api, clock), OperatorMetrics(), lambda: True, None, allowed_prometheus_origins=allowed
    )


def test_missing_route_is_invalid_and_nothing_is_patched(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(sample())
    kube.seed(deployment("checkout"))
    kube.seed(deployment("checkout-py312"))
    kube.clear_requests()
    reconciler(kube, api_client).reconcile("shop", "checkout")
    status = kube.get(*BGR, "shop", "checkout")["status"]  # type: ignore[index]
    assert status["phase"] == "Invalid"
    assert "spec.trafficRouting.gatewayAPI" in status["message"]
    assert "HTTPRoute shop/checkout" in status["message"]
    writes = [r.brief() for r in kube.requests(writes_only=True)]
    assert all("/httproutes" not in path for _, path, _ in writes), writes
    assert any(path.endswith("/bluegreenrollouts/checkout/status") for _, path, _ in writes)
    events = [r for r in kube.requests(writes_only=True) if r.path.endswith("/events")]
    assert events and events[0].body["reason"] == "InvalidSpec"


def test_invalid_spec_names_the_field(kube: RunningEmulator, api_client: Any) -> None:
    doc = sample()
    doc["spec"]["steps"][1]["weight"] = 150
    kube.seed(doc)
    reconciler(kube, api_client).reconcile("shop", "checkout")
    status = kube.get(*BGR, "shop", "checkout")["status"]  # type: ignore[index]
    assert status["phase"] == "Invalid"
    assert "spec.steps[1].weight" in status["message"]


def test_status_write_is_retried_on_conflict(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(sample())
    client = RolloutClient(api_client)
    obj = client.get("shop", "checkout")
    kube.faults.edit_before(
        "PUT",
        "/apis/greenlane.dev/v1alpha1/namespaces/shop/bluegreenrollouts/checkout/status",
        lambda o: {**o, "metadata": {**o["metadata"], "labels": {"edited": "yes"}}},
    )
    written = client.write_status(obj, {"phase": "Pending", "message": "retried"})
    assert written["status"]["message"] == "retried"
    codes = [r.status for r in kube.requests(writes_only=True) if r.path.endswith("/status")]
    assert 409 in codes and codes[-1] == 200


def test_control_command_is_an_auditable_annotation(
    kube: RunningEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kube.seed(sample())
    kubeconfig = write_kubeconfig(kube, tmp_path)
    assert main(["promote", "checkout", "-n", "shop", "--kubeconfig", str(kubeconfig)]) == 0
    out = capsys.readouterr().out
    assert "promote requested for shop/checkout" in out
    annotation = kube.get(*BGR, "shop", "checkout")["metadata"]["annotations"][COMMAND_ANNOTATION]  # type: ignore[index]
    assert '"command":"promote"' in annotation and '"user":"system:anonymous"' in annotation
    assert main(["get", "checkout", "-n", "shop", "--kubeconfig", str(kubeconfig)]) == 0
    assert "shop/checkout" in capsys.readouterr().out
    assert main(["promote", "nope", "-n", "shop", "--kubeconfig", str(kubeconfig)]) == 1
    assert "rollout shop/nope not found" in capsys.readouterr().err


def test_only_one_leader_and_takeover_after_release(kube: RunningEmulator, api_client: Any) -> None:
    clock = ManualClock()
    config = LeaseConfig(namespace="greenlane-system")
    first = LeaderElector(api_client, "a", config, clock)
    second = LeaderElector(api_client, "b", config, clock)
    assert first.try_acquire_or_renew()
    assert not second.try_acquire_or_renew()
    clock.advance(5)
    assert first.try_acquire_or_renew() and not second.try_acquire_or_renew()
    clock.advance(config.renew_deadline)  # a stalls: it must stop writing before b may take over
    assert not first.is_leader()
    clock.advance(config.lease_duration)
    assert second.try_acquire_or_renew()
    assert not first.try_acquire_or_renew()
    second.release()
    assert first.try_acquire_or_renew()


def write_kubeconfig(kube: RunningEmulator, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "emu",
                "clusters": [{"name": "emu", "cluster": {"server": kube.url}}],
                "users": [{"name": "tester", "user": {}}],
                "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "tester", "namespace": "shop"}}],
            }
        )
    )
    return path


def test_greenlane_run_process(kube: RunningEmulator, tmp_path: Path) -> None:
    """The real process: becomes ready, takes the lease, marks a rollout Invalid, exits cleanly on SIGTERM."""
    kube.seed(sample())
    kubeconfig = write_kubeconfig(kube, tmp_path)
    metrics_port, health_port = free_ports(2)
    env = {**os.environ, "POD_NAMESPACE": "greenlane-system", "POD_NAME": "greenlane-0"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "controller",
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            "shop",
            "--metrics-addr",
            f"127.0.0.1:{metrics_port}",
            "--health-addr",
            f"127.0.0.1:{health_port}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        phase = None
        while time.monotonic() < deadline and phase != "Invalid":
            time.sleep(0.3)
            phase = ((kube.get(*BGR, "shop", "checkout") or {}).get("status") or {}).get("phase")
        assert phase == "Invalid", "the operator did not judge the rollout"
        assert urllib.request.urlopen(f"http://127.0.0.1:{health_port}/readyz").status == 200
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read().decode()
        assert 'greenlane_rollout_phase{namespace="shop",phase="Invalid",rollout="checkout"} 1.0' in metrics
        assert "greenlane_leader 1.0" in metrics
        lease = kube.get("coordination.k8s.io/v1", "leases", "greenlane-system", "greenlane-leader")
        assert lease is not None and lease["spec"]["holderIdentity"] == "greenlane-0"
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, output
    lease = kube.get("coordination.k8s.io/v1", "leases", "greenlane-system", "greenlane-leader")
    assert lease is not None and not lease["spec"].get("holderIdentity"), "the lease must be released on SIGTERM"
    assert '"event": "operator stopped"' in output
    assert "watch failed" not in output and "reconcile failed" not in output, output


def test_run_rejects_bad_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--kubeconfig", "/nonexistent/kubeconfig", "--log-format", "console"]) == 2
    assert "cannot load kubeconfig" in capsys.readouterr().err
    assert main(["run", "--metrics-addr", "8080"]) == 2
    assert "--metrics-addr: expected HOST:PORT" in capsys.readouterr().err
    _ = copy


def _secret(name: str, data: dict[str, str]) -> Json:
    import base64

    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    labels = {"greenlane.dev/prometheus-credentials": "true"}  # the opt-in (see tests/security)
    metadata = {"name": name, "namespace": "shop", "labels": labels}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "data": encoded}


def test_prometheus_credentials_come_from_secrets(kube: RunningEmulator, api_client: Any) -> None:
    from controller.kube.credentials import CredentialError, prometheus_credentials
    from controller.model.spec import PrometheusConfig

    kube.seed(_secret("reader", {"token": "s3cret\n"}), "secrets")
    kube.seed(_secret("basic", {"username": "grafana", "password": "pw"}), "secrets")
    kube.seed(_secret("ca", {"ca.crt": ca_bundle()}), "secrets")
    prom = PrometheusConfig.model_validate(
        {
            "address": "https://prom:9090",
            "bearerTokenSecret": {"name": "reader", "key": "token"},
            "basicAuthSecret": {"name": "basic"},
            "caSecret": {"name": "ca", "key": "ca.crt"},
        }
    )
    creds = prometheus_credentials(api_client, "shop", prom)
    assert creds.bearer_token == "s3cret"
    assert creds.basic_auth == ("grafana", "pw")
    assert creds.ca_pem is not None and creds.ca_pem.startswith("-----BEGIN CERTIFICATE")
    missing_key = PrometheusConfig.model_validate({"bearerTokenSecret": {"name": "reader", "key": "tok"}})
    with pytest.raises(CredentialError, match=r"bearerTokenSecret: Secret shop/reader has no key 'tok'"):
        prometheus_credentials(api_client, "shop", missing_key)
    missing_secret = PrometheusConfig.model_validate({"caSecret": {"name": "nope", "key": "ca.crt"}})
    with pytest.raises(CredentialError, match=r"caSecret: Secret shop/nope not found"):
        prometheus_credentials(api_client, "shop", missing_secret)


def test_missing_credential_secret_makes_the_rollout_invalid(kube: RunningEmulator, api_client: Any) -> None:
    doc = sample()
    doc["spec"]["analysis"]["prometheus"]["bearerTokenSecret"] = {"name": "absent", "key": "token"}
    kube.seed(doc)
    kube.seed(deployment("checkout"))
    kube.seed(deployment("checkout-py312"))
    kube.seed(route_for_sample())
    reconciler(kube, api_client).reconcile("shop", "checkout")
    status = kube.get(*BGR, "shop", "checkout")["status"]  # type: ignore[index]
    assert status["phase"] == "Invalid"
    assert "spec.analysis.prometheus.bearerTokenSecret: Secret shop/absent not found" in status["message"]
    assert status["observedGeneration"] == kube.get(*BGR, "shop", "checkout")["metadata"]["generation"]  # type: ignore[index]


def route_for_sample() -> Json:
    from tests.operator.world import route

    obj = route("shop")
    obj["spec"]["rules"][0]["backendRefs"][0]["name"] = "checkout-blue"
    return obj


def test_repeated_events_are_aggregated(kube: RunningEmulator, api_client: Any) -> None:
    from controller.kube.events import InvolvedObject

    recorder = EventRecorder(api_client, ManualClock())
    involved = InvolvedObject("greenlane.dev/v1alpha1", "BlueGreenRollout", "shop", "checkout", "uid-1")
    kube.clear_requests()
    for _ in range(3):
        recorder.record(involved, "Warning", "PrometheusUnavailable", "Prometheus unreachable; holding at 25%")
    recorder.record(involved, "Normal", "WeightSet", "x" * 5000)
    writes = [(r.method, r.path.rsplit("/", 1)[-1]) for r in kube.requests(writes_only=True)]
    assert [m for m, _ in writes] == ["POST", "PATCH", "PATCH", "POST"], writes
    bumped = [r.body for r in kube.requests(writes_only=True) if r.method == "PATCH"]
    assert bumped[-1]["count"] == 3
    long = kube.requests(writes_only=True)[-1].body
    assert len(long["message"]) == 1024 and long["message"].endswith("…")


def test_event_failures_are_not_fatal(kube: RunningEmulator, api_client: Any) -> None:
    from controller.kube.events import InvolvedObject

    kube.faults.fail("POST", "/api/v1/namespaces/shop/events", status=500)
    recorder = EventRecorder(api_client, ManualClock())
    recorder.record(InvolvedObject("greenlane.dev/v1alpha1", "BlueGreenRollout", "shop", "c"), "Normal", "R", "m")
    assert [r.status for r in kube.requests(writes_only=True)] == [500]


def test_missing_deployment_is_invalid_and_traffic_untouched(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(sample())
    kube.seed(deployment("checkout"))
    kube.seed(route_for_sample())
    kube.clear_requests()
    reconciler(kube, api_client).reconcile("shop", "checkout")
    status = kube.get(*BGR, "shop", "checkout")["status"]  # type: ignore[index]
    assert status["phase"] == "Invalid"
    assert "spec.green.deployment" in status["message"] and "checkout-py312" in status["message"]
    assert not [r for r in kube.requests(writes_only=True) if "/httproutes/" in r.path]
