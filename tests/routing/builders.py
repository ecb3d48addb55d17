"""Small object builders shared by the router tests, shaped as users write them."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]
NS = "shop"
BLUE = "checkout-blue"
GREEN = "checkout-green"


def backend(name: str, weight: int | None = None, **extra: Any) -> Json:
    ref: Json = {"name": name, "port": 8080, **extra}
    if weight is not None:
        ref["weight"] = weight
    return ref


def gateway_route(kind: str = "HTTPRoute", name: str = "checkout", rules: list[Json] | None = None) -> Json:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "labels": {"team": "payments"}},
        "spec": {
            "parentRefs": [{"name": "public", "namespace": "gateways"}],
            "rules": rules
            if rules is not None
            else [
                {
                    "name": "health",
                    "matches": [{"path": {"type": "PathPrefix", "value": "/healthz"}}],
                    "backendRefs": [backend("health-svc")],
                },
                {
                    "name": "main",
                    "backendRefs": [backend(BLUE, 100), backend(GREEN, 0)],
                    "filters": [
                        {
                            "type": "RequestHeaderModifier",
                            "requestHeaderModifier": {"add": [{"name": "x-track", "value": "bg"}]},
                        }
                    ],
                },
            ],
        },
    }


def deployment(name: str, replicas: int, app: str = "checkout") -> Json:
    labels = {"app": app, "track": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": f"example/{name}:1"}]},
            },
        },
    }


def destination(host: str, weight: int | None = None, **extra: Any) -> Json:
    dest: Json = {"destination": {"host": host, **extra}}
    if weight is not None:
        dest["weight"] = weight
    return dest


def virtual_service(http: list[Json] | None = None) -> Json:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "checkout", "namespace": NS},
        "spec": {
            "hosts": ["checkout.example.com"],
            "gateways": ["istio-system/public"],
            "http": http
            if http is not None
            else [
                {"name": "admin", "match": [{"uri": {"prefix": "/admin"}}], "route": [destination("admin-svc")]},
                {
                    "name": "primary",
                    "retries": {"attempts": 3},
                    "route": [
                        destination(f"{BLUE}.{NS}.svc.cluster.local", 100, port={"number": 80}),
                        destination(GREEN, 0, port={"number": 80}),
                    ],
                },
            ],
        },
    }


def traffic_split(version: str = "v1alpha2", backends: list[Json] | None = None) -> Json:
    return {
        "apiVersion": f"split.smi-spec.io/{version}",
        "kind": "TrafficSplit",
        "metadata": {"name": "checkout", "namespace": NS},
        "spec": {
            "service": "checkout",
            "backends": backends
            if backends is not None
            else [{"service": BLUE, "weight": 100}, {"service": GREEN, "weight": 0}],
        },
    }


def ingress_path(path: str, service: str) -> Json:
    return {"path": path, "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"number": 80}}}}


def ingress(name: str = "checkout", paths: list[Json] | None = None, **meta: Any) -> Json:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": NS, **meta},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
            "rules": [
                {
                    "host": "shop.example.com",
                    "http": {
                        "paths": paths
                        if paths is not None
                        else [ingress_path("/checkout", BLUE), ingress_path("/static", "cdn-proxy")]
                    },
                }
            ],
        },
    }
