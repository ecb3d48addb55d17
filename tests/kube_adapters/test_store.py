"""The informer store: newest resourceVersion wins, only real changes are announced, our own writes are
seen at once and their echoes wake nobody, and objects are trimmed to what greenlane reads."""

from __future__ import annotations

import copy
import json
from typing import Any

from controller.kube.store import (
    Store,
    newer,
    trim_deployment,
    trim_replicaset,
    trim_rollout,
    trim_router_object,
)

Json = dict[str, Any]


def obj(name: str, rv: int, **fields: Any) -> Json:
    return {"metadata": {"name": name, "namespace": "shop", "resourceVersion": str(rv)}, **fields}


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[tuple[str, str], Json | None, Json | None]] = []

    def __call__(self, key: tuple[str, str], old: Json | None, new: Json | None) -> None:
        self.seen.append((key, old, new))

    @property
    def versions(self) -> list[str | None]:
        return [None if new is None else new["metadata"]["resourceVersion"] for _, _, new in self.seen]


def test_resource_versions_compare_as_numbers_and_opaque_ones_are_newer_when_different() -> None:
    assert newer("10", "9") and not newer("9", "10") and not newer("7", "7")
    assert newer("abc", "7") and not newer("abc", "abc")


def test_a_late_event_never_overwrites_a_newer_version() -> None:
    seen = Recorder()
    store = Store("things", copy.deepcopy, on_change=seen)
    assert store.apply(obj("a", 5, spec={"x": 1}))
    assert store.apply(obj("a", 7, spec={"x": 2}))
    assert not store.apply(obj("a", 6, spec={"x": 99})), "an older event arriving late is ignored"
    assert not store.apply(obj("a", 7, spec={"x": 2})), "a repeated event is ignored"
    current = store.get(("shop", "a"))
    assert current is not None and current["spec"] == {"x": 2} and current["metadata"]["resourceVersion"] == "7"
    assert seen.versions == ["5", "7"]


def test_a_new_version_that_changes_nothing_we_read_wakes_nobody() -> None:
    seen = Recorder()
    store = Store("deployments", trim_deployment, on_change=seen)
    dep = obj("checkout", 3, spec={"replicas": 2, "template": {"x": 1}}, status={"availableReplicas": 2})
    store.apply(dep)
    heartbeat = obj("checkout", 4, spec={"replicas": 2, "template": {"x": 2}}, status={"availableReplicas": 2})
    heartbeat["status"]["conditions"] = [{"type": "Progressing", "lastUpdateTime": "now"}]
    assert not store.apply(heartbeat), "template and conditions are not read: no announcement"
    stored = store.get(("shop", "checkout"))
    assert stored is not None and stored["metadata"]["resourceVersion"] == "4", "but the version moves on"
    store.apply(obj("checkout", 5, spec={"replicas": 2}, status={"availableReplicas": 1}))
    assert seen.versions == ["3", "5"]


def test_our_write_is_read_back_at_once_and_its_echo_is_silent() -> None:
    seen = Recorder()
    store = Store("rollouts", trim_rollout, on_change=seen)
    store.apply(obj("r", 10, spec={"s": 1}, status={"phase": "Pending"}))
    with store.fence(("shop", "r")):
        written = obj("r", 11, spec={"s": 1}, status={"phase": "Progressing"})
        store.apply(copy.deepcopy(written))  # the watch delivers the echo before the PUT's answer arrives
        store.written(written)
    store.apply(obj("r", 11, spec={"s": 1}, status={"phase": "Progressing"}))  # or after it
    read = store.get(("shop", "r"))
    assert read is not None and read["status"] == {"phase": "Progressing"}
    assert seen.versions == ["10"], "our own status write must not schedule another reconcile"


def test_someone_elses_change_during_our_write_is_delivered_after_it() -> None:
    seen = Recorder()
    store = Store("rollouts", trim_rollout, on_change=seen)
    store.apply(obj("r", 10, spec={"s": 1}))
    with store.fence(("shop", "r")):
        store.apply(obj("r", 11, spec={"s": 2}))  # a user's edit lands while our write is in flight
        assert seen.versions == ["10"], "held while we write"
        store.written(obj("r", 12, spec={"s": 2}, status={"phase": "Progressing"}))
    assert seen.versions == ["10", "11"], "the edit is not ours: delivered once the write returns"


def test_deletions_lists_and_unwanted_objects() -> None:
    seen = Recorder()
    wanted = {"a", "b"}
    store = Store(
        "things",
        copy.deepcopy,
        accept=lambda o: o["metadata"]["name"] in wanted,
        on_change=seen,
        remember_absent=True,
    )
    store.replace([obj("a", 1), obj("b", 2), obj("c", 3)])
    assert sorted(store.keys()) == [("shop", "a"), ("shop", "b")], "only what a rollout names is kept"
    store.apply(obj("b", 4), deleted=True)
    assert store.get(("shop", "b")) is None and store.known(("shop", "b")), "known to be absent"
    store.written(obj("a", 9, spec={"new": True}))
    store.replace([obj("a", 5)])  # a relist taken before our write landed
    current = store.get(("shop", "a"))
    assert current is not None and current["spec"] == {"new": True}, "a relist never undoes a newer write"
    store.replace([])
    assert store.keys() == [] and seen.seen[-1][2] is None


def test_trimming_keeps_what_reconciles_read_and_drops_the_rest() -> None:
    rollout = obj(
        "checkout",
        8,
        apiVersion="greenlane.dev/v1alpha1",
        kind="BlueGreenRollout",
        spec={"steps": [{"weight": 5}]},
        status={"phase": "Progressing"},
    )
    rollout["metadata"].update(
        generation=3,
        finalizers=["greenlane.dev/traffic-to-blue"],
        annotations={"greenlane.dev/command": "{}", "kubectl.kubernetes.io/last-applied-configuration": "x" * 5000},
        managedFields=[{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        labels={"team": "payments"},
    )
    trimmed = trim_rollout(rollout)
    assert trimmed["spec"] == rollout["spec"] and trimmed["status"] == rollout["status"]
    assert trimmed["metadata"]["annotations"] == {"greenlane.dev/command": "{}"}
    assert "managedFields" not in trimmed["metadata"] and trimmed["metadata"]["generation"] == 3
    dep = obj("checkout", 2, spec={"replicas": 3, "selector": {"matchLabels": {"app": "c"}}, "template": {"big": 1}})
    dep["status"] = {"availableReplicas": 3, "conditions": [{"type": "Available"}]}
    dep["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "4", "other": "y"}
    small = trim_deployment(dep)
    assert small["spec"] == {"replicas": 3, "selector": {"matchLabels": {"app": "c"}}}
    assert small["status"] == {"availableReplicas": 3}
    assert small["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "4"}
    rs = obj("checkout-abc", 3, spec={"template": {"big": 1}})
    rs["metadata"].update(labels={"pod-template-hash": "abc"}, ownerReferences=[{"kind": "Deployment", "name": "c"}])
    assert trim_replicaset(rs) == {
        "metadata": {
            "name": "checkout-abc",
            "namespace": "shop",
            "resourceVersion": "3",
            "labels": {"pod-template-hash": "abc"},
            "ownerReferences": [{"kind": "Deployment", "name": "c"}],
        }
    }
    route = obj("route", 5, spec={"rules": [{"backendRefs": []}]})
    route["metadata"]["managedFields"] = [{"manager": "x"}]
    route["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    kept = trim_router_object(route)
    assert kept["spec"] == route["spec"] and "managedFields" not in kept["metadata"]
    assert kept["metadata"]["annotations"], "routers PUT whole objects: user annotations must survive"


def test_stored_size_is_bounded_by_trimming() -> None:
    store = Store("rollouts", trim_rollout)
    big = obj("r", 1, spec={"steps": []}, status={})
    big["metadata"]["managedFields"] = [{"fieldsV1": {"f:x": "y" * 20_000}}]
    store.apply(big)
    assert store.size_bytes() < 300 < len(json.dumps(big))


def released(rv: int) -> Json:
    """A rollout as the API server answers the write that removed its last finalizer: deleted as it answers."""
    gone = obj("r", rv, spec={"s": 1}, status={"phase": "Aborted"})
    gone["metadata"].update(deletionTimestamp="2026-01-01T00:00:00Z", finalizers=[])
    return gone


def test_the_write_that_releases_the_last_finalizer_never_resurrects_the_rollout() -> None:
    """Issue 15 soak: the watch's DELETED may arrive before the answer of the write that removed the last
    finalizer. Stored as an ordinary write, that answer put a deleted rollout back in the cache for good (a
    ghost reconciled, scheduled and exported forever: ~1 in 5 churned rollouts in the soak bench)."""
    for deleted_event_first in (True, False):
        seen = Recorder()
        store = Store("rollouts", trim_rollout, on_change=seen)
        store.apply(obj("r", 10, spec={"s": 1}, status={"phase": "Aborted"}))
        with store.fence(("shop", "r")):
            if deleted_event_first:
                store.apply(released(12), deleted=True)  # the watch: deleted at the next revision
            store.written(released(11))  # the JSON Patch's answer
        if not deleted_event_first:
            store.apply(released(12), deleted=True)
        assert store.get(("shop", "r")) is None and len(store) == 0, f"ghost (DELETED first: {deleted_event_first})"
        assert seen.seen[-1][2] is None, "the deletion is announced (the operator forgets the rollout), never dropped"
        assert [new is None for _, _, new in seen.seen].count(True) == 1


def test_churn_leaves_nothing_behind_in_a_store() -> None:
    """Objects created, released and deleted, in both orders of the last write and its one DELETED: empty."""
    store = Store("rollouts", trim_rollout, index=lambda o: [o["metadata"]["namespace"]])
    for n in range(200):
        name, rv = f"r{n}", 1000 + 10 * n
        store.apply({**obj(name, rv), "metadata": {**obj(name, rv)["metadata"], "namespace": f"ns{n}"}})
        gone = released(rv + 1)
        gone["metadata"].update(name=name, namespace=f"ns{n}")
        later = copy.deepcopy(gone)
        later["metadata"]["resourceVersion"] = str(rv + 2)
        with store.fence((f"ns{n}", name)):
            if n % 2:
                store.apply(later, deleted=True)  # the watch delivers DELETED once: before the answer…
            store.written(gone)
        if not n % 2:
            store.apply(later, deleted=True)  # …or after it
    assert len(store) == 0 and store.size_bytes() == 0 and store.indexed_keys("ns1") == []
    assert not store._by_namespace and not store._index and not store._fences and not store._absent


def test_deletions_of_objects_nobody_names_are_not_remembered() -> None:
    """Deployments are watched cluster-wide: every Deployment deleted anywhere (a CI namespace, a churned
    rollout's world after the rollout) used to be remembered as absent, for good. Only names a rollout reads
    are worth remembering; one nobody names is fetched once if a rollout ever names it."""
    wanted = {"kept"}
    store = Store(
        "deployments", trim_deployment, accept=lambda o: o["metadata"]["name"] in wanted, remember_absent=True
    )
    for n in range(500):
        store.apply(obj(f"app-{n}", 10 + n), deleted=True)
    store.apply(obj("kept", 9000), deleted=True)
    assert store.known(("shop", "kept")), "a named Deployment's absence is remembered (no GET per reconcile)"
    assert not store.known(("shop", "app-7")) and store._absent == {("shop", "kept")}
