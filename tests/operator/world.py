"""Kubernetes objects for operator end-to-end tests: two tracks with ReplicaSets and ready pods, an
HTTPRoute splitting between their Services, and rollouts built from the Gateway API sample."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import REPO

Json = dict[str, Any]
ROUTE = ("gateway.networking.k8s.io/v1", "httproutes")
BGR = ("greenlane.dev/v1alpha1", "bluegreenrollouts")
HASHES = {"checkout": "5d8f7c9b6d", "checkout-py312": "7b9c4f6d8e"}
SUFFIX = "x2k9q"


def pod_name(deployment: str) -> str:
    return f"{deployment}-{HASHES[deployment]}-{SUFFIX}"


def track_objects(namespace: str, deployment: str) -> list[Json]:
    labels = {"app": deployment}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "app:1"}]}}
    template_hash = HASHES[deployment]
    dep_uid = f"uid-{namespace}-{deployment}"
    revision = {"deployment.kubernetes.io/revision": "1"}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": deployment,
                "namespace": namespace,
                "uid": dep_uid,
                "generation": 1,
                "annotations": revision,
            },
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template},
            "status": {
                "observedGeneration": 1,
                "replicas": 1,
                "availableReplicas": 1,
                "updatedReplicas": 1,
                "readyReplicas": 1,
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{deployment}-{template_hash}",
                "namespace": namespace,
                "annotations": revision,
                "labels": {**labels, "pod-template-hash": template_hash},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": deployment,
                        "uid": dep_uid,
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {**labels, "pod-template-hash": template_hash}},
                "template": template,
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name(deployment),
                "namespace": namespace,
                "labels": {**labels, "pod-template-hash": template_hash},
            },
            "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
        },
    ]


def route(namespace: str) -> Json:
    def ref(service: str, weight: int) -> Json:
        return {"group": "", "kind": "Service", "name": service, "port": 8080, "weight": weight}

    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "checkout", "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": "public"}],
            "rules": [{"name": "main", "backendRefs": [ref("checkout-blue", 100), ref("checkout-green", 0)]}],
        },
    }


def green_weight(obj: Json | None) -> int:
    """Green's percentage as the route spells it (what the data plane would send)."""
    if obj is None:
        return 0
    refs = obj["spec"]["rules"][0]["backendRefs"]
    weights = {r["name"]: int(r.get("weight", 1)) for r in refs}
    total = sum(weights.values())
    return round(100 * weights.get("checkout-green", 0) / total) if total else 0


def rollout(namespace: str, prometheus: str, steps: list[Json]) -> Json:
    doc: Json = yaml.safe_load((REPO / "config" / "samples" / "checkout-gateway-api.yaml").read_text())
    doc["metadata"]["namespace"] = namespace
    spec = doc["spec"]
    spec["steps"] = steps
    spec["analysis"] = {
        "prometheus": {"address": prometheus, "timeout": "3s"},
        "interval": "2s",
        "warmup": "1s",
        "failureLimit": 2,
        "requiredPasses": 2,
        "maxHold": "2m",
        "checks": [
            {  # p90: a 40 req/s test fleet shows a p99 within 1.5x only after a minute or so per step
                "name": "p99-latency",
                "template": "latency",
                "quantile": 0.9,
                "maxRatioToBlue": 1.5,
                "minRequests": 5,
                "window": "1m",
            },
            {"name": "errors", "template": "error-rate", "max": 0.05, "minRequests": 5, "window": "1m"},
            {"name": "python", "template": "python-version"},
        ],
    }
    return doc
