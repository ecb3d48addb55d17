"""Istio VirtualService: green's share is a destination weight within one HTTP route.

Istio weights are percentages meant to sum to 100 (a lone destination takes everything whatever its
weight; an omitted weight next to others is 0), so the pair is written as green=w, blue=100-w and
read back as green / (sum of the route's weights). Destinations match a Service by the host's short
name; a host that names another namespace or an external domain is not ours.
"""

from __future__ import annotations

from typing import Any

from controller.routing.base import RouterError
from controller.routing.kube_common import (
    DEFAULT_RETRY,
    Json,
    KubeApi,
    ObjectRef,
    RetryPolicy,
    check_weight,
    fetch,
    percent,
    update,
    verified,
)


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
        self._api = KubeApi(api_client)
        self._ref = ObjectRef(api_version, "virtualservices", "VirtualService", namespace, virtual_service)
        self._route = route
        self._blue = blue_service
        self._green = green_service
        self._retry = retry

    def describe(self) -> str:
        route = f" route {self._route}" if self._route else ""
        return f"{self._ref}{route} ({self._blue} -> {self._green})"

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
        if self._route is not None:
            for route in routes:
                if route.get("name") == self._route:
                    return route
            raise RouterError(f"{self._ref}: spec.http has no route named {self._route!r}")
        matching = [r for r in routes if self._indexes(r, self._blue) and self._indexes(r, self._green)]
        if len(matching) != 1:
            found = "no route" if not matching else f"{len(matching)} routes"
            raise RouterError(
                f"{self._ref}: {found} in spec.http route to both Services {self._blue!r} "
                f"and {self._green!r}; name the route to steer"
            )
        return matching[0]

    def _pair(self, route: Json) -> tuple[int, int]:
        found = []
        for service in (self._blue, self._green):
            indexes = self._indexes(route, service)
            if len(indexes) != 1:
                problem = "has no destination for" if not indexes else "has several destinations for"
                label = repr(route["name"]) if route.get("name") else "(unnamed)"
                raise RouterError(
                    f"{self._ref}: spec.http route {label} {problem} Service {service!r} (route[].destination.host)"
                )
            found.append(indexes[0])
        return found[0], found[1]

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
