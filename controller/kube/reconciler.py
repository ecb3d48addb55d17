"""The operator's side of a reconcile: a :class:`KubeWorld` for the rollout, run by the shared engine.

Level-triggered: it never looks at which watch event woke it. Everything needed to resume lives in the
rollout's status, written before any traffic moves, so killing the process between any two lines loses
nothing but the work in flight.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from kubernetes import client as k8s

from controller.analysis.batch import BatchingSource, Through
from controller.analysis.noise_cache import NoiseCache
from controller.analysis.prometheus import PrometheusSource
from controller.analysis.source import MetricSource, SourceUnavailable
from controller.clock import Clock
from controller.core.actions import EmitEvent
from controller.engine import Engine, Outcome, RolloutView
from controller.kube.events import EventRecorder
from controller.kube.metrics import OperatorMetrics
from controller.kube.prometheus_pool import SourcePool, SourceRejected
from controller.kube.ratelimit import NORMAL, write_priority
from controller.kube.rollouts import command_user
from controller.kube.world import KubeSettings, KubeWorld, Reader, SpecCache, SpecProblem
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus
from controller.notify import Notifier, RolloutRef

log = structlog.get_logger("greenlane.reconcile")
Json = dict[str, Any]
SKEW_CACHE_SECONDS = 60.0
"""Clock skew changes slowly; measuring it once a minute per Prometheus keeps it to one query per minute."""


@dataclass(frozen=True)
class BatchSettings:
    """Batched Prometheus queries (``controller/analysis/batch.py``); None on the Reconciler: unbatched."""

    concurrency: int = 4
    deadline: float = 30.0
    horizon: float = math.inf
    """A round's grouped queries carry the tracks expected to ask within this many seconds (the round)."""


@dataclass
class Reconciler:
    api: k8s.ApiClient
    clock: Clock
    events: EventRecorder
    metrics: OperatorMetrics
    may_write: Callable[[], bool]
    default_prometheus: str | None = None
    settings: KubeSettings = field(default_factory=KubeSettings)
    notifier: Notifier | None = None
    allowed_prometheus_origins: tuple[str, ...] = ()
    # ---- fleet scale (issue 15) ----
    reader: Reader | None = None
    """The informer cache in the operator; None reads everything from the API server."""
    owns: Callable[[str], bool] = lambda key: True
    """Whether this replica may write for ``namespace/name`` (its shard's Lease)."""
    batching: BatchSettings | None = None
    on_query: Callable[[str], None] = lambda kind: None

    def __post_init__(self) -> None:
        self.sources = SourcePool(self.api, self.clock, self.default_prometheus, self.allowed_prometheus_origins)
        self._skews: dict[str, tuple[float, float | None]] = {}
        self._skews_lock = threading.Lock()
        self._batches: dict[str, BatchingSource] = {}
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
        if outcome.gone or outcome.released:
            # released: the object goes now; series observed by this very reconcile must not outlive it
            self.forget(namespace, name)
        return outcome

    def forget(self, namespace: str, name: str) -> None:
        """A deleted rollout: drop its metric series and whatever else this process kept about it."""
        self.metrics.forget_rollout(namespace, name)
        self.engine.forget(f"{namespace}/{name}")
        self.specs.forget(f"{namespace}/{name}")

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

    def _on_event(self, obj: Json, event: EmitEvent, status: RolloutStatus, spec: RolloutSpec | None) -> None:
        """Notifications (rollbacks are counted by ``observe_status``, from the status itself)."""
        if self.notifier is None:
            return
        meta = obj.get("metadata") or {}
        ref = RolloutRef(str(meta.get("namespace", "")), str(meta.get("name", "")))
        actor = command_user(obj, status)
        self.notifier.publish(ref, event.reason, event.type, event.message, status, spec, actor)  # never blocks

    # ---- Sources ---------------------------------------------------------------------------------
    def source(self, spec: RolloutSpec, namespace: str) -> MetricSource:
        """The rollout's Prometheus: allowlisted origin, opted-in Secrets, one pooled session per configuration.

        Batched (issue 15): rollouts whose Prometheus is the same endpoint with the same credentials share one
        ``BatchingSource``, each sending through its own pooled session; different credentials never share.
        """
        try:
            source, endpoint = self.sources.keyed(namespace, spec.analysis.prometheus)
        except SourceRejected as exc:
            raise SpecProblem(str(exc)) from exc
        if self.batching is None:
            return source
        with self._skews_lock:
            batch = self._batches.get(endpoint)
            if batch is None:
                batch = BatchingSource(
                    None,
                    concurrency=self.batching.concurrency,
                    deadline=self.batching.deadline,
                    horizon=self.batching.horizon,
                    on_query=self.on_query,
                )
                self._batches[endpoint] = batch
        return batch.through(source)

    def clock_skew(self, source: MetricSource) -> float | None:
        """Measured at most once a minute per Prometheus; None when it cannot be measured (an outage)."""
        source = source.source if isinstance(source, Through) else source
        if not isinstance(source, PrometheusSource):
            return None
        now = self.clock.monotonic()
        with self._skews_lock:
            cached = self._skews.get(source.url)
        if cached is not None and now - cached[0] < SKEW_CACHE_SECONDS:
            return cached[1]
        try:
            skew: float | None = source.clock_skew()
        except SourceUnavailable:
            skew = None  # the evaluation will meet the outage itself and hold for it
        with self._skews_lock:
            self._skews[source.url] = (now, skew)
        return skew

    def noise_cache(self, source: MetricSource) -> NoiseCache | None:
        """The batch's: one per endpoint and credentials, like the grouped queries (unbatched: none)."""
        return source.batch.noise if isinstance(source, Through) else None

    def close(self) -> None:
        """Release pooled Prometheus connections and CA files (on shutdown)."""
        self.sources.close()
