"""One rollout's world as the Kubernetes API server and Prometheus show it: the operator's ``World``.

Reads come from a :class:`Reader`: the informer cache in the operator (``controller/kube/cache.py``), or the
API server itself (:class:`LiveReader`, for one-off reconciles and tests). Writes go to the API server,
refuse (``NotLeader``) once this replica may no longer act, and hand their answer back to the reader so
that the next read sees them; status goes through the status subresource with the object's
resourceVersion. A status that starts a rollback raises the priority of this reconcile's writes, so the
client-side rate limiter never holds a rollback behind ordinary traffic.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.analysis import default_pods_regex, evaluate_rollout, python_versions
from controller.analysis.batch import Through
from controller.analysis.evaluate import expected_queries
from controller.analysis.noise_cache import NoiseCache
from controller.analysis.source import MetricSource, SourceUnavailable
from controller.core.actions import EmitEvent
from controller.core.observations import Deletion, TrackObservation
from controller.core.results import CheckResult
from controller.engine.world import NotLeader, RolloutView, Side
from controller.kube.events import EventRecorder, InvolvedObject
from controller.kube.ratelimit import URGENT, escalate
from controller.kube.rollouts import FINALIZER, SKIP_FINALIZER_ANNOTATION, RolloutClient, commands_of
from controller.kube.tracks import TrackInfo, read_track
from controller.model.load import Problem, validate_document
from controller.model.resource import API_VERSION, KIND
from controller.model.spec import RolloutSpec, Track
from controller.model.status import AppliedRouting, RolloutStatus
from controller.routing.base import Router
from controller.routing.factory import build_router

log = structlog.get_logger("greenlane.world")
Json = dict[str, Any]


class Sources(Protocol):
    """Where a rollout's Prometheus comes from (allowlist, credentials and pooling live behind this)."""

    def source(self, spec: RolloutSpec, namespace: str) -> MetricSource:
        """The source for ``spec``; raises ``SpecProblem`` naming the field when it cannot be used."""
        ...

    def clock_skew(self, source: MetricSource) -> float | None: ...

    def noise_cache(self, source: MetricSource) -> NoiseCache | None:
        """Blue noise models learned from ``source``'s endpoint, shared by its rollouts; None: learn each time."""
        ...


class SpecProblem(Exception):
    """The spec names something unusable in the cluster (a Secret, an address); the message names the field."""


@dataclass
class KubeSettings:
    finalizer_timeout: float = 300.0
    evaluation_round: float = 0.0
    """Seconds; evaluations read Prometheus as of the start of their round, so that rollouts evaluated in
    the same round share one grouped query per template (``controller/analysis/batch.py``). 0: as of now."""


class Reader(Protocol):
    """Where a reconcile reads the cluster from; writes report back through ``fence`` and ``written``."""

    def rollout(self, namespace: str, name: str) -> Json | None: ...

    def track(self, rollout: str, namespace: str, deployment: str) -> TrackInfo: ...

    def kube_api(self, rollout: str) -> Any:
        """What the routers of ``rollout`` are given as their API client."""
        ...

    def fence(self, namespace: str, name: str) -> contextlib.AbstractContextManager[None]: ...

    def written(self, obj: Json) -> None: ...


class LiveReader:
    """Every read from the API server: what the operator did before it had caches, kept for one-off runs."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self.api = api
        self._rollouts = RolloutClient(api)

    def rollout(self, namespace: str, name: str) -> Json | None:
        try:
            return self._rollouts.get(namespace, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def track(self, rollout: str, namespace: str, deployment: str) -> TrackInfo:
        return read_track(self.api, namespace, deployment)

    def kube_api(self, rollout: str) -> Any:
        return self.api

    def fence(self, namespace: str, name: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def written(self, obj: Json) -> None:
        return None


Parsed = RolloutSpec | list[Problem]


class SpecCache:
    """Each rollout's validated spec, kept while its text is unchanged: validated once per edit, not per reconcile.

    One entry per rollout (the latest spec text), dropped when the rollout is deleted, and bounded (least
    recently reconciled go first), so churn leaves nothing behind.
    """

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._items: OrderedDict[str, tuple[str, Parsed]] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, obj: Json, where: str) -> Parsed:
        document = {k: v for k, v in obj.items() if k != "status"}
        meta = {k: v for k, v in (document.get("metadata") or {}).items() if k not in _VOLATILE_META}
        text = json.dumps({**document, "metadata": meta}, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self._lock:
            cached = self._items.get(where)
            if cached is not None and cached[0] == digest:
                self._items.move_to_end(where)
                return cached[1]
        parsed = validate_document(document, where, 1)
        result: Parsed = parsed if isinstance(parsed, list) else parsed.rollout.spec
        with self._lock:
            self._items[where] = (digest, result)
            self._items.move_to_end(where)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return result

    def forget(self, where: str) -> None:
        with self._lock:
            self._items.pop(where, None)


_VOLATILE_META = frozenset({"resourceVersion", "managedFields"})


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
        reader: Reader | None = None,
        specs: SpecCache | None = None,
    ) -> None:
        self.api, self.namespace, self.name = api, namespace, name
        self.key = f"{namespace}/{name}"
        self.reader: Reader = reader if reader is not None else LiveReader(api)
        self._specs = specs if specs is not None else SpecCache(1)
        self.rollouts = RolloutClient(api, may_write)
        self._sources, self._events, self._may_write, self._now = sources, events, may_write, now
        self._settings, self._on_event = settings, on_event
        self._obj: Json = {}
        self._spec: RolloutSpec | None = None
        self._source: MetricSource | None = None

    # ---- reads -----------------------------------------------------------------------------------
    def read_rollout(self) -> RolloutView | None:
        obj = self.reader.rollout(self.namespace, self.name)
        if obj is None:
            return None
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
        if status.rollback is not None and status.rollback.completed_at is None:
            escalate(URGENT)  # a rollback in progress: its writes go first
        parsed = self._specs.parse(obj, self.key)
        if isinstance(parsed, list):
            problem = "; ".join(f"{p.path}: {p.message}" for p in parsed)
            return _with(view, problem=f"invalid spec: {problem}")
        spec = self._spec = parsed
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
        return build_router(routing, self.namespace, self.reader.kube_api(self.key))

    def observe_track(self, side: Side, track: Track) -> TrackObservation:
        info = self.reader.track(self.key, self.namespace, track.deployment)
        if not info.exists:
            return TrackObservation(exists=False)
        return TrackObservation(True, info.desired, info.available, info.template_hash)

    def python_versions(self, side: Side, track: Track, seen: TrackObservation) -> Mapping[str, str] | None:
        if not seen.exists or track.expect_python is None or self._source is None:
            return None
        pods = default_pods_regex(track.deployment, seen.template_hash)
        try:
            return python_versions(self._source, self.namespace, pods, self._round(self._now(), None).timestamp())
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
        blue_pods, green_pods = _exact_pods(spec, tracks)
        return evaluate_rollout(
            spec,
            status,
            self._source,
            namespace=self.namespace,
            now=self._round(at, spec.analysis.interval),
            blue_pods=blue_pods,
            green_pods=green_pods,
            noise_cache=self._sources.noise_cache(self._source),
        )

    def expect_evaluation(
        self,
        spec: RolloutSpec,
        status: RolloutStatus,
        at: datetime,
        tracks: tuple[TrackObservation, TrackObservation],
    ) -> None:
        """Tell the rollout's batch the queries of its next evaluation (see ``BatchingSource.expect``)."""
        source = self._source
        if not isinstance(source, Through) or not all(t.exists for t in tracks):
            return  # a plain source (batching off) has nothing to prepare
        blue_pods, green_pods = _exact_pods(spec, tracks)
        queries = expected_queries(
            spec,
            status,
            namespace=self.namespace,
            now=self._round(at, spec.analysis.interval),
            blue_pods=blue_pods,
            green_pods=green_pods,
            noise_cache=self._sources.noise_cache(source),
        )
        source.expect(queries, at.timestamp(), spec.analysis.interval)

    def _round(self, at: datetime, interval: float | None) -> datetime:
        """``at`` moved back to the start of its evaluation round (see KubeSettings).

        A round never exceeds the rollout's interval: two evaluations always read different instants.
        """
        step = self._settings.evaluation_round
        if interval is not None and interval > 0:
            step = min(step, interval)
        return at - timedelta(seconds=at.timestamp() % step) if step > 0 else at

    # ---- writes ----------------------------------------------------------------------------------
    def write_status(self, status: RolloutStatus) -> None:
        wire = status.model_dump(by_alias=True, exclude_none=True, mode="json")
        if wire == (self._obj.get("status") or {}):
            return
        if status.rollback is not None and status.rollback.completed_at is None:
            escalate(URGENT)  # this write starts (or continues) a rollback: it and the router's go first
        with self.reader.fence(self.namespace, self.name):
            self._obj = self.rollouts.write_status(self._obj, wire)
            self.reader.written(self._obj)

    def set_finalizer(self, present: bool) -> None:
        with self.reader.fence(self.namespace, self.name):
            obj = self.rollouts.set_finalizer(self._obj, present)
            if obj is not self._obj:
                self.reader.written(obj)
            self._obj = obj

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


def _exact_pods(spec: RolloutSpec, tracks: tuple[TrackObservation, TrackObservation]) -> tuple[str, str]:
    """Blue's and green's pod regexes, each with its current pod-template hash (the batch groups by it)."""
    blue, green = tracks
    return (
        default_pods_regex(spec.blue.deployment, blue.template_hash),
        default_pods_regex(spec.green.deployment, green.template_hash),
    )


def parse_status(stored: Json) -> RolloutStatus:
    """The stored status, or a fresh one when unreadable (logged): progress lost is better than a crash loop."""
    try:
        return RolloutStatus.model_validate(stored)
    except ValueError:
        log.warning("unreadable status, starting from Pending")
        return RolloutStatus()


def _with(view: RolloutView, **changes: Any) -> RolloutView:
    return replace(view, **changes)
