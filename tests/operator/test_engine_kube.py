"""The engine through the operator's real KubeWorld against the strict emulator: faults at the API server.

These replay issue 10's failures where they happened, on the wire: a status write failing right after a
rollback was decided, a rollout deleted mid-step, an unparseable command annotation.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kubernetes import client as k8s

from controller.clock import ManualClock
from controller.core.draft import WEIGHT_RETRY_SECONDS
from controller.kube.events import EventRecorder
from controller.kube.metrics import OperatorMetrics
from controller.kube.reconciler import BatchSettings, Reconciler
from controller.kube.rollouts import COMMAND_ANNOTATION, FINALIZER, SKIP_FINALIZER_ANNOTATION
from controller.kube.world import KubeSettings
from tests.kube.harness import RunningEmulator
from tests.operator.world import BGR, ROUTE, green_weight, rollout, route, track_objects

Json = dict[str, Any]
NS = "shop"
STATUS_PATH = f"/apis/greenlane.dev/v1alpha1/namespaces/{NS}/bluegreenrollouts/checkout/status"
ROUTE_PATH = f"/apis/gateway.networking.k8s.io/v1/namespaces/{NS}/httproutes/checkout"


def seed(kube: RunningEmulator) -> None:
    doc = rollout(NS, "http://127.0.0.1:9", [{"weight": 20, "pause": "1h"}, {"weight": 100, "pause": "1m"}])
    for side in ("blue", "green"):
        doc["spec"][side].pop("expectPython", None)  # no Prometheus here: nothing to read python_info from
    doc["spec"]["analysis"]["checks"] = [c for c in doc["spec"]["analysis"]["checks"] if c["name"] != "python"]
    for obj in [*track_objects(NS, "checkout"), *track_objects(NS, "checkout-py312"), route(NS), doc]:
        kube.seed(obj)


def operator(api: Any, clock: ManualClock) -> Reconciler:
    events = EventRecorder(api, clock)
    return Reconciler(api, clock, events, OperatorMetrics(), lambda: True, "http://127.0.0.1:9")


def route_weights(kube: RunningEmulator) -> list[int]:
    out: list[int] = []
    for version in kube.history(*ROUTE, NS, "checkout"):
        weight = green_weight(version)
        if not out or out[-1] != weight:
            out.append(weight)
    return out


def status(kube: RunningEmulator) -> Json:
    return dict((kube.get(*BGR, NS, "checkout") or {}).get("status") or {})


def command(kube: RunningEmulator, api: Any, raw: str) -> None:
    patch = {"metadata": {"annotations": {COMMAND_ANNOTATION: raw}}}
    k8s.CustomObjectsApi(api).patch_namespaced_custom_object(
        "greenlane.dev", "v1alpha1", NS, "bluegreenrollouts", "checkout", patch
    )


def events(kube: RunningEmulator) -> list[Json]:
    posted = [r for r in kube.requests(writes_only=True) if r.method == "POST" and r.path.endswith("/events")]
    return [r.body for r in posted if isinstance(r.body, dict)]


def started(kube: RunningEmulator, api: Any) -> tuple[Reconciler, ManualClock]:
    seed(kube)
    clock = ManualClock()
    reconciler = operator(api, clock)
    reconciler.reconcile(NS, "checkout")
    assert status(kube)["phase"] == "Progressing" and route_weights(kube)[-1] == 20
    return reconciler, clock


def test_a_status_write_failing_right_after_an_abort_never_sends_traffic_back(
    kube: RunningEmulator, api_client: Any
) -> None:
    reconciler, clock = started(kube, api_client)
    command(kube, api_client, json.dumps({"id": "c1", "command": "abort", "user": "alice", "at": ""}))
    kube.faults.fail("PUT", STATUS_PATH, status=500, reason="InternalError")
    outcome = reconciler.run(NS, "checkout")
    assert outcome.error == "HTTP 500 Internal Server Error: injected fault"
    assert route_weights(kube)[-1] == 20  # the rollback was not recorded, so nothing was acted on
    kube.faults.fail("PUT", ROUTE_PATH, status=500, reason="InternalError", times=2)  # router write fails too
    clock.advance(2)
    reconciler.run(NS, "checkout")
    recorded = status(kube)
    assert recorded["rollback"]["finalPhase"] == "Aborted" and recorded["targetWeight"] == 0
    assert route_weights(kube)[-1] == 20
    for _ in range(4):  # every later reconcile drives towards the recorded 0, never back to 20
        clock.advance(WEIGHT_RETRY_SECONDS)
        reconciler.run(NS, "checkout")
    assert route_weights(kube) == [0, 20, 0]
    assert status(kube)["phase"] == "Aborted"


def test_deleting_a_rollout_mid_step_returns_traffic_to_blue_before_it_goes(
    kube: RunningEmulator, api_client: Any
) -> None:
    reconciler, clock = started(kube, api_client)
    meta = (kube.get(*BGR, NS, "checkout") or {})["metadata"]
    assert FINALIZER in meta["finalizers"]  # added before green got any traffic
    k8s.CustomObjectsApi(api_client).delete_namespaced_custom_object(
        "greenlane.dev", "v1alpha1", NS, "bluegreenrollouts", "checkout"
    )
    assert kube.get(*BGR, NS, "checkout") is not None  # held by the finalizer
    clock.advance(1)
    reconciler.run(NS, "checkout")
    assert kube.get(*BGR, NS, "checkout") is None
    assert route_weights(kube)[-1] == 0
    reasons = [e["reason"] for e in events(kube)]
    assert reasons[-2:] == ["RollingBack", "Deleted"] or "Deleted" in reasons


def test_the_skip_finalizer_annotation_releases_a_rollout_whose_router_is_gone(
    kube: RunningEmulator, api_client: Any
) -> None:
    reconciler, clock = started(kube, api_client)
    k8s.CustomObjectsApi(api_client).patch_namespaced_custom_object(
        "greenlane.dev",
        "v1alpha1",
        NS,
        "bluegreenrollouts",
        "checkout",
        {"metadata": {"annotations": {SKIP_FINALIZER_ANNOTATION: "true"}}},
    )
    kube.faults.fail("GET", ROUTE_PATH, status=503, reason="ServiceUnavailable", times=100)
    k8s.CustomObjectsApi(api_client).delete_namespaced_custom_object(
        "greenlane.dev", "v1alpha1", NS, "bluegreenrollouts", "checkout"
    )
    clock.advance(1)
    reconciler.run(NS, "checkout")
    assert kube.get(*BGR, NS, "checkout") is None
    assert any(e["reason"] == "DeletionForced" and e["type"] == "Warning" for e in events(kube))


def test_an_unparseable_command_is_consumed_with_a_warning_event(kube: RunningEmulator, api_client: Any) -> None:
    reconciler, clock = started(kube, api_client)
    command(kube, api_client, '{"id": "c1", "command": "promote", "user": "a", "user": "system:admin"}')
    clock.advance(1)
    reconciler.run(NS, "checkout")
    rejected = [e for e in events(kube) if e["reason"] == "CommandRejected"]
    assert len(rejected) == 1 and rejected[0]["type"] == "Warning"
    assert "duplicate keys ['user']" in rejected[0]["message"]
    assert re.fullmatch(r"invalid-[0-9a-f]{12}", status(kube)["lastCommand"])
    clock.advance(1)
    reconciler.run(NS, "checkout")
    assert len([e for e in events(kube) if e["reason"] == "CommandRejected"]) == 1  # consumed once


def test_each_evaluation_forecasts_the_next_ones_queries_to_the_batch(kube: RunningEmulator, api_client: Any) -> None:
    """The operator's world hands the engine's forecast to the rollout's batch: once the step is old enough for
    its traffic checks, each reconcile counts green's and blue's tracks in the parts their next evaluation
    will ask (the batch then names them in that round's one query). Prometheus is down here: a forecast does
    not need it, and the evaluation's outage is still an outage."""
    seed(kube)
    clock = ManualClock()
    events = EventRecorder(api_client, clock)
    reconciler = Reconciler(
        api_client,
        clock,
        events,
        OperatorMetrics(),
        lambda: True,
        "http://127.0.0.1:9",
        settings=KubeSettings(evaluation_round=1.0),
        batching=BatchSettings(concurrency=1, deadline=5.0, horizon=1.0),
    )
    reconciler.reconcile(NS, "checkout")
    assert status(kube)["phase"] == "Progressing" and route_weights(kube)[-1] == 20
    [batch] = reconciler._batches.values()
    assert batch.stats.forecast == 0, "a step two seconds old at its first evaluation: no check asks anything yet"
    clock.advance(30.0)
    reconciler.reconcile(NS, "checkout")
    assert any(c.get("outage") for c in status(kube).get("checks", [])), status(kube)
    # latency (buckets) and error-rate (requests, errors) for green and blue, each at its window(s)
    assert batch.stats.forecast >= 6, batch.stats
