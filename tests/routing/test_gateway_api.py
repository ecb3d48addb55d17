"""Gateway API router against the strict emulator: exact writes, read-back, ownership, conflicts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes import client as k8s

from controller.routing.base import RouterError, WeightMismatch
from controller.routing.gateway_api import GatewayRouteRouter
from controller.routing.kube_common import ConflictError, KubeApiError, RetryPolicy
from tests.kube.harness import RunningEmulator
from tests.routing.builders import BLUE, GREEN, NS, backend, gateway_route

API = "gateway.networking.k8s.io/v1"
NO_WAIT = RetryPolicy(attempts=4, backoff=0)
PATH = f"/apis/{API}/namespaces/{NS}/httproutes/checkout"


def router(api_client: Any, rule: str | None = "main", kind: Any = "HTTPRoute") -> GatewayRouteRouter:
    return GatewayRouteRouter(api_client, NS, "checkout", BLUE, GREEN, kind=kind, rule=rule, retry=NO_WAIT)


@pytest.mark.parametrize(("kind", "plural"), [("HTTPRoute", "httproutes"), ("GRPCRoute", "grpcroutes")])
def test_set_weight_writes_the_pair_into_the_named_rule_only(
    kube: RunningEmulator, api_client: Any, kind: str, plural: str
) -> None:
    seeded = kube.seed(gateway_route(kind))
    kube.clear_requests()

    assert router(api_client, kind=kind).set_weight(25) == 25

    path = f"/apis/{API}/namespaces/{NS}/{plural}/checkout"
    assert [r.brief() for r in kube.requests()] == [("GET", path, 200), ("PUT", path, 200), ("GET", path, 200)]
    put = kube.requests()[1]
    assert put.content_type == "application/json"
    expected = copy.deepcopy(seeded)
    expected["spec"]["rules"][1]["backendRefs"] = [backend(BLUE, 75), backend(GREEN, 25)]
    assert put.body == expected  # the whole object, carrying the resourceVersion we read
    stored = kube.get(API, plural, NS, "checkout")
    assert stored is not None
    assert stored["spec"] == expected["spec"]
    assert int(stored["metadata"]["resourceVersion"]) > int(seeded["metadata"]["resourceVersion"])


def test_get_weight_reads_relative_weights(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route(rules=[{"name": "main", "backendRefs": [backend(BLUE, 300), backend(GREEN, 100)]}]))
    assert router(api_client).get_weight() == 25


def test_backend_without_weight_counts_as_one(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route(rules=[{"backendRefs": [backend(BLUE), backend(GREEN)]}]))
    assert router(api_client, rule=None).get_weight() == 50


def test_unnamed_rule_is_found_by_its_two_services(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(
        gateway_route(
            rules=[
                {"backendRefs": [backend("other-svc", 7)]},
                {"backendRefs": [backend(GREEN, 0), backend(BLUE, 100)]},
            ]
        )
    )
    assert router(api_client, rule=None).set_weight(40) == 40
    stored = kube.get(API, "httproutes", NS, "checkout")
    assert stored is not None
    assert stored["spec"]["rules"] == [
        {"backendRefs": [backend("other-svc", 7)]},
        {"backendRefs": [backend(GREEN, 40), backend(BLUE, 60)]},
    ]


def test_repeating_the_same_weight_does_not_write(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route())
    router(api_client).set_weight(50)
    kube.clear_requests()
    assert router(api_client).set_weight(50) == 50
    assert kube.requests(writes_only=True) == []


def test_missing_route_names_the_object(kube: RunningEmulator, api_client: Any) -> None:
    with pytest.raises(RouterError, match=r"HTTPRoute shop/checkout not found"):
        router(api_client).set_weight(10)
    assert kube.requests(writes_only=True) == []


def test_unknown_rule_name_names_the_field(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route())
    with pytest.raises(RouterError, match=r"HTTPRoute shop/checkout: spec.rules has no rule named 'canary'"):
        router(api_client, rule="canary").get_weight()


def test_rule_without_green_is_not_ours(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route(rules=[{"name": "main", "backendRefs": [backend(BLUE, 1), backend("legacy", 1)]}]))
    with pytest.raises(RouterError, match=r"rule 'main' backendRefs does not reference Service 'checkout-green'"):
        router(api_client).set_weight(10)
    assert kube.requests(writes_only=True) == []


def test_no_rule_with_both_services_is_an_error(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route(rules=[{"backendRefs": [backend(BLUE)]}, {"backendRefs": [backend(GREEN)]}]))
    with pytest.raises(RouterError, match=r"no rule in spec.rules reference both Services"):
        router(api_client, rule=None).get_weight()


def test_same_name_in_another_namespace_or_kind_is_not_our_service(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(
        gateway_route(
            rules=[
                {
                    "name": "main",
                    "backendRefs": [
                        backend(BLUE, 100),
                        backend(GREEN, 0, namespace="elsewhere"),
                        backend(GREEN, 0, kind="ServiceImport", group="multicluster.x-k8s.io"),
                    ],
                }
            ]
        )
    )
    with pytest.raises(RouterError, match="does not reference Service 'checkout-green'"):
        router(api_client).get_weight()


def test_foreign_backend_in_the_rule_is_kept_and_the_read_back_says_so(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(
        gateway_route(
            rules=[{"name": "main", "backendRefs": [backend(BLUE, 100), backend(GREEN, 0), backend("mirror", 100)]}]
        )
    )
    with pytest.raises(WeightMismatch, match="wrote green 50% but read back 25%"):
        router(api_client).set_weight(50)
    stored = kube.get(API, "httproutes", NS, "checkout")
    assert stored is not None
    assert stored["spec"]["rules"][0]["backendRefs"][2] == backend("mirror", 100)


def test_concurrent_edit_conflicts_then_retries_without_losing_it(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route())

    def someone_else(route: dict[str, Any]) -> dict[str, Any]:
        route["spec"]["rules"][0]["backendRefs"][0]["port"] = 9090
        return route

    kube.faults.edit_before("PUT", PATH, someone_else)
    kube.clear_requests()

    assert router(api_client).set_weight(5) == 5

    assert [r.brief() for r in kube.requests()] == [
        ("GET", PATH, 200),
        ("PUT", PATH, 409),
        ("GET", PATH, 200),
        ("PUT", PATH, 200),
        ("GET", PATH, 200),
    ]
    stored = kube.get(API, "httproutes", NS, "checkout")
    assert stored is not None
    assert stored["spec"]["rules"][0]["backendRefs"][0]["port"] == 9090  # their edit survived
    assert stored["spec"]["rules"][1]["backendRefs"] == [backend(BLUE, 95), backend(GREEN, 5)]
    versions = [v for v in kube.history(API, "httproutes", NS, "checkout") if v is not None]
    assert len(versions) == 3  # seeded, their edit, our write


def test_conflicts_beyond_the_retry_budget_surface_as_transient(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route())
    kube.faults.fail("PUT", PATH, times=10)
    with pytest.raises(ConflictError) as caught:
        router(api_client).set_weight(5)
    assert caught.value.transient
    assert [r.method for r in kube.requests(writes_only=True)] == ["PUT"] * NO_WAIT.attempts


@pytest.mark.parametrize("weight", [-1, 101, True])
def test_out_of_range_weight_is_refused_before_any_request(kube: RunningEmulator, api_client: Any, weight: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        router(api_client).set_weight(weight)
    assert kube.requests() == []


def test_describe_names_route_rule_and_services(api_client: Any) -> None:
    assert router(api_client).describe() == ("HTTPRoute shop/checkout rule main (checkout-blue -> checkout-green)")


def test_unreachable_api_server_is_a_transient_error(kube: RunningEmulator) -> None:
    config = kube.configuration()
    config.host = "http://127.0.0.1:9"  # discard port: nothing listens
    config.retries = 0
    api: Any = k8s.ApiClient(config)
    try:
        with pytest.raises(KubeApiError, match=r"GET HTTPRoute shop/checkout: no answer") as caught:
            router(api).get_weight()
        assert caught.value.transient
    finally:
        api.close()


def test_server_errors_carry_status_and_message(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(gateway_route())
    kube.faults.fail("PUT", PATH, status=403, reason="Forbidden", message="RBAC says no")
    with pytest.raises(KubeApiError, match=r"PUT HTTPRoute shop/checkout: HTTP 403: RBAC says no") as caught:
        router(api_client).set_weight(5)
    assert not caught.value.transient
