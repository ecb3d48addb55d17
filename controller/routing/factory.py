"""Choosing and building the router a rollout's ``trafficRouting`` names."""

from __future__ import annotations

from typing import Any

from controller.model.spec import RolloutSpec
from controller.model.status import AppliedRouting
from controller.routing.base import Router, RouterError
from controller.routing.gateway_api import GatewayRouteRouter
from controller.routing.haproxy import HaproxyRouter
from controller.routing.istio import IstioRouter
from controller.routing.kube_common import ObjectRef
from controller.routing.nginx import NginxCanaryRouter
from controller.routing.replicas import ReplicaRatioRouter
from controller.routing.smi import TrafficSplitRouter


def build_router(target: AppliedRouting | RolloutSpec, namespace: str, api_client: Any | None) -> Router:
    """The router for a recorded routing (or a spec's); Kubernetes routers need ``api_client``, HAProxy not."""
    target = AppliedRouting.of(target) if isinstance(target, RolloutSpec) else target
    routing = target.traffic_routing
    if routing.haproxy is not None:
        h = routing.haproxy
        return HaproxyRouter(h.socket, h.backend, h.blue_server, h.green_server)
    if api_client is None:
        raise RouterError(f"trafficRouting.{routing.kind} needs a Kubernetes API connection")
    if routing.replicas is not None:
        return ReplicaRatioRouter(
            api_client,
            namespace,
            target.blue_deployment,
            target.green_deployment,
            total=routing.replicas.total_replicas,
        )
    blue, green = target.blue_service or "", target.green_service or ""
    if routing.gateway_api is not None:
        g = routing.gateway_api
        if g.grpc_route:
            return GatewayRouteRouter(api_client, namespace, g.grpc_route, blue, green, kind="GRPCRoute", rule=g.rule)
        return GatewayRouteRouter(api_client, namespace, g.http_route or "", blue, green, kind="HTTPRoute", rule=g.rule)
    if routing.istio is not None:
        return IstioRouter(api_client, namespace, routing.istio.virtual_service, blue, green, route=routing.istio.route)
    if routing.smi is not None:
        return TrafficSplitRouter(api_client, namespace, routing.smi.traffic_split, blue, green)
    if routing.nginx is not None:
        n = routing.nginx
        return NginxCanaryRouter(api_client, namespace, n.ingress, blue, green, canary_name=n.canary_ingress)
    raise RouterError(f"no router for trafficRouting.{routing.kind}")


_NO_CLIENT = object()
"""Stands in for an API client when a router is built only to ask which objects it uses (no call is made)."""


def router_refs(target: AppliedRouting | RolloutSpec, namespace: str) -> tuple[ObjectRef, ...]:
    """The Kubernetes objects the router for ``target`` reads and writes; none for HAProxy."""
    router = build_router(target, namespace, _NO_CLIENT)
    refs = getattr(router, "refs", None)
    return tuple(refs()) if callable(refs) else ()
