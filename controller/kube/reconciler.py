"""The operator's side of a reconcile: a :class:`KubeWorld` for the rollout, run by the shared engine.

Level-triggered: it never looks at which watch event woke it. Everything needed to resume lives in the
rollout's status, written before any traffic moves, so killing the process between any two lines loses
nothing but the work in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from kubernetes import client as k8s

from controller.analysis.batch import BatchingSource
from controller.analysis.prometheus import PrometheusSource
from controller.analysis.source import MetricSource, SourceUnavailable
from controller.clock import Clock
from controller.core.actions import EmitEvent
from controller.engine import Engine, Outcome, RolloutView
from controller.kube.credentials import CredentialError, Credentials, prometheus_credentials
from controller.kube.events import EventRecorder
from controller.kube.metrics import OperatorMetrics
from controller.kube.ratelimit import NORMAL, write_priority
from controller.kube.world import KubeSettings, KubeWorld, Reader, SpecCache, SpecProblem
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus

log = structlog.get_logger("greenlane.reconcile")
Json = dict[str, Any]
SKEW_CACHE_SECONDS = 60.0
"""Clock skew changes slowly; measuring it once a minute per Prometheus keeps it to one query per minute."""
CREDENTIALS_CACHE_SECONDS = 60.0
"""Secrets named by a rollout are read at most once a minute per rollout namespace (rotations apply within it)."""


@dataclass(frozen=True)
class BatchSettings:
    """Batched Prometheus queries (``controller/analysis/batch.py``); None on the Reconciler: unbatched."""

    concurrency: int = 4
    deadline: float = 30.0


@dataclass
class Reconciler:
    api: k8s.ApiClient
    clock: Clock
    events: EventRecorder
    metrics: OperatorMetrics
    may_write: Callable[[], bool]
    default_prometheus: str | None = None
    settings: KubeSettings = field(default_factory=KubeSettings)
    reader: Reader | None = None
    """The informer cache in the operator; None reads everything from the API server."""
    owns: Callable[[str], bool] = lambda key: True
    """Whether this replica may write for ``namespace/name`` (its shard's Lease)."""
    batching: BatchSettings | None = None
    on_query: Callable[[str], None] = lambda kind: None

    def __post_init__(self) -> None:
        self._sources: dict[tuple[object, ...], PrometheusSource] = {}
        self._batched: dict[tuple[object, ...], BatchingSource] = {}
        self._skews: dict[str, tuple[float, float | None]] = {}
        self._credentials: dict[tuple[object, ...], tuple[float, Credentials]] = {}
        self._sources_lock = threading.Lock()
        self.specs = SpecCache()
        self.engine = Engine(self.clock, on_outcome=self._observed)

    def reconcile(self, namespace: str, name: str) -> float | None:
        """Returns seconds until the rollout wants to be looked at again (None: only on change)."""
        return self.run(namespace, name).requeue_after

    def run(self, namespace: str, name: str) -> Outcome:
        """One reconcile through the engine; raises only NotLeader."""
        key = f"{namespace}/{name}"
        world = KubeWorld(
            self.api,
            namespace,
            name,
            sources=self,
            events=self.events,
            may_write=lambda: self.may_write() and self.owns(key),
            now=self.clock.now,
            settings=self.settings,
            on_event=self._on_event,
            reader=self.reader,
            specs=self.specs,
        )
        with write_priority(NORMAL):  # a rollback found during this reconcile raises it for its own writes
            outcome = self.engine.reconcile(world)
        if outcome.gone:
            self.forget(namespace, name)
        return outcome

    def forget(self, namespace: str, name: str) -> None:
        """A deleted rollout: drop its metric series and whatever else this process kept about it."""
        self.metrics.forget_rollout(namespace, name)
        self.engine.forget(f"{namespace}/{name}")
        with self._sources_lock:
            for key in [k for k in self._credentials if k[0] == namespace]:
                del self._credentials[key]

    def _observed(self, view: RolloutView, outcome: Outcome) -> None:
        if outcome.error is not None:
            self.metrics.record_reconcile_error(view.namespace, view.name)
        if outcome.status is not None:
            self.metrics.observe_status(view.namespace, view.name, outcome.status)
        status = outcome.status
        evaluated_now = (
            status is not None and status.last_evaluation_at is not None and status.last_evaluation_at == outcome.at
        )
        if evaluated_now and status is not None and any(c.outage for c in status.checks):
            self.metrics.record_query_error(view.namespace, view.name)

    def _on_event(self, obj: Json, event: EmitEvent, status: RolloutStatus) -> None:
        if event.reason in ("RolledBack", "Aborted"):
            meta = obj.get("metadata") or {}
            check = status.rollback.check if status.rollback else None
            self.metrics.record_rollback(meta.get("namespace", ""), meta.get("name", ""), event.reason, check)

    # ---- Sources ---------------------------------------------------------------------------------
    def source(self, spec: RolloutSpec, namespace: str) -> MetricSource:
        try:
            source = self._source(spec, namespace)
        except CredentialError as exc:
            raise SpecProblem(str(exc)) from exc
        if source is None:
            raise SpecProblem(
                "spec.analysis.prometheus.address: required (the operator has no --prometheus-url default)"
            )
        return source

    def _source(self, spec: RolloutSpec, namespace: str) -> MetricSource | None:
        prom = spec.analysis.prometheus
        address = prom.address or self.default_prometheus
        if not address:
            return None
        creds = self._read_credentials(namespace, prom)
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
            if self.batching is None:
                return source
            batched = self._batched.get(key)
            if batched is None:  # one batch per endpoint and credentials: tracks share its grouped queries
                batched = BatchingSource(
                    source,
                    concurrency=self.batching.concurrency,
                    deadline=self.batching.deadline,
                    on_query=self.on_query,
                )
                self._batched[key] = batched
        return batched

    def _read_credentials(self, namespace: str, prom: Any) -> Credentials:
        """Credentials, re-read from their Secrets at most once a minute (rotations apply within it)."""
        refs = (prom.bearer_token_secret, prom.basic_auth_secret, prom.ca_secret)
        if all(ref is None for ref in refs):
            return Credentials()
        key = (namespace, *(repr(ref) for ref in refs))
        now = time.monotonic()
        with self._sources_lock:
            cached = self._credentials.get(key)
        if cached is not None and now - cached[0] < CREDENTIALS_CACHE_SECONDS:
            return cached[1]
        creds = prometheus_credentials(self.api, namespace, prom)
        with self._sources_lock:
            self._credentials[key] = (now, creds)
        return creds

    def clock_skew(self, source: MetricSource) -> float | None:
        """Measured at most once a minute per Prometheus; None when it cannot be measured (an outage)."""
        source = source.inner if isinstance(source, BatchingSource) else source
        if not isinstance(source, PrometheusSource):
            return None
        now = self.clock.monotonic()
        with self._sources_lock:
            cached = self._skews.get(source.url)
        if cached is not None and now - cached[0] < SKEW_CACHE_SECONDS:
            return cached[1]
        try:
            skew: float | None = source.clock_skew()
        except SourceUnavailable:
            skew = None  # the evaluation will meet the outage itself and hold for it
        with self._sources_lock:
            self._skews[source.url] = (now, skew)
        return skew

    def close(self) -> None:
        """Release pooled Prometheus connections (on shutdown)."""
        with self._sources_lock:
            for source in self._sources.values():
                source.close()
            self._sources.clear()
            self._batched.clear()
