"""Churn leaves nothing behind in the informer caches (issue 15: no per-rollout unbounded growth).

Rollouts are created, reconciled, deleted through their finalizer and their worlds (Deployments, ReplicaSets,
route) deleted after them, cycle after cycle, with the watch events fed in the orders a real watch may deliver
them. The soak bench (``make bench-soak``) showed what this pins: about one churned rollout in five stayed in
the cache as a ghost (the answer of the write that released its finalizer arrived after its DELETED), and every
Deployment deleted in the cluster stayed remembered as absent.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import yaml
from kubernetes import client as k8s

from controller.clock import SystemClock
from controller.kube.cache import ClusterCache
from controller.kube.store import Store
from tests.conftest import REPO
from tests.operator.world import route, track_objects

Json = dict[str, Any]
CYCLES = 40
HTTPROUTES = ("gateway.networking.k8s.io/v1", "httproutes")


def rollout(namespace: str) -> Json:
    doc: Json = yaml.safe_load((REPO / "config" / "samples" / "checkout-gateway-api.yaml").read_text())
    doc["metadata"] = {"name": "checkout", "namespace": namespace, "finalizers": ["greenlane.dev/finalizer"]}
    doc["spec"]["blue"]["service"], doc["spec"]["green"]["service"] = "checkout-blue", "checkout-green"
    return doc


def at(obj: Json, rv: int, **meta: Any) -> Json:
    out = copy.deepcopy(obj)
    out["metadata"].update(resourceVersion=str(rv), **meta)
    return out


def world(namespace: str) -> list[tuple[str, Json]]:
    objects = [*track_objects(namespace, "checkout"), *track_objects(namespace, "checkout-py312")]
    return [("deployments" if o["kind"] == "Deployment" else "replicasets", o) for o in objects] + [
        ("route", route(namespace))
    ]


def one_rollout_lifetime(cache: ClusterCache, n: int, versions: itertools.count[int]) -> None:
    namespace = f"team-{n}"
    created = rollout(namespace)
    cache.rollouts.apply(at(created, next(versions)))  # ADDED: it names its Deployments and route
    stores: dict[str, Store] = {
        "deployments": cache.deployments,
        "replicasets": cache.replicasets,
        "route": cache.routers[HTTPROUTES],
    }
    for kind, obj in world(namespace):
        stores[kind].apply(at(obj, next(versions)))
    deleting = at(created, next(versions), deletionTimestamp="2026-01-01T00:00:00Z")
    cache.rollouts.apply(deleting)  # a user deletes it: the finalizer holds it while traffic goes back to blue
    answer = at(deleting, next(versions), finalizers=[])  # our JSON Patch removing the last finalizer
    deleted = at(answer, next(versions))
    with cache.fence(namespace, "checkout"):
        if n % 2:
            cache.rollouts.apply(deleted, deleted=True)  # the watch's DELETED comes before the patch's answer
        cache.written(answer)
    if not n % 2:
        cache.rollouts.apply(deleted, deleted=True)  # or after it
    for kind, obj in world(namespace):  # then the team deletes the rest
        stores[kind].apply(at(obj, next(versions)), deleted=True)


def test_create_reconcile_delete_cycles_leave_no_entry_behind() -> None:
    gone: list[str] = []
    cache = ClusterCache(
        k8s.ApiClient(k8s.Configuration(host="http://127.0.0.1:9")), SystemClock(), None, lambda keys: None
    )
    cache.on_rollout = lambda key, old, new: gone.append(key) if new is None else None
    versions = itertools.count(100)
    for n in range(CYCLES):
        one_rollout_lifetime(cache, n, versions)
    assert len(gone) == CYCLES, "every deletion is announced once: the operator forgets each rollout"
    assert len(cache.interest) == 0, "nothing is named by rollouts that are gone"
    for store in [cache.rollouts, cache.deployments, cache.replicasets, *cache.routers.values()]:
        assert store.keys() == [] and not store._absent, f"{store.kind}: {store.keys()} {sorted(store._absent)[:3]}"
    assert not cache._listed_sets and not cache._conflicted
