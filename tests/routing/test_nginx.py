"""ingress-nginx canary router against the strict emulator."""

from __future__ import annotations

from typing import Any

import pytest

from controller.routing.base import RouterError
from controller.routing.kube_common import RetryPolicy
from controller.routing.nginx import NginxCanaryRouter
from tests.kube.harness import RunningEmulator
from tests.routing.builders import BLUE, GREEN, NS, ingress, ingress_path

API = "networking.k8s.io/v1"
COLLECTION = f"/apis/{API}/namespaces/{NS}/ingresses"
CANARY_PATH = f"{COLLECTION}/checkout-canary"
MAIN_PATH = f"{COLLECTION}/checkout"


def router(api_client: Any) -> NginxCanaryRouter:
    return NginxCanaryRouter(api_client, NS, "checkout", BLUE, GREEN, retry=RetryPolicy(backoff=0))


def expected_canary(weight: str) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Ingress",
        "metadata": {
            "name": "checkout-canary",
            "namespace": NS,
            "labels": {"app.kubernetes.io/managed-by": "greenlane", "greenlane.dev/canary-of": "checkout"},
            "annotations": {
                "nginx.ingress.kubernetes.io/canary": "true",
                "nginx.ingress.kubernetes.io/canary-weight": weight,
            },
        },
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "shop.example.com", "http": {"paths": [ingress_path("/checkout", GREEN)]}}],
        },
    }


def test_first_weight_creates_the_canary_copying_only_blue_paths(kube: RunningEmulator, api_client: Any) -> None:
    main = kube.seed(ingress())
    kube.clear_requests()

    assert router(api_client).set_weight(5) == 5

    assert [r.brief() for r in kube.requests()] == [
        ("GET", MAIN_PATH, 200),
        ("GET", CANARY_PATH, 404),
        ("POST", COLLECTION, 201),
        ("GET", MAIN_PATH, 200),
        ("GET", CANARY_PATH, 200),
    ]
    assert kube.requests()[2].body == expected_canary("5")
    assert kube.get(API, "ingresses", NS, "checkout") == main  # the main Ingress is never written
    canary = kube.get(API, "ingresses", NS, "checkout-canary")
    assert canary is not None
    assert "ownerReferences" not in canary["metadata"]


def test_later_weights_update_the_canary_with_its_resource_version(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(ingress())
    router(api_client).set_weight(5)
    created = kube.get(API, "ingresses", NS, "checkout-canary")
    assert created is not None
    kube.clear_requests()

    assert router(api_client).set_weight(50) == 50

    put = [r for r in kube.requests() if r.method == "PUT"]
    assert [r.path for r in put] == [CANARY_PATH]
    assert put[0].body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    stored = kube.get(API, "ingresses", NS, "checkout-canary")
    assert stored is not None
    assert stored["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == "50"
    assert stored["spec"] == expected_canary("50")["spec"]


def test_user_annotations_on_the_canary_are_kept(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(ingress())
    canary = expected_canary("5")
    canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-by-header"] = "x-canary"
    kube.seed(canary)
    router(api_client).set_weight(20)
    stored = kube.get(API, "ingresses", NS, "checkout-canary")
    assert stored is not None
    assert stored["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-by-header"] == "x-canary"


def test_weight_is_zero_without_a_canary_and_scaled_by_total(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(ingress())
    assert router(api_client).get_weight() == 0
    canary = expected_canary("250")
    canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight-total"] = "1000"
    kube.seed(canary)
    assert router(api_client).get_weight() == 25


def test_missing_main_ingress_is_named(kube: RunningEmulator, api_client: Any) -> None:
    with pytest.raises(RouterError, match=r"Ingress shop/checkout not found"):
        router(api_client).set_weight(5)
    assert kube.requests(writes_only=True) == []


def test_main_ingress_without_blue_is_refused(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(ingress(paths=[ingress_path("/", "someone-else")]))
    with pytest.raises(RouterError, match=r"backend.service.name .* is the blue Service 'checkout-blue'"):
        router(api_client).set_weight(5)
    assert kube.requests(writes_only=True) == []


def test_foreign_ingress_with_the_canary_name_is_left_alone(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(ingress())
    kube.seed(ingress("checkout-canary"))
    with pytest.raises(RouterError, match=r"Ingress shop/checkout-canary exists but is not greenlane's canary"):
        router(api_client).set_weight(5)
    assert kube.requests(writes_only=True) == []


def test_canary_created_concurrently_is_retried_as_an_update(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(ingress())

    def someone_creates_it_first(body: dict[str, Any]) -> dict[str, Any]:
        body["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] = "1"
        return body

    kube.faults.edit_before("POST", COLLECTION, someone_creates_it_first)
    kube.clear_requests()

    assert router(api_client).set_weight(10) == 10

    assert [r.brief() for r in kube.requests()] == [
        ("GET", MAIN_PATH, 200),
        ("GET", CANARY_PATH, 404),
        ("POST", COLLECTION, 409),
        ("GET", CANARY_PATH, 200),
        ("PUT", CANARY_PATH, 200),
        ("GET", MAIN_PATH, 200),
        ("GET", CANARY_PATH, 200),
    ]
    stored = kube.get(API, "ingresses", NS, "checkout-canary")
    assert stored is not None
    assert stored["spec"] == expected_canary("10")["spec"]
    assert stored["metadata"]["annotations"] == expected_canary("10")["metadata"]["annotations"]
