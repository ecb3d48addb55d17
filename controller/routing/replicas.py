"""Replica ratio: one Service selects both Deployments, so green's share is its share of the pods.

This is the router for plain clusters without a mesh or gateway, and the right one for queue
workers (Celery) where "traffic" is the share of consumers. Percentages become replica counts out of
a fixed total (given, or the two Deployments' desired replicas added up), chosen as the floor or the
ceiling of total*w/100, whichever lands closer to w, never 0 green for 1..99 and never 0 blue below
100. Counts go through the ``/scale`` subresource (``spec.replicas`` only, nothing else rewritten),
each PUT carrying the resourceVersion it read. The share reported is of *desired* replicas: whether
those pods are ready is the preflight's and the analysis' business, not the router's.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from controller.routing.base import RouterError, WeightMismatch
from controller.routing.kube_common import (
    DEFAULT_RETRY,
    ObjectRef,
    RetryPolicy,
    as_kube_api,
    check_weight,
    conflict_retrying,
    percent,
)


def split_replicas(total: int, green: int) -> tuple[int, int]:
    """``(blue, green)`` replicas for green's share ``green`` percent of ``total`` pods.

    Ties between floor and ceiling go to the smaller green count: the cautious side of a rollout.
    """
    check_weight(green)
    if green in (0, 100):
        return (total, 0) if green == 0 else (0, total)
    if total < 2:
        raise ValueError(f"{total} replica(s) cannot be split {100 - green}/{green}: at least 2 are needed")
    exact = Fraction(total * green, 100)
    candidates = {min(max(count, 1), total - 1) for count in (math.floor(exact), math.ceil(exact))}
    chosen = min(candidates, key=lambda count: (abs(Fraction(100 * count, total) - green), count))
    return total - chosen, chosen


class ReplicaRatioRouter:
    """Moves replicas between the blue and green Deployments behind one Service."""

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        blue_deployment: str,
        green_deployment: str,
        *,
        total: int | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        if total is not None and total < 1:
            raise ValueError(f"total replicas must be positive, got {total}")
        self._api = as_kube_api(api_client)
        self._blue = ObjectRef("apps/v1", "deployments", "Deployment", namespace, blue_deployment)
        self._green = ObjectRef("apps/v1", "deployments", "Deployment", namespace, green_deployment)
        self._total = total
        self._retry = retry

    def describe(self) -> str:
        return f"replica ratio of {self._blue} -> {self._green.name}"

    def refs(self) -> tuple[ObjectRef, ...]:
        """The objects this router reads and writes (the operator caches and watches them)."""
        return (self._blue, self._green)

    def get_weight(self) -> int:
        blue, green = self._replicas(self._blue), self._replicas(self._green)
        return percent(green, blue + green)

    def set_weight(self, green: int) -> int:
        check_weight(green)
        blue_now, green_now = self._replicas(self._blue), self._replicas(self._green)
        total = self._total or blue_now + green_now
        try:
            blue_count, green_count = split_replicas(total, green)
        except ValueError as exc:
            raise RouterError(f"{self.describe()}: spec.replicas: {exc}") from exc
        # Grow the side gaining traffic first so serving capacity never dips during the move.
        if green_count >= green_now:
            order = ((self._green, green_count), (self._blue, blue_count))
        else:
            order = ((self._blue, blue_count), (self._green, green_count))
        for ref, count in order:
            self._scale(ref, count)
        return self._verify(blue_count, green_count)

    def _verify(self, blue_count: int, green_count: int) -> int:
        seen = (self._replicas(self._blue), self._replicas(self._green))
        if seen != (blue_count, green_count):
            raise WeightMismatch(
                f"{self.describe()}: wrote {blue_count}/{green_count} replicas "
                f"but read back {seen[0]}/{seen[1]}; an autoscaler or another writer "
                "changes spec.replicas"
            )
        return percent(green_count, blue_count + green_count)

    def _replicas(self, ref: ObjectRef) -> int:
        scale = self._api.get(ref, "scale")
        if scale is None:
            raise RouterError(f"{ref} not found")
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        return replicas if isinstance(replicas, int) else 0

    def _scale(self, ref: ObjectRef, replicas: int) -> None:
        def attempt() -> None:
            scale = self._api.get(ref, "scale")
            if scale is None:
                raise RouterError(f"{ref} not found")
            if (scale.get("spec") or {}).get("replicas") == replicas:
                return
            scale.setdefault("spec", {})["replicas"] = replicas
            self._api.replace(ref, scale, "scale")  # the Scale carries the resourceVersion we read

        conflict_retrying(self._retry)(attempt)
