"""The informer caches against the strict emulator: watches resume instead of relisting, 410 relists,
dependents are kept only when a rollout names them, routers read from memory, and an idle rollout's
reconcile costs the API server nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml

from controller.clock import SystemClock
from controller.kube.cache import ClusterCache
from controller.kube.events import EventRecorder
from controller.kube.metrics import OperatorMetrics
from controller.kube.reconciler import Reconciler
from controller.kube.rollouts import COMMAND_ANNOTATION
from controller.kube.tracks import read_track
from controller.routing.gateway_api import GatewayRouteRouter
from tests.conftest import REPO
from tests.kube.harness import RunningEmulator
from tests.operator.world import BGR, ROUTE, route, track_objects

Json = dict[str, Any]
WATCH_TIMEOUT = 1
"""Seconds each watch request lasts: the server ends it, the informer resumes (or relists on 410)."""
WATCH_WAIT_S = 5 * WATCH_TIMEOUT + 25
"""Hang guard for what the watches deliver (a few restarts, an edit, a relist): ``until`` polls, so a healthy
run returns in about a second per restart; the margin is for a slow, busy machine, not a timing claim."""


def _version(obj: Json) -> Any:
    return obj.get("metadata", {}).get("resourceVersion")


def until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"not within {within:g}s: {what}"
        time.sleep(0.02)


@contextmanager
def running_cache(api: Any, woken: list[str] | None = None) -> Iterator[ClusterCache]:
    woken = woken if woken is not None else []
    cache = ClusterCache(api, SystemClock(), ("shop",), woken.extend, watch_timeout=WATCH_TIMEOUT)
    cache.on_rollout = lambda key, old, new: woken.append(key)
    stop = threading.Event()
    cache.start(stop, cache.informers)
    until(lambda: all(i.synced.is_set() for i in cache.informers), 10, "rollouts listed")
    cache.start_dependents(stop)
    until(cache.dependents_synced, 10, "dependents listed")
    try:
        yield cache
    finally:
        stop.set()


def rollout(**annotations: str) -> Json:
    doc: Json = yaml.safe_load((REPO / "config" / "samples" / "checkout-gateway-api.yaml").read_text())
    doc["metadata"]["annotations"] = annotations
    doc["spec"]["analysis"]["prometheus"]["address"] = "http://127.0.0.1:9"
    doc["spec"]["blue"]["service"], doc["spec"]["green"]["service"] = "checkout-blue", "checkout-green"
    return doc


def seed_world(kube: RunningEmulator, **annotations: str) -> None:
    for obj in [*track_objects("shop", "checkout"), *track_objects("shop", "checkout-py312"), route("shop")]:
        kube.seed(obj)
    for obj in unrelated():
        kube.seed(obj)
    kube.seed(rollout(**annotations))


def unrelated() -> list[Json]:
    """A Deployment (and its ReplicaSet) no rollout names."""
    text = yaml.safe_dump(track_objects("shop", "checkout")[:2]).replace("checkout", "unrelated")
    objects: list[Json] = yaml.safe_load(text)
    return objects


def first_weight(cache: ClusterCache) -> Any:
    return (cache.rollout("shop", "checkout") or {})["spec"]["steps"][0]["weight"]


def test_watches_resume_from_their_last_version_and_relist_only_on_410(kube: RunningEmulator, api_client: Any) -> None:
    seed_world(kube)
    with running_cache(api_client) as cache:
        (informer,) = cache.informers
        until(lambda: informer.watches >= 3, WATCH_WAIT_S, "three watch requests")
        assert informer.lists == 1, "a watch that ended resumes from its resourceVersion, it does not relist"
        edited = kube.get(*BGR, "shop", "checkout")
        assert edited is not None
        edited["metadata"]["labels"] = {"edited": "1"}
        edited["spec"]["steps"][0]["weight"] = 10
        kube.seed(edited)
        until(lambda: first_weight(cache) == 10, WATCH_WAIT_S, "edit seen")
        kube.expire_watches()  # etcd compacted: resuming from our version is 410 Gone
        kube.seed(unrelated()[0])  # the cluster moves on past the compaction
        until(lambda: informer.lists == 2, WATCH_WAIT_S, "relisted after 410")
        kube.seed({**edited, "spec": {**edited["spec"], "steps": [{"weight": 20, "pause": "1m"}]}})
        until(lambda: first_weight(cache) == 20, WATCH_WAIT_S, "seen")
        lists = [r for r in kube.requests() if r.path.endswith("/bluegreenrollouts") and "watch" not in r.query]
        assert len(lists) == 2


def test_only_named_dependents_are_kept_and_a_new_one_is_fetched_once(kube: RunningEmulator, api_client: Any) -> None:
    seed_world(kube)
    with running_cache(api_client) as cache:
        names = sorted(name for _, name in cache.deployments.keys())  # noqa: SIM118  (a Store, not a dict)
        assert names == ["checkout", "checkout-py312"], "the unrelated Deployment is not kept"
        assert cache.track("shop/checkout", "shop", "checkout-py312") == read_track(
            api_client, "shop", "checkout-py312"
        )
        kube.clear_requests()
        for _ in range(3):
            cache.track("shop/checkout", "shop", "checkout")
        assert kube.requests() == [], "tracks are read from memory"
        cache.track("shop/other", "shop", "unrelated")
        cache.track("shop/other", "shop", "unrelated")
        reads = [r.brief()[:2] for r in kube.requests() if "watch" not in r.query]
        assert reads == [
            ("GET", "/apis/apps/v1/namespaces/shop/deployments/unrelated"),
            ("GET", "/apis/apps/v1/namespaces/shop/replicasets"),
        ], "a Deployment named for the first time is fetched once, then kept current by its watch"


def test_routers_read_from_the_cache_and_write_through_it(kube: RunningEmulator, api_client: Any) -> None:
    seed_world(kube)
    woken: list[str] = []
    with running_cache(api_client, woken) as cache:
        router = GatewayRouteRouter(
            cache.kube_api("shop/checkout"), "shop", "checkout", "checkout-blue", "checkout-green"
        )
        assert router.get_weight() == 0
        kube.clear_requests()
        woken.clear()
        assert router.set_weight(25) == 25
        writes = [r.brief()[:2] for r in kube.requests() if "watch" not in r.query]
        assert writes == [("PUT", "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/checkout")], (
            "the read before the write and the read-back come from the cache"
        )
        time.sleep(0.5)  # the watch echoes our PUT: it must not wake the rollout
        assert "shop/checkout" not in woken
        edited = kube.get(*ROUTE, "shop", "checkout")
        assert edited is not None
        edited["spec"]["rules"][0]["backendRefs"][1]["weight"] = 40  # someone else moves the route: drift
        kube.seed(edited)
        until(lambda: "shop/checkout" in woken, WATCH_WAIT_S, "drift wakes the rollout that names the route")
        until(lambda: router.get_weight() == 35, WATCH_WAIT_S, "drift read from the cache (40 of 75+40)")


def test_a_conflict_rereads_the_object_from_the_api_server(kube: RunningEmulator, api_client: Any) -> None:
    seed_world(kube)
    with running_cache(api_client) as cache:
        router = GatewayRouteRouter(
            cache.kube_api("shop/checkout"), "shop", "checkout", "checkout-blue", "checkout-green"
        )
        path = "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/checkout"
        kube.faults.edit_before("PUT", path, lambda o: {**o, "metadata": {**o["metadata"], "labels": {"x": "y"}}})
        kube.clear_requests()
        assert router.set_weight(50) == 50
        calls = [r.brief() for r in kube.requests() if "watch" not in r.query and r.path == path]
        assert calls[0] == ("PUT", path, 409) and ("GET", path, 200) in calls and calls[-1][0] in ("PUT", "GET")


@pytest.mark.parametrize("command", ["abort"])
def test_an_idle_rollout_costs_no_api_requests(kube: RunningEmulator, api_client: Any, command: str) -> None:
    request = f'{{"id":"0123456789ab","command":"{command}","user":"tester","at":"2026-01-01T00:00:00Z"}}'
    seed_world(kube, **{COMMAND_ANNOTATION: request})
    with running_cache(api_client) as cache:
        clock = SystemClock()
        reconciler = Reconciler(
            api_client,
            clock,
            EventRecorder(api_client, clock),
            OperatorMetrics(),
            lambda: True,
            allowed_prometheus_origins=("http://127.0.0.1:9",),
            reader=cache,
        )
        for _ in range(3):
            reconciler.reconcile("shop", "checkout")
        status = (kube.get(*BGR, "shop", "checkout") or {}).get("status") or {}
        assert status.get("phase") == "Aborted", status

        def echoed() -> bool:  # the watch delivered our own status writes: the cache holds what the server holds
            cached, stored = cache.rollout("shop", "checkout"), kube.get(*BGR, "shop", "checkout")
            return cached is not None and stored is not None and _version(cached) == _version(stored)

        until(echoed, WATCH_WAIT_S, "the cache caught up with our own writes")
        kube.clear_requests()
        for _ in range(5):
            reconciler.reconcile("shop", "checkout")
        calls = [r.brief() for r in kube.requests() if "watch" not in r.query]
        assert calls == [], "a finished rollout is reconciled from memory, with nothing to write"


def test_the_replica_router_reads_scales_from_the_cached_deployments(kube: RunningEmulator, api_client: Any) -> None:
    from controller.routing.replicas import ReplicaRatioRouter

    seed_world(kube)
    with running_cache(api_client) as cache:
        router = ReplicaRatioRouter(cache.kube_api("shop/checkout"), "shop", "checkout", "checkout-py312", total=4)
        assert router.get_weight() == 50  # one replica each, as seeded
        kube.clear_requests()
        assert router.set_weight(25) == 25
        calls = [r.brief() for r in kube.requests() if "watch" not in r.query]
        assert calls == [("PUT", "/apis/apps/v1/namespaces/shop/deployments/checkout/scale", 200)], (
            "Scales are read from the cached Deployments (green already has its one replica of four): "
            "only the write reaches the API server"
        )
        blue = kube.get("apps/v1", "deployments", "shop", "checkout")
        assert blue is not None and blue["spec"]["replicas"] == 3
