"""Istio VirtualService router against the strict emulator."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controller.routing.base import RouterError
from controller.routing.istio import IstioRouter
from controller.routing.kube_common import RetryPolicy
from tests.kube.harness import RunningEmulator
from tests.routing.builders import BLUE, GREEN, NS, destination, virtual_service

API = "networking.istio.io/v1"
PATH = f"/apis/{API}/namespaces/{NS}/virtualservices/checkout"


def router(api_client: Any, route: str | None = "primary") -> IstioRouter:
    return IstioRouter(api_client, NS, "checkout", BLUE, GREEN, route=route, retry=RetryPolicy(backoff=0))


def test_set_weight_writes_the_pair_into_the_named_route_only(kube: RunningEmulator, api_client: Any) -> None:
    seeded = kube.seed(virtual_service())
    kube.clear_requests()

    assert router(api_client).set_weight(30) == 30

    assert [r.brief() for r in kube.requests()] == [("GET", PATH, 200), ("PUT", PATH, 200), ("GET", PATH, 200)]
    expected = copy.deepcopy(seeded)
    expected["spec"]["http"][1]["route"] = [
        destination(f"{BLUE}.{NS}.svc.cluster.local", 70, port={"number": 80}),
        destination(GREEN, 30, port={"number": 80}),
    ]
    assert kube.requests()[1].body == expected
    stored = kube.get(API, "virtualservices", NS, "checkout")
    assert stored is not None
    assert stored["spec"] == expected["spec"]


def test_get_weight_reads_the_route(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(virtual_service([{"route": [destination(BLUE, 80), destination(f"{GREEN}.{NS}", 20)]}]))
    assert router(api_client, route=None).get_weight() == 20


def test_omitted_weight_beside_others_is_zero(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(virtual_service([{"route": [destination(BLUE, 100), destination(GREEN)]}]))
    assert router(api_client, route=None).get_weight() == 0


def test_unnamed_route_found_by_its_services(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(
        virtual_service(
            [
                {"name": "other", "route": [destination("other", 100)]},
                {"route": [destination(GREEN, 0), destination(BLUE, 100)]},
            ]
        )
    )
    assert router(api_client, route=None).set_weight(100) == 100
    stored = kube.get(API, "virtualservices", NS, "checkout")
    assert stored is not None
    assert stored["spec"]["http"] == [
        {"name": "other", "route": [destination("other", 100)]},
        {"route": [destination(GREEN, 100), destination(BLUE, 0)]},
    ]


def test_missing_virtual_service_is_named(kube: RunningEmulator, api_client: Any) -> None:
    with pytest.raises(RouterError, match=r"VirtualService shop/checkout not found"):
        router(api_client).get_weight()


def test_unknown_route_name_is_named(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(virtual_service())
    with pytest.raises(RouterError, match=r"spec.http has no route named 'canary'"):
        router(api_client, route="canary").set_weight(5)
    assert kube.requests(writes_only=True) == []


@pytest.mark.parametrize("host", [f"{GREEN}.other-ns.svc.cluster.local", f"{GREEN}.example.com", "checkout"])
def test_hosts_of_other_namespaces_or_domains_are_not_ours(kube: RunningEmulator, api_client: Any, host: str) -> None:
    kube.seed(virtual_service([{"name": "primary", "route": [destination(BLUE, 100), destination(host, 0)]}]))
    with pytest.raises(RouterError, match=r"route 'primary' has no destination for Service 'checkout-green'"):
        router(api_client).set_weight(5)
    assert kube.requests(writes_only=True) == []


def test_concurrent_edit_is_retried(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(virtual_service())

    def add_host(vs: dict[str, Any]) -> dict[str, Any]:
        vs["spec"]["hosts"].append("checkout.internal")
        return vs

    kube.faults.edit_before("PUT", PATH, add_host)
    assert router(api_client).set_weight(50) == 50
    assert [r.status for r in kube.requests(writes_only=True)] == [409, 200]
    stored = kube.get(API, "virtualservices", NS, "checkout")
    assert stored is not None
    assert stored["spec"]["hosts"] == ["checkout.example.com", "checkout.internal"]
