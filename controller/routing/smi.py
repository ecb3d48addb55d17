"""SMI TrafficSplit: green's share is its backend weight among ``spec.backends``.

From ``v1alpha2`` on weights are integers; ``v1alpha1`` typed them as Kubernetes quantities (``"500m"``),
so that version is read through a quantity parser and written as quantity strings. SMI is deprecated
in Linkerd (which moved to Gateway API HTTPRoute) but still served by OSM-era meshes and Flagger users.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from controller.routing.base import RouterError
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
from controller.routing.selection import blue_green

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$")
_SUFFIXES = {
    "": Fraction(1),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
}


def parse_quantity(value: Any) -> Fraction:
    """A Kubernetes quantity (``"500m"``, ``"1"``, ``2``) as an exact fraction; junk raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int | float):
        return Fraction(value)
    match = _QUANTITY.match(str(value).strip())
    if match is None or match.group(2) not in _SUFFIXES:
        raise ValueError(f"not a quantity: {value!r}")
    return Fraction(match.group(1)) * _SUFFIXES[match.group(2)]


class TrafficSplitRouter:
    """Steers a TrafficSplit's blue and green backends."""

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        traffic_split: str,
        blue_service: str,
        green_service: str,
        *,
        api_version: str = "split.smi-spec.io/v1alpha2",
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._api = as_kube_api(api_client)
        self._ref = ObjectRef(api_version, "trafficsplits", "TrafficSplit", namespace, traffic_split)
        self._quantities = api_version.endswith("/v1alpha1")
        self._blue = blue_service
        self._green = green_service
        self._retry = retry

    def describe(self) -> str:
        return f"{self._ref} ({self._blue} -> {self._green})"

    def refs(self) -> tuple[ObjectRef, ...]:
        """The objects this router reads and writes (the operator caches and watches them)."""
        return (self._ref,)

    def get_weight(self) -> int:
        backends = self._backends(fetch(self._api, self._ref))
        green_at = self._pair(backends)[1]
        weights = [self._weight(b) for b in backends]
        return percent(weights[green_at], sum(weights, Fraction(0)))

    def set_weight(self, green: int) -> int:
        check_weight(green)

        def mutate(split: Json) -> Json:
            backends = self._backends(split)
            blue_at, green_at = self._pair(backends)
            backends[green_at]["weight"] = self._encode(green)
            backends[blue_at]["weight"] = self._encode(100 - green)
            return split

        update(self._api, self._ref, mutate, self._retry)
        return verified(self.describe(), green, self.get_weight())

    def _backends(self, split: Json) -> list[Json]:
        backends = (split.get("spec") or {}).get("backends")
        if not isinstance(backends, list) or not backends:
            raise RouterError(f"{self._ref}: spec.backends is empty")
        return backends

    def _pair(self, backends: list[Json]) -> tuple[int, int]:
        return blue_green(
            (self._blue, self._green),
            lambda service: [i for i, b in enumerate(backends) if b.get("service") == service],
            where=f"{self._ref}: spec.backends",
            missing="does not list",
            repeated="lists more than once",
        )

    def _weight(self, backend: Json) -> Fraction:
        try:
            weight = parse_quantity(backend.get("weight", 0))
        except ValueError as exc:
            where = f"spec.backends[service={backend.get('service')!r}].weight"
            raise RouterError(f"{self._ref}: {where}: {exc}") from exc
        return max(weight, Fraction(0))

    def _encode(self, weight: int) -> int | str:
        return str(weight) if self._quantities else weight
