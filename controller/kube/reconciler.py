"""One reconcile of one BlueGreenRollout: read the world, let the core decide, act, persist status once.

Level-triggered: it never looks at which watch event woke it. Everything it needs to resume lives in
the rollout's status, so killing the process between any two lines loses nothing but the work in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.analysis import default_pods_regex, evaluate_rollout, python_versions
from controller.analysis.prometheus import PrometheusSource
from controller.analysis.source import SourceUnavailable
from controller.clock import Clock
from controller.core.actions import Decision, EmitEvent, ScaleTrack, SetWeight
from controller.core.commands import Command
from controller.core.decide import decide, reject
from controller.core.observations import Observations, TrackObservation
from controller.core.preflight import python_versions_needed
from controller.core.schedule import evaluation_due
from controller.kube.credentials import CredentialError, prometheus_credentials
from controller.kube.events import EventRecorder, InvolvedObject
from controller.kube.metrics import OperatorMetrics
from controller.kube.rollouts import CommandRequest, NotLeader, RolloutClient
from controller.kube.world import TrackInfo, read_track
from controller.model.load import validate_document
from controller.model.resource import API_VERSION, KIND, BlueGreenRollout
from controller.model.spec import RolloutSpec, Track
from controller.model.status import RolloutStatus
from controller.routing.base import Router, RouterError
from controller.routing.factory import build_router
from controller.routing.kube_common import KubeApiError

log = structlog.get_logger("greenlane.reconcile")
Json = dict[str, Any]


@dataclass
class Reconciler:
    api: k8s.ApiClient
    clock: Clock
    events: EventRecorder
    metrics: OperatorMetrics
    may_write: Callable[[], bool]
    default_prometheus: str | None = None

    def __post_init__(self) -> None:
        self.rollouts = RolloutClient(self.api, self.may_write)
        self._sources: dict[tuple[object, ...], PrometheusSource] = {}
        self._sources_lock = threading.Lock()

    def reconcile(self, namespace: str, name: str) -> float | None:
        """Returns seconds until the rollout wants to be looked at again (None: only on change)."""
        try:
            obj = self.rollouts.get(namespace, name)
        except ApiException as exc:
            if exc.status == 404:
                self.metrics.forget_rollout(namespace, name)
                return None
            raise
        stored = obj.get("status") or {}
        status = _parse_status(stored)
        context = {"rollout": name, "namespace": namespace, "step": status.current_step, "weight": status.weight}
        with structlog.contextvars.bound_contextvars(**context):  # every line of this rollout carries them
            return self._reconcile(obj, stored, status)

    def _reconcile(self, obj: Json, stored: Json, status: RolloutStatus) -> float | None:
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        parsed = validate_document({k: v for k, v in obj.items() if k != "status"}, f"{namespace}/{name}", 1)
        now = self.clock.now()
        if isinstance(parsed, list):
            problem = "; ".join(f"{p.path}: {p.message}" for p in parsed)
            decision = reject(status, f"invalid spec: {problem}", now)
            router = None
        else:
            decision, router = self._decide(parsed.rollout, obj, status)
        self._act(obj, decision, router)
        self._persist(obj, stored, decision.status)
        return decision.requeue_after

    def _decide(self, rollout: BlueGreenRollout, obj: Json, status: RolloutStatus) -> tuple[Decision, Router | None]:
        spec, namespace, now = rollout.spec, rollout.metadata.namespace or "default", self.clock.now()
        try:
            router: Router | None = build_router(spec, namespace, self.api)
            router_weight = router.get_weight() if router else None
        except KubeApiError as exc:
            if not exc.transient:
                return reject(status, f"spec.trafficRouting.{spec.traffic_routing.kind}: {exc}", now), None
            log.warning("router unreadable", error=str(exc))
            router, router_weight = None, None
        except RouterError as exc:
            return reject(status, f"spec.trafficRouting.{spec.traffic_routing.kind}: {exc}", now), None
        try:
            source = self._source(spec, namespace)
        except CredentialError as exc:
            return reject(status, str(exc), now), None
        if source is None:
            problem = "spec.analysis.prometheus.address: required (the operator has no --prometheus-url default)"
            return reject(status, problem, now), None
        blue_info = read_track(self.api, namespace, spec.blue.deployment)
        green_info = read_track(self.api, namespace, spec.green.deployment)
        commands = _commands(obj)
        versions = python_versions_needed(spec, status, green_info.template_hash, commands)
        blue = self._observe(spec.blue, blue_info, source, namespace, versions)
        green = self._observe(spec.green, green_info, source, namespace, versions)
        results = None
        if evaluation_due(spec, status, now):
            results = tuple(
                evaluate_rollout(
                    spec,
                    status,
                    source,
                    namespace=namespace,
                    now=now,
                    blue_pods=default_pods_regex(spec.blue.deployment, blue_info.template_hash),
                    green_pods=default_pods_regex(spec.green.deployment, green_info.template_hash),
                )
            )
            for result in results:
                if result.outage:
                    self.metrics.record_query_error(namespace, rollout.metadata.name)
                    break
        observations = Observations(router_weight, blue, green, results)
        return decide(spec, status, observations, commands, now), router

    def _source(self, spec: RolloutSpec, namespace: str) -> PrometheusSource | None:
        prom = spec.analysis.prometheus
        address = prom.address or self.default_prometheus
        if not address:
            return None
        creds = prometheus_credentials(self.api, namespace, prom)
        key = (address, prom.timeout, tuple(sorted(prom.headers.items())), prom.insecure_skip_verify, creds)
        with self._sources_lock:
            source = self._sources.get(key)
            if source is None:  # one pooled session per configuration; a rotated Secret makes a new key
                source = PrometheusSource(
                    address,
                    timeout=prom.timeout,
                    headers=dict(prom.headers) or None,
                    insecure_skip_verify=prom.insecure_skip_verify,
                    bearer_token=creds.bearer_token,
                    basic_auth=creds.basic_auth,
                    ca_file=creds.ca_file,
                )
                self._sources[key] = source
        return source

    def close(self) -> None:
        """Release pooled Prometheus connections (on shutdown)."""
        with self._sources_lock:
            for source in self._sources.values():
                source.close()
            self._sources.clear()

    def _observe(
        self, track: Track, info: TrackInfo, source: PrometheusSource, namespace: str, read_versions: bool
    ) -> TrackObservation:
        if not info.exists:
            return TrackObservation(exists=False)
        versions: dict[str, str] | None = None
        if read_versions and track.expect_python:
            try:
                versions = python_versions(
                    source,
                    namespace,
                    default_pods_regex(track.deployment, info.template_hash),
                    self.clock.now().timestamp(),
                )
            except SourceUnavailable:
                versions = None
        return TrackObservation(
            exists=True,
            desired_replicas=info.desired,
            available_replicas=info.available,
            template_hash=info.template_hash,
            python_versions=versions,
        )

    def _act(self, obj: Json, decision: Decision, router: Router | None) -> None:
        meta = obj["metadata"]
        involved = InvolvedObject(API_VERSION, KIND, meta["namespace"], meta["name"], meta.get("uid"))
        for action in decision.actions:
            if not self.may_write():
                raise NotLeader("lost the lease; not acting")
            if isinstance(action, SetWeight) and router is not None:
                try:
                    router.set_weight(action.green)
                except RouterError as exc:  # the next reconcile observes the weight and tries again
                    log.warning("weight not set", green=action.green, error=str(exc))
            elif isinstance(action, ScaleTrack):
                self._scale(meta["namespace"], obj["spec"][action.track]["deployment"], action.replicas)
            elif isinstance(action, EmitEvent):
                self.events.record(involved, action.type, action.reason, action.message)
                if action.reason == "RolledBack":
                    self.metrics.record_rollback(
                        meta["namespace"],
                        meta["name"],
                        action.reason,
                        decision.status.rollback.check if decision.status.rollback else None,
                    )

    def _scale(self, namespace: str, deployment: str, replicas: int) -> None:
        k8s.AppsV1Api(self.api).patch_namespaced_deployment_scale(
            deployment, namespace, {"spec": {"replicas": replicas}}
        )

    def _persist(self, obj: Json, stored: Json, status: RolloutStatus) -> None:
        meta = obj["metadata"]
        if meta.get("generation") is not None:
            status = status.model_copy(update={"observed_generation": int(meta["generation"])})
        wire = status.model_dump(by_alias=True, exclude_none=True, mode="json")
        self.metrics.observe_status(meta["namespace"], meta["name"], status)
        if wire != stored:
            self.rollouts.write_status(obj, wire)


def _parse_status(stored: Json) -> RolloutStatus:
    try:
        return RolloutStatus.model_validate(stored)
    except ValueError:
        log.warning("unreadable status, starting from Pending")
        return RolloutStatus()


def _commands(obj: Json) -> list[Command]:
    request = CommandRequest.from_object(obj)
    return [Command(id=request.id, kind=request.command, by=request.user)] if request else []  # type: ignore[arg-type]
