"""Replica-ratio router: the arithmetic (table and properties) and the scale writes in the emulator."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.routing.base import RouterError, WeightMismatch
from controller.routing.kube_common import RetryPolicy
from controller.routing.replicas import ReplicaRatioRouter, split_replicas
from tests.kube.harness import RunningEmulator
from tests.routing.builders import NS, deployment

BLUE_DEP, GREEN_DEP = "checkout", "checkout-py312"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
BLUE_SCALE, GREEN_SCALE = f"{DEPLOYMENTS}/{BLUE_DEP}/scale", f"{DEPLOYMENTS}/{GREEN_DEP}/scale"


@pytest.mark.parametrize(
    ("total", "weight", "expected"),
    [
        (10, 0, (10, 0)),
        (10, 5, (9, 1)),  # 0.5 -> never 0 green
        (10, 25, (8, 2)),  # 2.5: 2 (20%) and 3 (30%) tie -> the cautious side
        (10, 50, (5, 5)),
        (10, 99, (1, 9)),  # 9.9 -> never 0 blue below 100
        (10, 100, (0, 10)),
        (4, 5, (3, 1)),
        (4, 30, (3, 1)),  # 1.2 -> 1 (25%) beats 2 (50%)
        (4, 40, (2, 2)),  # 1.6 -> 2 (50%) beats 1 (25%)
        (3, 50, (2, 1)),  # 1.5: 33% and 67% tie -> cautious
        (3, 67, (1, 2)),
        (2, 1, (1, 1)),
        (2, 99, (1, 1)),
        (7, 33, (5, 2)),  # 2.31 -> 2 (28.6%) beats 3 (42.9%)
        (1, 0, (1, 0)),
        (1, 100, (0, 1)),
    ],
)
def test_split_table(total: int, weight: int, expected: tuple[int, int]) -> None:
    assert split_replicas(total, weight) == expected


def test_one_replica_cannot_be_split() -> None:
    with pytest.raises(ValueError, match="at least 2 are needed"):
        split_replicas(1, 50)


@given(total=st.integers(min_value=2, max_value=500), weight=st.integers(min_value=0, max_value=100))
def test_split_properties(total: int, weight: int) -> None:
    blue, green = split_replicas(total, weight)
    assert blue + green == total
    if 1 <= weight <= 99:
        assert green >= 1
        assert blue >= 1
        # closest to the requested share among every split that keeps both tracks alive
        distance = abs(Fraction(100 * green, total) - weight)
        assert all(abs(Fraction(100 * g, total) - weight) >= distance for g in range(1, total))
    else:
        assert green == (total if weight == 100 else 0)


def seed_pair(kube: RunningEmulator, blue: int, green: int) -> None:
    kube.seed(deployment(BLUE_DEP, blue))
    kube.seed(deployment(GREEN_DEP, green))


def router(api_client: Any, total: int | None = None) -> ReplicaRatioRouter:
    return ReplicaRatioRouter(api_client, NS, BLUE_DEP, GREEN_DEP, total=total, retry=RetryPolicy(backoff=0))


def replicas(kube: RunningEmulator, name: str) -> int:
    obj = kube.get("apps/v1", "deployments", NS, name)
    assert obj is not None
    count: int = obj["spec"]["replicas"]
    return count


def test_growing_green_scales_green_up_before_blue_down(kube: RunningEmulator, api_client: Any) -> None:
    seed_pair(kube, 10, 0)
    before = kube.get("apps/v1", "deployments", NS, BLUE_DEP)
    kube.clear_requests()

    assert router(api_client).set_weight(30) == 30

    writes = kube.requests(writes_only=True)
    assert [(r.method, r.path, r.body["spec"]) for r in writes] == [
        ("PUT", GREEN_SCALE, {"replicas": 3}),
        ("PUT", BLUE_SCALE, {"replicas": 7}),
    ]
    assert all(r.content_type == "application/json" and r.body["kind"] == "Scale" for r in writes)
    assert all(r.body["metadata"]["resourceVersion"] for r in writes)
    assert (replicas(kube, BLUE_DEP), replicas(kube, GREEN_DEP)) == (7, 3)
    after = kube.get("apps/v1", "deployments", NS, BLUE_DEP)
    assert before is not None and after is not None
    assert after["spec"]["template"] == before["spec"]["template"]  # only spec.replicas moved


def test_rolling_back_scales_blue_up_before_green_down(kube: RunningEmulator, api_client: Any) -> None:
    seed_pair(kube, 5, 5)
    kube.clear_requests()
    assert router(api_client).set_weight(0) == 0
    assert [(r.path, r.body["spec"]["replicas"]) for r in kube.requests(writes_only=True)] == [
        (BLUE_SCALE, 10),
        (GREEN_SCALE, 0),
    ]


def test_effective_weight_is_the_replica_share(kube: RunningEmulator, api_client: Any) -> None:
    seed_pair(kube, 3, 0)
    assert router(api_client).set_weight(50) == 33  # 1 of 3 pods: the closest split, cautious on ties
    assert router(api_client).get_weight() == 33


def test_given_total_overrides_current_replicas(kube: RunningEmulator, api_client: Any) -> None:
    seed_pair(kube, 2, 0)
    assert router(api_client, total=8).set_weight(25) == 25
    assert (replicas(kube, BLUE_DEP), replicas(kube, GREEN_DEP)) == (6, 2)


def test_missing_deployment_is_named(kube: RunningEmulator, api_client: Any) -> None:
    kube.seed(deployment(BLUE_DEP, 4))
    with pytest.raises(RouterError, match=r"Deployment shop/checkout-py312 not found"):
        router(api_client).set_weight(10)
    assert kube.requests(writes_only=True) == []


def test_single_replica_cannot_be_split_and_nothing_is_written(kube: RunningEmulator, api_client: Any) -> None:
    seed_pair(kube, 1, 0)
    with pytest.raises(RouterError, match=r"spec.replicas: 1 replica\(s\) cannot be split 90/10"):
        router(api_client).set_weight(10)
    assert kube.requests(writes_only=True) == []


def test_concurrent_scale_is_retried(kube: RunningEmulator, api_client: Any) -> None:
    seed_pair(kube, 10, 0)

    def label_it(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"].setdefault("labels", {})["touched"] = "yes"
        return obj

    kube.faults.edit_before("PUT", GREEN_SCALE, label_it)
    assert router(api_client).set_weight(50) == 50
    assert [(r.path, r.status) for r in kube.requests(writes_only=True)] == [
        (GREEN_SCALE, 409),
        (GREEN_SCALE, 200),
        (BLUE_SCALE, 200),
    ]
    green = kube.get("apps/v1", "deployments", NS, GREEN_DEP)
    assert green is not None
    assert green["metadata"]["labels"] == {"touched": "yes"}


def test_autoscaler_fighting_back_is_a_mismatch(kube: RunningEmulator, api_client: Any) -> None:
    seed_pair(kube, 10, 0)

    def autoscaler(obj: dict[str, Any]) -> dict[str, Any]:
        obj["spec"]["replicas"] = 12
        return obj

    # An HPA rescales blue after our write, before the read-back (blue's third scale read).
    kube.faults.edit_before("GET", BLUE_SCALE, autoscaler, skip=2)
    with pytest.raises(WeightMismatch, match=r"wrote 5/5 replicas but read back"):
        router(api_client).set_weight(50)
    assert (replicas(kube, BLUE_DEP), replicas(kube, GREEN_DEP)) == (12, 5)
