"""SMI TrafficSplit router against the strict emulator."""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

import pytest

from controller.routing.base import RouterError
from controller.routing.kube_common import RetryPolicy
from controller.routing.smi import TrafficSplitRouter, parse_quantity
from tests.kube.harness import RunningEmulator
from tests.routing.builders import BLUE, GREEN, NS, traffic_split


def router(api_client: Any, version: str = "v1alpha2") -> TrafficSplitRouter:
    return TrafficSplitRouter(
        api_client,
        NS,
        "checkout",
        BLUE,
        GREEN,
        api_version=f"split.smi-spec.io/{version}",
        retry=RetryPolicy(backoff=0),
    )


@pytest.mark.parametrize("version", ["v1alpha2", "v1alpha3", "v1alpha4"])
def test_set_weight_writes_integer_pair(kube: RunningEmulator, api_client: Any, version: str) -> None:
    seeded = kube.seed(
        traffic_split(
            version,
            [
                {"service": "legacy", "weight": 0},
                {"service": BLUE, "weight": 100},
                {"service": GREEN, "weight": 0},
            ],
        )
    )
    kube.clear_requests()

    assert router(api_client, version).set_weight(10) == 10

    path = f"/apis/split.smi-spec.io/{version}/namespaces/{NS}/trafficsplits/checkout"
    assert [r.brief() for r in kube.requests()] == [
        ("GET", path, 200),
        ("PUT", path, 200),
        ("GET", path, 200),
    ]
    expected = copy.deepcopy(seeded)
    expected["spec"]["backends"] = [
        {"service": "legacy", "weight": 0},
        {"service": BLUE, "weight": 90},
        {"service": GREEN, "weight": 10},
    ]
    assert kube.requests()[1].body == expected


def test_v1alpha1_reads_and_writes_quantities(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(traffic_split("v1alpha1", [{"service": BLUE, "weight": "750m"}, {"service": GREEN, "weight": "250m"}]))
    assert router(api_client, "v1alpha1").get_weight() == 25
    assert router(api_client, "v1alpha1").set_weight(60) == 60
    stored = kube.get("split.smi-spec.io/v1alpha1", "trafficsplits", NS, "checkout")
    assert stored is not None
    assert stored["spec"]["backends"] == [
        {"service": BLUE, "weight": "40"},
        {"service": GREEN, "weight": "60"},
    ]


def test_missing_split_is_named(kube: RunningEmulator, api_client: Any) -> None:
    with pytest.raises(RouterError, match=r"TrafficSplit shop/checkout not found"):
        router(api_client).set_weight(1)


def test_split_without_green_is_not_ours(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(traffic_split(backends=[{"service": BLUE, "weight": 100}]))
    with pytest.raises(RouterError, match=r"spec.backends does not list Service 'checkout-green'"):
        router(api_client).set_weight(1)
    assert kube.requests(writes_only=True) == []


def test_garbage_weight_names_the_field(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(traffic_split(backends=[{"service": BLUE, "weight": "lots"}, {"service": GREEN, "weight": 0}]))
    with pytest.raises(RouterError, match=r"spec.backends\[service='checkout-blue'\].weight"):
        router(api_client).get_weight()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Fraction(1)),
        (3, Fraction(3)),
        ("500m", Fraction(1, 2)),
        ("1.5", Fraction(3, 2)),
        ("2k", Fraction(2000)),
        ("1Ki", Fraction(1024)),
        ("1e2", Fraction(100)),
    ],
)
def test_quantities_parse_exactly(text: Any, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1x", True, "1..2"])
def test_malformed_quantities_are_rejected(text: Any) -> None:
    with pytest.raises(ValueError, match="not a quantity"):
        parse_quantity(text)
