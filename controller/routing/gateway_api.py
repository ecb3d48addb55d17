"""Gateway API HTTPRoute / GRPCRoute: green's share is its backendRef weight within one rule.

Weights are relative integers (default 1), so the pair is written as green=w, blue=100-w and the
effective share is read as green / (sum of every backendRef weight in the rule): a foreign backend
left in the rule genuinely dilutes the split and the read-back says so. ``spec.rules`` is an atomic
list (a merge patch would replace it whole), hence the read-modify-write of the full object.
"""

from __future__ import annotations

from typing import Any, Literal

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

API_VERSION = "gateway.networking.k8s.io/v1"
RouteKind = Literal["HTTPRoute", "GRPCRoute"]
_PLURALS: dict[str, str] = {"HTTPRoute": "httproutes", "GRPCRoute": "grpcroutes"}
_RULES = Entries(field="spec.rules", entry="rule", reaching="reference", through="backendRefs")


class GatewayRouteRouter:
    """Steers one rule of an HTTPRoute or GRPCRoute between the blue and green Services."""

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        route: str,
        blue_service: str,
        green_service: str,
        *,
        kind: RouteKind = "HTTPRoute",
        rule: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._api = as_kube_api(api_client)
        self._ref = ObjectRef(API_VERSION, _PLURALS[kind], kind, namespace, route)
        self._rule = rule
        self._blue = blue_service
        self._green = green_service
        self._retry = retry

    def describe(self) -> str:
        rule = f" rule {self._rule}" if self._rule else ""
        return f"{self._ref}{rule} ({self._blue} -> {self._green})"

    def refs(self) -> tuple[ObjectRef, ...]:
        """The objects this router reads and writes (the operator caches and watches them)."""
        return (self._ref,)

    def get_weight(self) -> int:
        rule = self._locate(fetch(self._api, self._ref))
        green = self._pair(rule)[1]
        total = sum(_weight(ref) for ref in rule["backendRefs"])
        return percent(_weight(rule["backendRefs"][green]), total)

    def set_weight(self, green: int) -> int:
        check_weight(green)

        def mutate(route: Json) -> Json:
            rule = self._locate(route)
            blue_at, green_at = self._pair(rule)
            rule["backendRefs"][green_at]["weight"] = green
            rule["backendRefs"][blue_at]["weight"] = 100 - green
            return route

        update(self._api, self._ref, mutate, self._retry)
        return verified(self.describe(), green, self.get_weight())

    def _locate(self, route: Json) -> Json:
        """The rule to steer: by name when configured, else the one rule naming both Services."""
        rules = (route.get("spec") or {}).get("rules") or []
        return choose(self._ref, _RULES, rules, self._rule, (self._blue, self._green), self._indexes)

    def _pair(self, rule: Json) -> tuple[int, int]:
        """Indexes of blue's and green's backendRef; exactly one each, or the rule is not ours."""
        return blue_green(
            (self._blue, self._green),
            lambda service: self._indexes(rule, service),
            where=f"{self._ref}: rule {label(rule)} backendRefs",
            missing="does not reference",
            repeated="references more than once",
        )

    def _indexes(self, rule: Json, service: str) -> list[int]:
        return [i for i, ref in enumerate(rule.get("backendRefs") or []) if self._is_service(ref, service)]

    def _is_service(self, ref: Json, service: str) -> bool:
        return (
            ref.get("name") == service
            and ref.get("group", "") in ("", "core")
            and ref.get("kind", "Service") == "Service"
            and ref.get("namespace", self._ref.namespace) == self._ref.namespace
        )


def _weight(ref: Json) -> int:
    weight = ref.get("weight", 1)
    return weight if isinstance(weight, int) and weight >= 0 else 0
