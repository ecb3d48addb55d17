"""The strict emulator's own semantics, exercised through the official client.

The router tests are only as good as these rules, so each rule the routers rely on is pinned here.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import watch

from tests.kube.harness import RunningEmulator
from tests.routing.builders import NS, deployment, gateway_route

GROUP, VERSION, PLURAL = "gateway.networking.k8s.io", "v1", "httproutes"
API = f"{GROUP}/{VERSION}"
ROUTE_PATH = f"/apis/{API}/namespaces/{NS}/{PLURAL}/checkout"


WATCH: Any = watch.Watch  # the watch helper is untyped


def custom(api_client: Any) -> Any:
    return k8s.CustomObjectsApi(api_client)


def raw(api_client: Any, method: str, path: str, body: Any, content_type: str) -> tuple[int, Any]:
    """Send a request with an explicit Content-Type; returns (status, decoded body)."""
    import json

    serialized = api_client.param_serialize(
        method=method, resource_path=path, header_params={"Content-Type": content_type}, body=body
    )
    response = api_client.call_api(*serialized)
    data = response.read()
    return response.status, json.loads(data) if data else None


def get_route(api_client: Any) -> dict[str, Any]:
    obj: dict[str, Any] = custom(api_client).get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "checkout")
    return obj


def test_stale_resource_version_is_a_conflict(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route())
    mine = get_route(api_client)
    theirs = get_route(api_client)
    theirs["metadata"]["labels"]["by"] = "them"
    custom(api_client).replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "checkout", theirs)

    mine["spec"]["rules"] = []
    with pytest.raises(k8s.ApiException) as caught:
        custom(api_client).replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "checkout", mine)
    assert caught.value.status == 409
    assert "the object has been modified" in str(caught.value.body)
    assert get_route(api_client)["metadata"]["labels"]["by"] == "them"


def test_every_write_bumps_resource_version_and_spec_writes_bump_generation(
    kube: RunningEmulator, api_client: Any
) -> None:
    seeded = kube.seed(gateway_route())
    obj = get_route(api_client)
    obj["metadata"]["labels"]["x"] = "1"
    relabelled = custom(api_client).replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "checkout", obj)
    relabelled["spec"]["rules"] = []
    respecced = custom(api_client).replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "checkout", relabelled)
    versions = [int(o["metadata"]["resourceVersion"]) for o in (seeded, relabelled, respecced)]
    assert versions == sorted(set(versions))
    assert [o["metadata"]["generation"] for o in (seeded, relabelled, respecced)] == [1, 1, 2]
    assert respecced["metadata"]["uid"] == seeded["metadata"]["uid"]


def test_put_replaces_rather_than_merges(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route())
    obj = get_route(api_client)
    del obj["metadata"]["labels"]
    obj["spec"] = {"parentRefs": []}
    custom(api_client).replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "checkout", obj)
    stored = kube.get(API, PLURAL, NS, "checkout")
    assert stored is not None
    assert stored["spec"] == {"parentRefs": []}
    assert "labels" not in stored["metadata"]


def test_custom_resources_refuse_blind_updates_builtins_accept_them(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route())
    obj = get_route(api_client)
    del obj["metadata"]["resourceVersion"]
    with pytest.raises(k8s.ApiException) as caught:
        custom(api_client).replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "checkout", obj)
    assert caught.value.status == 422

    kube.seed(deployment("web", 2))
    apps: Any = k8s.AppsV1Api(api_client)
    dep = apps.read_namespaced_deployment("web", NS)
    dep.metadata.resource_version = None
    dep.spec.replicas = 4
    assert apps.replace_namespaced_deployment("web", NS, dep).spec.replicas == 4


def test_generate_name_is_honoured_and_names_collide_with_409(kube: RunningEmulator, api_client: Any) -> None:
    body = gateway_route()
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "checkout-"
    created = [custom(api_client).create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, body) for _ in range(3)]
    names = [c["metadata"]["name"] for c in created]
    assert len(set(names)) == 3
    assert all(n.startswith("checkout-") and len(n) == len("checkout-") + 5 for n in names)
    assert all("generateName" not in c["metadata"] for c in created)

    with pytest.raises(k8s.ApiException) as caught:
        custom(api_client).create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, gateway_route(name=names[0]))
    assert caught.value.status == 409
    assert "already exists" in str(caught.value.body)


def test_json_patch_applies_and_a_failed_test_op_is_422(kube: RunningEmulator, api_client: Any) -> None:
    seeded = kube.seed(gateway_route())
    rv = seeded["metadata"]["resourceVersion"]
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "replace", "path": "/spec/rules/1/backendRefs/1/weight", "value": 7},
    ]
    status, body = raw(api_client, "PATCH", ROUTE_PATH, ops, "application/json-patch+json")
    assert status == 200
    assert body["spec"]["rules"][1]["backendRefs"][1]["weight"] == 7
    assert body["spec"]["rules"][0] == seeded["spec"]["rules"][0]  # the rest of the atomic list survives

    status, body = raw(api_client, "PATCH", ROUTE_PATH, ops, "application/json-patch+json")  # rv is stale now
    assert (status, body["code"], body["reason"]) == (422, 422, "Invalid")

    status, _ = raw(api_client, "PATCH", ROUTE_PATH, [{"op": "jump"}], "application/json-patch+json")
    assert status == 400


def test_merge_patch_replaces_lists_and_strategic_merge_is_refused_for_custom_resources(
    kube: RunningEmulator, api_client: Any
) -> None:
    kube.seed(gateway_route())
    custom(api_client).patch_namespaced_custom_object(
        GROUP, VERSION, NS, PLURAL, "checkout", {"spec": {"rules": [{"name": "only"}]}}
    )
    stored = kube.get(API, PLURAL, NS, "checkout")
    assert stored is not None
    assert stored["spec"]["rules"] == [{"name": "only"}]  # the whole list, as the real server does
    assert kube.requests()[-1].content_type == "application/merge-patch+json"

    status, body = raw(api_client, "PATCH", ROUTE_PATH, {"spec": {}}, "application/strategic-merge-patch+json")
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")


def test_status_is_a_separate_subresource(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed({**gateway_route(), "status": {"parents": []}})
    obj = get_route(api_client)
    obj["status"] = {"parents": [{"hacked": True}]}
    obj["metadata"]["labels"]["x"] = "y"
    after_main = custom(api_client).replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "checkout", obj)
    assert after_main["status"] == {"parents": []}
    assert after_main["metadata"]["labels"]["x"] == "y"

    after_main["status"] = {"parents": [{"controllerName": "x"}]}
    after_main["metadata"]["labels"]["x"] = "ignored"
    after_status = custom(api_client).replace_namespaced_custom_object_status(
        GROUP, VERSION, NS, PLURAL, "checkout", after_main
    )
    assert after_status["status"] == {"parents": [{"controllerName": "x"}]}
    assert after_status["metadata"]["labels"]["x"] == "y"


def test_scale_subresource_reads_and_writes_spec_replicas(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(deployment("web", 3))
    apps: Any = k8s.AppsV1Api(api_client)
    scale = apps.read_namespaced_deployment_scale("web", NS)
    assert (scale.kind, scale.spec.replicas, scale.status.selector) == ("Scale", 3, "app=checkout,track=web")
    stale = apps.read_namespaced_deployment_scale("web", NS)
    scale.spec.replicas = 5
    assert apps.replace_namespaced_deployment_scale("web", NS, scale).spec.replicas == 5
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 5
    stale.spec.replicas = 1
    with pytest.raises(k8s.ApiException) as caught:
        apps.replace_namespaced_deployment_scale("web", NS, stale)
    assert caught.value.status == 409


def test_finalizers_delay_deletion_until_removed(kube: RunningEmulator, api_client: Any) -> None:
    route = gateway_route()
    route["metadata"]["finalizers"] = ["greenlane.dev/cleanup"]
    kube.seed(route)
    custom(api_client).delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "checkout")
    marked = get_route(api_client)
    assert marked["metadata"]["deletionTimestamp"]
    marked["metadata"]["finalizers"] = []
    custom(api_client).replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "checkout", marked)
    assert kube.get(API, PLURAL, NS, "checkout") is None
    assert kube.history(API, PLURAL, NS, "checkout")[-1] is None


def test_missing_objects_are_404(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route(name="other"))
    with pytest.raises(k8s.ApiException) as caught:
        get_route(api_client)
    assert caught.value.status == 404


def test_list_carries_a_real_resource_version_and_watch_streams_changes(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route())
    listed = custom(api_client).list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)
    assert int(listed["metadata"]["resourceVersion"]) == kube.emulator.resource_version
    assert [i["metadata"]["name"] for i in listed["items"]] == ["checkout"]

    stream: Any = WATCH()
    seen: list[tuple[str, str]] = []
    for event in stream.stream(
        custom(api_client).list_namespaced_custom_object, GROUP, VERSION, NS, PLURAL, _request_timeout=5
    ):
        seen.append((event["type"], event["object"]["metadata"]["resourceVersion"]))
        if len(seen) == 1:
            obj = get_route(api_client)
            obj["metadata"]["labels"]["bump"] = "1"
            custom(api_client).replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "checkout", obj)
        if len(seen) == 2:
            stream.stop()
    assert [t for t, _ in seen] == ["ADDED", "MODIFIED"]
    assert int(seen[1][1]) > int(seen[0][1])


def test_journal_and_faults(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route())
    kube.faults.fail("GET", ROUTE_PATH, times=2, status=503, reason="ServiceUnavailable")
    statuses = []
    for _ in range(3):
        try:
            get_route(api_client)
            statuses.append(200)
        except k8s.ApiException as exc:
            statuses.append(exc.status)
    assert statuses == [503, 503, 200]
    recorded = kube.requests()
    assert [r.brief() for r in recorded] == [("GET", ROUTE_PATH, s) for s in statuses]
    assert recorded[0].body is None and recorded[0].query == {}


def test_watch_ends_at_timeout_seconds(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route())
    events = list(
        WATCH().stream(
            custom(api_client).list_namespaced_custom_object,
            GROUP,
            VERSION,
            NS,
            PLURAL,
            timeout_seconds=1,
            _request_timeout=10,
        )
    )
    assert [e["type"] for e in events] == ["ADDED"]


def test_watch_resumes_after_a_resource_version(kube: RunningEmulator, api_client: Any) -> None:
    first = kube.seed(gateway_route())
    kube.seed(gateway_route(name="second"))
    kube.seed(gateway_route(name="elsewhere") | {"metadata": {"name": "elsewhere", "namespace": "other"}})
    events = list(
        WATCH().stream(
            custom(api_client).list_namespaced_custom_object,
            GROUP,
            VERSION,
            NS,
            PLURAL,
            resource_version=first["metadata"]["resourceVersion"],
            timeout_seconds=1,
        )
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "second")]


def test_watch_from_a_compacted_resource_version_is_410(kube: RunningEmulator, api_client: Any) -> None:
    old = kube.seed(gateway_route())
    kube.expire_watches()
    stream: Any = WATCH()
    with pytest.raises(k8s.ApiException) as caught:
        list(
            stream.stream(
                custom(api_client).list_namespaced_custom_object,
                GROUP,
                VERSION,
                NS,
                PLURAL,
                resource_version=old["metadata"]["resourceVersion"],
                timeout_seconds=1,
            )
        )
    assert caught.value.status == 410
