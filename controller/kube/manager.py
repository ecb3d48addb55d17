"""The operator process: informer caches, a bounded pool of workers, leases, probes and metrics.

Workers take keys from one WorkQueue, so a rollout is never reconciled by two workers at once; each
reconcile's requeue-after schedules the next look. Watches feed the caches, and a change in what a rollout
reads (the rollout, its Deployments and ReplicaSets, its router object) schedules it: nothing polls.
Finished rollouts are looked at again only on such a change, or on the long resync, which re-reads the
cache and costs the API server nothing. Rollbacks come out of the queue first; only this replica's
shards are reconciled (one shard, the default, when a single leader holds the lease).
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import structlog
from kubernetes import client as k8s

from controller.clock import Clock
from controller.engine import NotLeader
from controller.kube.cache import ClusterCache
from controller.kube.client import TimeoutApiClient
from controller.kube.events import EventRecorder
from controller.kube.http import Endpoints, serve
from controller.kube.leader import LeaderElector, LeaseConfig
from controller.kube.metrics import OperatorMetrics
from controller.kube.ratelimit import CRITICAL, Limits, TokenBucket, write_priority
from controller.kube.reconciler import BatchSettings, Reconciler
from controller.kube.scale_metrics import ScaleMetrics
from controller.kube.shards import Everything, Ownership, ShardedLeases, SingleLeader, shard_of
from controller.kube.store import Json
from controller.kube.webhooks import SecretUrlReader
from controller.kube.workqueue import BACKGROUND, NORMAL, PRIORITY_NAMES, URGENT, WorkQueue
from controller.kube.world import KubeSettings
from controller.model.status import TERMINAL_PHASES
from controller.notify import Notifier, Sink

log = structlog.get_logger("greenlane.manager")
RESYNC = 600.0
"""Seconds: every rollout is looked at again at least this often, from the cache (no API reads)."""
STUCK_RECONCILE = 900.0
"""A reconcile makes a bounded number of calls, each with a timeout (API 35 s, Prometheus its spec timeout);
one running for 15 minutes is stuck, and liveness fails so that the kubelet restarts the process."""
DEPENDENTS_SYNC_WAIT = 60.0
"""Seconds workers wait for the Deployment/ReplicaSet/router caches; after that a kind not listed yet
(a router CRD missing from the cluster) is read from the API server until it is."""


@dataclass(frozen=True)
class ManagerConfig:
    namespaces: tuple[str, ...] | None = None  # None: all namespaces
    leader_elect: bool = True
    lease_namespace: str = "default"
    identity: str = field(default_factory=lambda: os.environ.get("POD_NAME") or socket.gethostname())
    metrics_addr: tuple[str, int] = ("0.0.0.0", 8080)
    health_addr: tuple[str, int] = ("0.0.0.0", 8081)
    prometheus_url: str | None = None
    prometheus_allowed_origins: tuple[str, ...] = ()
    workers: int = 4
    finalizer_timeout: float = 300.0
    notify_sinks: tuple[Sink, ...] = ()  # operator-wide Slack/Teams/webhook destinations
    shards: int = 1
    limits: Limits = field(default_factory=Limits)
    resync: float = RESYNC
    evaluation_round: float = 10.0
    batching: BatchSettings | None = field(default_factory=BatchSettings)
    lease_duration: float = LeaseConfig.lease_duration
    renew_deadline: float = LeaseConfig.renew_deadline
    retry_period: float = LeaseConfig.retry_period

    @property
    def lease(self) -> LeaseConfig:
        return LeaseConfig(
            namespace=self.lease_namespace,
            lease_duration=self.lease_duration,
            renew_deadline=self.renew_deadline,
            retry_period=self.retry_period,
        )


def priority_of(obj: Json | None) -> int:
    """Rollbacks in progress, and rollouts whose last decision sent green to 0, come out of the queue first."""
    status = (obj or {}).get("status") or {}
    rollback = status.get("rollback")
    if isinstance(rollback, dict) and not rollback.get("completedAt"):
        return URGENT
    return URGENT if status.get("targetWeight") == 0 else NORMAL


class Manager:
    def __init__(self, api: k8s.ApiClient, config: ManagerConfig, clock: Clock) -> None:
        self.api, self.config, self.clock = api, config, clock
        self.metrics = OperatorMetrics()
        self.scale = ScaleMetrics(self.metrics.registry)
        self.queue = WorkQueue(clock)
        self.stop = threading.Event()
        self.synced = threading.Event()
        self.known: dict[int, set[str]] = {}
        self._known_lock = threading.Lock()
        self.limiter = TokenBucket(config.limits, clock, on_wait=self._waited)
        if isinstance(api, TimeoutApiClient):
            api.limiter = self.limiter
        self.cache = ClusterCache(api, clock, config.namespaces, self._changed)
        self.cache.on_rollout = self._on_rollout
        self.ownership = self._ownership()
        events = EventRecorder(api, clock, instance=config.identity)
        self.notifier = Notifier(
            config.notify_sinks, SecretUrlReader(api), clock=clock, on_result=self.metrics.record_notification
        )
        self.reconciler = Reconciler(
            api,
            clock,
            events,
            self.metrics,
            lambda: True,
            config.prometheus_url,
            KubeSettings(finalizer_timeout=config.finalizer_timeout, evaluation_round=config.evaluation_round),
            notifier=self.notifier,
            allowed_prometheus_origins=config.prometheus_allowed_origins,
            reader=self.cache,
            owns=self.owns,
            batching=config.batching,
            on_query=lambda kind: self.scale.prometheus_queries.labels(kind).inc(),
        )
        self.scale.observe(
            self.cache.sizes,
            self.ownership.owned,
            self._rollouts_per_shard,
            lambda: {PRIORITY_NAMES[p]: n for p, n in self.queue.depth().items()},
            lambda: {i.name: i.lists for i in self.cache.all_informers()},
            self.metrics.registry,
        )
        self._busy: dict[str, tuple[str, float]] = {}
        self._busy_lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _ownership(self) -> Ownership:
        config = self.config
        if not config.leader_elect:
            return Everything()
        if config.shards > 1:
            return ShardedLeases(
                self.api, config.identity, config.lease, config.shards, self.clock, self._owned, busy=self._shard_busy
            )
        return SingleLeader(
            LeaderElector(self.api, config.identity, config.lease, self.clock), config.retry_period, self._owned
        )

    # ---- ownership --------------------------------------------------------------------------------
    def shard(self, key: str) -> int:
        return shard_of(key, self.ownership.shards)

    def owns(self, key: str) -> bool:
        return self.ownership.holds(self.shard(key))

    def is_leader(self) -> bool:
        return bool(self.ownership.owned())

    def _owned(self, gained: set[int], lost: set[int]) -> None:
        self.metrics.set_leader(bool(self.ownership.owned()))
        log.info("shards changed", gained=sorted(gained), lost=sorted(lost), identity=self.config.identity)
        for shard in gained:
            with self._known_lock:
                keys = list(self.known.get(shard, ()))
            for key in keys:
                self.queue.add(key, priority=priority_of(self.cache.rollout(*key.split("/", 1))))

    def _shard_busy(self, shard: int) -> bool:
        with self._busy_lock:
            return any(self.shard(key) == shard for key, _ in self._busy.values())

    def _rollouts_per_shard(self) -> dict[int, int]:
        with self._known_lock:
            return {shard: len(keys) for shard, keys in self.known.items()}

    # ---- what the caches announce ----------------------------------------------------------------
    def _on_rollout(self, key: str, old: Json | None, new: Json | None) -> None:
        shard = self.shard(key)
        if new is None:
            with self._known_lock:
                self.known.get(shard, set()).discard(key)
            self.queue.forget(key)
            self.reconciler.forget(*key.split("/", 1))
            return
        with self._known_lock:
            self.known.setdefault(shard, set()).add(key)
        finished = ((new.get("status") or {}).get("phase")) in TERMINAL_PHASES
        # first sight of a finished rollout (a start, a relist): checked once, after those still moving traffic
        self.queue.add(key, priority=BACKGROUND if old is None and finished else priority_of(new))

    def _changed(self, keys: set[str]) -> None:
        """A Deployment, ReplicaSet or router object changed: look at the rollouts that read it."""
        for key in keys:
            self.queue.add(key, priority=priority_of(self.cache.rollout(*key.split("/", 1))))

    def _waited(self, seconds: float, priority: int) -> None:
        self.scale.write_wait.labels("urgent" if priority <= 1 else "normal").observe(seconds)

    # ---- running ----------------------------------------------------------------------------------
    def run(self) -> None:
        servers = [
            serve(self.config.health_addr, Endpoints(self._live, self._ready)),
            serve(self.config.metrics_addr, Endpoints(self._live, self._ready, self.metrics.registry)),
        ]
        self.cache.start(self.stop, self.cache.informers)
        threading.Thread(target=self._campaign, name="leases", daemon=True).start()
        threading.Thread(target=self._start_workers, name="startup", daemon=True).start()
        log.info(
            "operator started",
            identity=self.config.identity,
            namespaces=self.config.namespaces or "all",
            shards=self.ownership.shards,
        )
        self.stop.wait()
        self.queue.close()
        for worker in list(self._workers):
            worker.join(timeout=60)  # finish the reconcile in flight, then stop
        self.reconciler.close()
        self.notifier.close()
        with write_priority(CRITICAL):
            self.ownership.release()
        for server in servers:
            server.shutdown()
            server.server_close()
        log.info("operator stopped")

    def _start_workers(self) -> None:
        """Rollouts listed first (they say which dependents to keep), then dependents, then workers."""
        for informer in self.cache.informers:
            while not informer.synced.wait(1.0):
                if self.stop.is_set():
                    return
        started = self.clock.monotonic()
        self.cache.start_dependents(self.stop)
        while not self.cache.dependents_synced() and self.clock.monotonic() - started < DEPENDENTS_SYNC_WAIT:
            if self.stop.wait(0.1):
                return
        with self._known_lock:
            rollouts = sum(len(keys) for keys in self.known.values())
        log.info("caches synced", rollouts=rollouts, seconds=round(self.clock.monotonic() - started, 2))
        self.synced.set()
        workers = [threading.Thread(target=self._work, name=f"worker-{i}") for i in range(self.config.workers)]
        self._workers = workers
        for worker in workers:
            worker.start()

    def _campaign(self) -> None:
        with write_priority(CRITICAL):  # lease renewals are never held by the write budget
            self.ownership.run(self.stop)

    def _work(self) -> None:
        me = threading.current_thread().name
        while not self.stop.is_set():
            key = self.queue.get(timeout=1.0)
            if key is None:
                continue
            if not self.owns(key):
                self.queue.done(key)  # another replica's (or nobody's yet): looked at when our shard is
                continue
            with self._busy_lock:
                self._busy[me] = (key, self.clock.monotonic())
            try:
                self._process(key)
            except Exception:  # never let a worker die: liveness would fail for good
                log.exception("worker error", key=key)
            finally:
                with self._busy_lock:
                    self._busy.pop(me, None)
                self.queue.done(key)

    def _process(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        started, cpu = self.clock.monotonic(), time.thread_time()
        ok = True
        try:
            outcome = self.reconciler.run(namespace, name)
        except NotLeader:
            return  # the shard went away mid-reconcile; whoever holds it now looks again
        ok = outcome.error is None
        self.metrics.observe_reconcile(self.clock.monotonic() - started, ok=ok)
        self.scale.reconcile_cpu.observe(time.thread_time() - cpu)
        self.scale.shard_reconciles.labels(str(self.shard(key)), "ok" if ok else "error").inc()
        if outcome.gone:
            return
        with self._known_lock:
            deleted = key not in self.known.get(self.shard(key), ())
        if deleted:  # deleted while this reconcile ran: what it just recorded about the rollout goes too
            self.reconciler.forget(namespace, name)
            return
        after, priority = outcome.requeue_after, priority_of(self.cache.rollout(namespace, name))
        if after is None or after > self.config.resync:
            # nothing time-driven before the resync: it re-reads the cache, spread so resyncs never bunch up
            after, priority = self.config.resync * random.uniform(0.9, 1.1), BACKGROUND
        self.queue.add(key, after=after, priority=priority)

    # ---- probes -----------------------------------------------------------------------------------
    def _live(self) -> tuple[bool, str]:
        """Fails when the loop stopped making progress: a dead worker, a stuck reconcile, a silent watch."""
        if self.stop.is_set():
            return False, "stopping"
        dead = [w.name for w in self._workers if not w.is_alive()]
        if dead:
            return False, f"workers stopped: {', '.join(dead)}"
        now = self.clock.monotonic()
        with self._busy_lock:
            stuck = [(k, now - t) for k, t in self._busy.values() if now - t > STUCK_RECONCILE]
        if stuck:
            key, seconds = stuck[0]
            return False, f"reconcile of {key} running for {seconds:.0f}s"
        watched = [i for i in self.cache.all_informers() if i.synced.is_set() or i in self.cache.informers]
        silent = [i.name for i in watched if now - i.heartbeat > i.stale_after]
        if silent:
            return False, f"watches without progress: {', '.join(silent)}"
        return True, "ok"

    def _ready(self) -> tuple[bool, str]:
        return (True, "ok") if self.synced.is_set() else (False, "waiting for the first list of rollouts")

    def queue_summary(self) -> Counter[str]:
        return Counter({PRIORITY_NAMES[p]: n for p, n in self.queue.depth().items()})
