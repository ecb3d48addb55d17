"""Istio VirtualService: green's share is a destination weight within one HTTP route.

Istio weights are percentages meant to sum to 100 (a lone destination takes everything whatever its
weight; an omitted weight next to others is 0), so the pair is written as green=w, blue=100-w and
read back as green / (sum of the route's weights). Destinations match a Service by the host's short
name; a host that names another namespace or an external domain is not ours.
"""

from __future__ import annotations

from typing import Any

from controller.routing.kube_common import (
    DEFAULT_RETRY,
    Json,
    ObjectRef,
    RetryPolicy,
    as_kube_api,
    check_weight,
    fetch,
    percent,
    update,
    verified,
)
from controller.routing.selection import Entries, blue_green, choose, label

_ROUTES = Entries(field="spec.http", entry="route", reaching="route to")


class IstioRouter:
    """Steers one ``spec.http`` route of a VirtualService between the blue and green Services."""

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        virtual_service: str,
        blue_service: str,
        green_service: str,
        *,
        route: str | None = None,
        api_version: str = "networking.istio.io/v1",
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._api = as_kube_api(api_client)
        self._ref = ObjectRef(api_version, "virtualservices", "VirtualService", namespace, virtual_service)
        self._route = route
        self._blue = blue_service
        self._green = green_service
        self._retry = retry

    def describe(self) -> str:
        route = f" route {self._route}" if self._route else ""
        return f"{self._ref}{route} ({self._blue} -> {self._green})"

    def refs(self) -> tuple[ObjectRef, ...]:
        """The objects this router reads and writes (the operator caches and watches them)."""
        return (self._ref,)

    def get_weight(self) -> int:
        route = self._locate(fetch(self._api, self._ref))
        destinations = route["route"]
        green_at = self._pair(route)[1]  # both Services present, so never a lone destination
        return percent(_weight(destinations[green_at]), sum(_weight(d) for d in destinations))

    def set_weight(self, green: int) -> int:
        check_weight(green)

        def mutate(vs: Json) -> Json:
            route = self._locate(vs)
            blue_at, green_at = self._pair(route)
            route["route"][green_at]["weight"] = green
            route["route"][blue_at]["weight"] = 100 - green
            return vs

        update(self._api, self._ref, mutate, self._retry)
        return verified(self.describe(), green, self.get_weight())

    def _locate(self, vs: Json) -> Json:
        """The HTTP route to steer: by name when configured, else the one naming both Services."""
        routes: list[Json] = (vs.get("spec") or {}).get("http") or []
        return choose(self._ref, _ROUTES, routes, self._route, (self._blue, self._green), self._indexes)

    def _pair(self, route: Json) -> tuple[int, int]:
        return blue_green(
            (self._blue, self._green),
            lambda service: self._indexes(route, service),
            where=f"{self._ref}: spec.http route {label(route)}",
            missing="has no destination for",
            repeated="has several destinations for",
            hint=" (route[].destination.host)",
        )

    def _indexes(self, route: Json, service: str) -> list[int]:
        return [
            i
            for i, dest in enumerate(route.get("route") or [])
            if self._is_service((dest.get("destination") or {}).get("host", ""), service)
        ]

    def _is_service(self, host: str, service: str) -> bool:
        """``name``, ``name.ns``, ``name.ns.svc`` or ``name.ns.svc.<cluster domain>`` in our namespace."""
        parts = host.split(".")
        if parts[0] != service:
            return False
        return len(parts) == 1 or (parts[1] == self._ref.namespace and (len(parts) == 2 or parts[2] == "svc"))


def _weight(destination: Json) -> int:
    weight = destination.get("weight", 0)
    return weight if isinstance(weight, int) and weight >= 0 else 0
