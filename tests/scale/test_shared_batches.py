"""Rollouts share batched Prometheus queries only when they would send them identically: same endpoint,
same settings, same credentials. A tenant's token never carries another tenant's tracks."""

from __future__ import annotations

import base64
from typing import Any

from controller.clock import ManualClock
from controller.kube.credentials import OPT_IN_LABEL, OPT_IN_VALUE
from controller.kube.prometheus_pool import SourcePool
from controller.model.spec import PrometheusConfig
from tests.kube.harness import RunningEmulator

URL = "http://prometheus.monitoring:9090"


def secret(namespace: str, token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "reader", "namespace": namespace, "labels": {OPT_IN_LABEL: OPT_IN_VALUE}},
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }


def test_equal_endpoints_share_a_key_and_credentials_keep_them_apart(kube: RunningEmulator, api_client: Any) -> None:
    pool = SourcePool(api_client, ManualClock(), URL)
    plain = PrometheusConfig.model_validate({"address": URL})
    shop_source, shop = pool.keyed("shop", plain)
    pay_source, pay = pool.keyed("payments", plain)
    assert shop == pay and shop_source is pay_source, "without Secrets, namespaces share the session and the batch"
    assert pool.keyed("shop", PrometheusConfig.model_validate({"address": URL, "timeout": "7s"}))[1] != shop
    for namespace, token in (("tenant-a", "token-a"), ("tenant-b", "token-b"), ("tenant-c", "token-a")):
        kube.seed(secret(namespace, token), "secrets")
    authed = PrometheusConfig.model_validate({"address": URL, "bearerTokenSecret": {"name": "reader", "key": "token"}})
    a, b, c = (pool.keyed(ns, authed)[1] for ns in ("tenant-a", "tenant-b", "tenant-c"))
    assert a not in (b, shop), "different credentials never share a batch"
    assert a == c, "the same token in two namespaces may"
    pool.close()
