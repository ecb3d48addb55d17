"""One rollout's world as the Kubernetes API server and Prometheus show it: the operator's ``World``.

Reads go through clients with timeouts; writes refuse (``NotLeader``) once this replica may no longer act;
status goes through the status subresource with the object's resourceVersion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import structlog
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.analysis import default_pods_regex, evaluate_rollout, python_versions
from controller.analysis.prometheus import PrometheusSource
from controller.analysis.source import SourceUnavailable
from controller.core.actions import EmitEvent
from controller.core.observations import Deletion, TrackObservation
from controller.core.results import CheckResult
from controller.engine.world import NotLeader, RolloutView, Side
from controller.kube.events import EventRecorder, InvolvedObject
from controller.kube.rollouts import FINALIZER, SKIP_FINALIZER_ANNOTATION, RolloutClient, commands_of
from controller.kube.tracks import read_track
from controller.model.load import validate_document
from controller.model.resource import API_VERSION, KIND
from controller.model.spec import RolloutSpec, Track
from controller.model.status import AppliedRouting, RolloutStatus
from controller.routing.base import Router
from controller.routing.factory import build_router

log = structlog.get_logger("greenlane.world")
Json = dict[str, Any]


class Sources(Protocol):
    """Where a rollout's Prometheus comes from (allowlist, credentials and pooling live behind this)."""

    def source(self, spec: RolloutSpec, namespace: str) -> PrometheusSource:
        """The source for ``spec``; raises ``SpecProblem`` naming the field when it cannot be used."""
        ...

    def clock_skew(self, source: PrometheusSource) -> float | None: ...


class SpecProblem(Exception):
    """The spec names something unusable in the cluster (a Secret, an address); the message names the field."""


@dataclass
class KubeSettings:
    finalizer_timeout: float = 300.0


class KubeWorld:
    """The operator's World for one reconcile of ``namespace/name``; build a fresh one per reconcile."""

    def __init__(
        self,
        api: k8s.ApiClient,
        namespace: str,
        name: str,
        *,
        sources: Sources,
        events: EventRecorder,
        may_write: Callable[[], bool],
        now: Callable[[], datetime],
        settings: KubeSettings,
        on_event: Callable[[Json, EmitEvent, RolloutStatus, RolloutSpec | None], None] = lambda *_: None,
    ) -> None:
        self.api, self.namespace, self.name = api, namespace, name
        self.rollouts = RolloutClient(api, may_write)
        self._sources, self._events, self._may_write, self._now = sources, events, may_write, now
        self._settings, self._on_event = settings, on_event
        self._obj: Json = {}
        self._spec: RolloutSpec | None = None
        self._source: PrometheusSource | None = None

    # ---- reads -----------------------------------------------------------------------------------
    def read_rollout(self) -> RolloutView | None:
        try:
            obj: Json = self.rollouts.get(self.namespace, self.name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        self._obj = obj
        meta = obj.get("metadata") or {}
        status = parse_status(obj.get("status") or {})
        view = RolloutView(
            namespace=self.namespace,
            name=self.name,
            status=status,
            generation=meta.get("generation"),
            commands=commands_of(obj),
            deletion=self._deletion(meta),
            has_finalizer=FINALIZER in (meta.get("finalizers") or []),
        )
        parsed = validate_document({k: v for k, v in obj.items() if k != "status"}, f"{self.namespace}/{self.name}", 1)
        if isinstance(parsed, list):
            problem = "; ".join(f"{p.path}: {p.message}" for p in parsed)
            return _with(view, problem=f"invalid spec: {problem}")
        spec = self._spec = parsed.rollout.spec
        try:
            self._source = self._sources.source(spec, self.namespace)
        except SpecProblem as exc:
            return _with(view, problem=str(exc))
        return _with(view, spec=spec)

    def _deletion(self, meta: Json) -> Deletion | None:
        stamp = meta.get("deletionTimestamp")
        if not stamp:
            return None
        requested = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        skip = (meta.get("annotations") or {}).get(SKIP_FINALIZER_ANNOTATION, "").lower() == "true"
        return Deletion(requested_at=requested, timeout=self._settings.finalizer_timeout, skip=skip)

    def router(self, routing: AppliedRouting) -> Router:
        return build_router(routing, self.namespace, self.api)

    def observe_track(self, side: Side, track: Track) -> TrackObservation:
        info = read_track(self.api, self.namespace, track.deployment)
        if not info.exists:
            return TrackObservation(exists=False)
        return TrackObservation(True, info.desired, info.available, info.template_hash)

    def python_versions(self, side: Side, track: Track, seen: TrackObservation) -> Mapping[str, str] | None:
        if not seen.exists or track.expect_python is None or self._source is None:
            return None
        pods = default_pods_regex(track.deployment, seen.template_hash)
        try:
            return python_versions(self._source, self.namespace, pods, self._now().timestamp())
        except SourceUnavailable:
            return None

    def clock_skew(self) -> float | None:
        return self._sources.clock_skew(self._source) if self._source is not None else None

    def evaluate(
        self,
        spec: RolloutSpec,
        status: RolloutStatus,
        at: datetime,
        tracks: tuple[TrackObservation, TrackObservation],
    ) -> Sequence[CheckResult]:
        assert self._source is not None  # read_rollout made the spec unusable otherwise
        blue, green = tracks
        return evaluate_rollout(
            spec,
            status,
            self._source,
            namespace=self.namespace,
            now=at,
            blue_pods=default_pods_regex(spec.blue.deployment, blue.template_hash),
            green_pods=default_pods_regex(spec.green.deployment, green.template_hash),
        )

    # ---- writes ----------------------------------------------------------------------------------
    def write_status(self, status: RolloutStatus) -> None:
        wire = status.model_dump(by_alias=True, exclude_none=True, mode="json")
        if wire == (self._obj.get("status") or {}):
            return
        self._obj = self.rollouts.write_status(self._obj, wire)

    def set_finalizer(self, present: bool) -> None:
        self._obj = self.rollouts.set_finalizer(self._obj, present)

    def scale(self, deployment: str, replicas: int) -> None:
        if not self._may_write():
            raise NotLeader("lost the lease; not scaling")
        k8s.AppsV1Api(self.api).patch_namespaced_deployment_scale(
            deployment, self.namespace, {"spec": {"replicas": replicas}}
        )

    def emit(self, event: EmitEvent, status: RolloutStatus) -> None:
        if not self._may_write():
            raise NotLeader("lost the lease; no events")
        meta = self._obj.get("metadata") or {}
        involved = InvolvedObject(API_VERSION, KIND, self.namespace, self.name, meta.get("uid"))
        self._events.record(involved, event.type, event.reason, event.message)
        self._on_event(self._obj, event, status, self._spec)


def parse_status(stored: Json) -> RolloutStatus:
    """The stored status, or a fresh one when unreadable (logged): progress lost is better than a crash loop."""
    try:
        return RolloutStatus.model_validate(stored)
    except ValueError:
        log.warning("unreadable status, starting from Pending")
        return RolloutStatus()


def _with(view: RolloutView, **changes: Any) -> RolloutView:
    return replace(view, **changes)
