"""ingress-nginx canary: green's share is the ``canary-weight`` of a second Ingress we own.

ingress-nginx splits traffic between a main Ingress and a canary Ingress for the same host and path,
the canary marked by ``nginx.ingress.kubernetes.io/canary: "true"`` and weighted by ``canary-weight``
(a string, out of ``canary-weight-total``, default 100). The main Ingress keeps pointing at blue and is
never written. The canary copies the main one's rules, keeping only the paths that lead to blue and
switching them to green, so a path to some other Service never gets canary traffic. It carries labels
rather than an ownerReference (the main Ingress is the user's, deleting it must not cascade), and an
Ingress of that name without our label is treated as someone else's and left alone.
"""

from __future__ import annotations

import copy
from typing import Any

from controller.routing.base import RouterError
from controller.routing.kube_common import (
    DEFAULT_RETRY,
    Json,
    ObjectRef,
    RetryPolicy,
    as_kube_api,
    check_weight,
    conflict_retrying,
    fetch,
    percent,
    verified,
)

CANARY = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
CANARY_TOTAL = "nginx.ingress.kubernetes.io/canary-weight-total"
MANAGED_BY = "app.kubernetes.io/managed-by"
CANARY_OF = "greenlane.dev/canary-of"
LEGACY_CLASS = "kubernetes.io/ingress.class"


class NginxCanaryRouter:
    """Keeps a canary Ingress in step with the main one and sets its weight."""

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        ingress: str,
        blue_service: str,
        green_service: str,
        *,
        canary_name: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._api = as_kube_api(api_client)
        self._main = ObjectRef("networking.k8s.io/v1", "ingresses", "Ingress", namespace, ingress)
        self._canary = ObjectRef(
            "networking.k8s.io/v1", "ingresses", "Ingress", namespace, canary_name or f"{ingress}-canary"
        )
        self._blue = blue_service
        self._green = green_service
        self._retry = retry

    def describe(self) -> str:
        return f"{self._main} canary {self._canary.name} ({self._blue} -> {self._green})"

    def refs(self) -> tuple[ObjectRef, ...]:
        """The objects this router reads and writes (the operator caches and watches them)."""
        return (self._main, self._canary)

    def get_weight(self) -> int:
        # The main Ingress must still exist and lead to blue, or the canary weight means nothing.
        canary_spec(fetch(self._api, self._main), self._main, self._blue, self._green)
        canary = self._api.get(self._canary)
        if canary is None:
            return 0
        self._check_ours(canary)
        annotations = canary["metadata"].get("annotations") or {}
        if annotations.get(CANARY) != "true":
            return 0
        weight = _int_annotation(annotations, CANARY_WEIGHT, 0, self._canary)
        return percent(weight, _int_annotation(annotations, CANARY_TOTAL, 100, self._canary))

    def set_weight(self, green: int) -> int:
        check_weight(green)
        spec = canary_spec(fetch(self._api, self._main), self._main, self._blue, self._green)
        conflict_retrying(self._retry)(lambda: self._write(spec, green))
        return verified(self.describe(), green, self.get_weight())

    def _write(self, spec: Json, green: int) -> None:
        current = self._api.get(self._canary)
        if current is None:
            self._api.create(self._canary, self._new_canary(spec, green))
            return
        self._check_ours(current)
        desired = copy.deepcopy(current)
        desired["spec"] = spec
        desired["metadata"].setdefault("annotations", {}).update({CANARY: "true", CANARY_WEIGHT: str(green)})
        if desired != current:
            self._api.replace(self._canary, desired)  # carries the resourceVersion we just read

    def _new_canary(self, spec: Json, green: int) -> Json:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": self._canary.name,
                "namespace": self._canary.namespace,
                "labels": {MANAGED_BY: "greenlane", CANARY_OF: self._main.name},
                "annotations": {CANARY: "true", CANARY_WEIGHT: str(green)},
            },
            "spec": spec,
        }

    def _check_ours(self, canary: Json) -> None:
        labels = canary["metadata"].get("labels") or {}
        if labels.get(MANAGED_BY) != "greenlane" or labels.get(CANARY_OF) != self._main.name:
            raise RouterError(
                f"{self._canary} exists but is not greenlane's canary of {self._main.name} "
                f"(metadata.labels {MANAGED_BY}=greenlane, {CANARY_OF}={self._main.name}); "
                "refusing to take it over"
            )


def canary_spec(main: Json, ref: ObjectRef, blue: str, green: str) -> Json:
    """The canary's spec: main's class, and only its paths to ``blue``, now leading to ``green``."""
    spec = main.get("spec") or {}
    result: Json = {}
    if spec.get("ingressClassName"):
        result["ingressClassName"] = spec["ingressClassName"]
    default = spec.get("defaultBackend")
    if default is not None and _service_name(default) == blue:
        result["defaultBackend"] = _switched(default, green)
    rules = []
    for rule in spec.get("rules") or []:
        all_paths = (rule.get("http") or {}).get("paths") or []
        paths = [
            dict(p, backend=_switched(p["backend"], green))
            for p in all_paths
            if _service_name(p.get("backend")) == blue
        ]
        if paths:
            rules.append({**{k: v for k, v in rule.items() if k != "http"}, "http": {"paths": paths}})
    if rules:
        result["rules"] = rules
    if not rules and "defaultBackend" not in result:
        raise RouterError(
            f"{ref}: no spec.rules[].http.paths[].backend.service.name "
            f"(nor spec.defaultBackend) is the blue Service {blue!r}"
        )
    return result


def _service_name(backend: Json | None) -> str | None:
    return ((backend or {}).get("service") or {}).get("name")


def _switched(backend: Json, green: str) -> Json:
    switched = copy.deepcopy(backend)
    switched["service"]["name"] = green
    return switched


def _int_annotation(annotations: dict[str, str], key: str, default: int, ref: ObjectRef) -> int:
    raw = annotations.get(key)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise RouterError(f"{ref}: metadata.annotations[{key!r}] is {raw!r}, not an integer") from None
