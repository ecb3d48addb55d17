"""Kubernetes Events for rollout decisions: best-effort, aggregated, never fatal.

An on-call engineer reads ``kubectl describe bgr``; a repeated identical event bumps ``count`` and
``lastTimestamp`` on the existing Event instead of adding a new line every reconcile.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.clock import Clock

log = structlog.get_logger("greenlane.events")

MAX_MESSAGE = 1024
AGGREGATE_WINDOW = 600.0  # seconds an identical event is folded into the previous one
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class InvolvedObject:
    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str | None = None


def truncate(message: str, limit: int = MAX_MESSAGE) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


class EventRecorder:
    def __init__(self, api: k8s.ApiClient, clock: Clock, component: str = "greenlane", instance: str = "") -> None:
        self._api = k8s.CoreV1Api(api)
        self._clock = clock
        self._component = component
        self._instance = instance
        self._lock = threading.Lock()
        self._recent: OrderedDict[tuple[str, ...], tuple[str, int, float]] = OrderedDict()

    def record(self, obj: InvolvedObject, type_: str, reason: str, message: str) -> None:
        """Post (or aggregate) one event; failures are logged and swallowed."""
        message = truncate(message)
        key = (obj.namespace, obj.name, obj.uid or "", type_, reason, message)
        now_mono = self._clock.monotonic()
        with self._lock:
            previous = self._recent.get(key)
        try:
            if previous and now_mono - previous[2] < AGGREGATE_WINDOW:
                name = previous[0]
                count = previous[1] + 1
                self._bump(obj.namespace, name, count)
            else:
                name, count = self._create(obj, type_, reason, message), 1
        except ApiException as exc:
            log.warning("event not recorded", reason=reason, status=exc.status, error=exc.reason)
            return
        with self._lock:
            self._recent[key] = (name, count, now_mono)
            self._recent.move_to_end(key)
            # oldest first (each record moves its entry to the end): past the window they can never aggregate
            # again, so a day of churn does not keep thousands of entries of rollouts long gone (issue 15)
            while self._recent and (
                len(self._recent) > _CACHE_SIZE or now_mono - next(iter(self._recent.values()))[2] >= AGGREGATE_WINDOW
            ):
                self._recent.popitem(last=False)

    def _create(self, obj: InvolvedObject, type_: str, reason: str, message: str) -> str:
        now = self._clock.now()
        name = f"{obj.name}.{secrets.token_hex(8)}"
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": obj.namespace},
            "involvedObject": {
                "apiVersion": obj.api_version,
                "kind": obj.kind,
                "namespace": obj.namespace,
                "name": obj.name,
                **({"uid": obj.uid} if obj.uid else {}),
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": self._component},
            "reportingComponent": f"greenlane.dev/{self._component}",
            "reportingInstance": self._instance or self._component,
            "firstTimestamp": _ts(now),
            "lastTimestamp": _ts(now),
            "count": 1,
        }
        self._api.create_namespaced_event(obj.namespace, body)
        return name

    def _bump(self, namespace: str, name: str, count: int) -> None:
        patch = {"count": count, "lastTimestamp": _ts(self._clock.now())}
        self._api.patch_namespaced_event(name, namespace, patch)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
