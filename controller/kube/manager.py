"""The operator process: watches, a bounded pool of workers, leader election, probes and metrics.

Workers take keys from one WorkQueue, so a rollout is never reconciled by two workers at once; each
reconcile's requeue-after (capped by a resync period) schedules the next look. Watches only enqueue.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field

import structlog
from kubernetes import client as k8s

from controller.clock import Clock
from controller.engine import NotLeader
from controller.kube.events import EventRecorder
from controller.kube.http import Endpoints, serve
from controller.kube.leader import LeaderElector, LeaseConfig
from controller.kube.metrics import OperatorMetrics
from controller.kube.reconciler import Reconciler
from controller.kube.watcher import Json, Watcher
from controller.kube.webhooks import SecretUrlReader
from controller.kube.workqueue import WorkQueue
from controller.kube.world import KubeSettings
from controller.model.resource import GROUP, PLURAL, VERSION
from controller.notify import Notifier, Sink

log = structlog.get_logger("greenlane.manager")
RESYNC = 30.0  # seconds: Deployments and pods change without touching the rollout; look again at least this often
STUCK_RECONCILE = 900.0
"""A reconcile makes a bounded number of calls, each with a timeout (API 35 s, Prometheus its spec timeout);
one running for 15 minutes is stuck, and liveness fails so that the kubelet restarts the process."""


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


class Manager:
    def __init__(self, api: k8s.ApiClient, config: ManagerConfig, clock: Clock) -> None:
        self.api, self.config, self.clock = api, config, clock
        self.metrics = OperatorMetrics()
        self.queue = WorkQueue(clock)
        self.stop = threading.Event()
        self.synced = threading.Event()
        self.known: set[str] = set()
        self.elector = (
            LeaderElector(api, config.identity, LeaseConfig(namespace=config.lease_namespace), clock)
            if config.leader_elect
            else None
        )
        events = EventRecorder(api, clock, instance=config.identity)
        self.notifier = Notifier(
            config.notify_sinks, SecretUrlReader(api), clock=clock, on_result=self.metrics.record_notification
        )
        self.reconciler = Reconciler(
            api,
            clock,
            events,
            self.metrics,
            self.is_leader,
            config.prometheus_url,
            KubeSettings(finalizer_timeout=config.finalizer_timeout),
            notifier=self.notifier,
            allowed_prometheus_origins=config.prometheus_allowed_origins,
        )
        self._busy: dict[str, tuple[str, float]] = {}
        self._busy_lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        scopes = config.namespaces or (None,)
        self.watchers = [*(self._watcher(ns) for ns in scopes), *(self._deployment_watcher(ns) for ns in scopes)]
        self._by_deployment: dict[tuple[str, str], set[str]] = {}
        self._index_lock = threading.Lock()

    def is_leader(self) -> bool:
        return self.elector is None or self.elector.is_leader()

    def _watcher(self, namespace: str | None) -> Watcher:
        custom = k8s.CustomObjectsApi(self.api)

        def list_fn(**kwargs: object) -> object:
            if namespace is None:
                return custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, **kwargs)
            return custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, **kwargs)

        return Watcher(f"rollouts/{namespace or '*'}", list_fn, self._on_rollout, self.clock, on_synced=self.synced.set)

    def _deployment_watcher(self, namespace: str | None) -> Watcher:
        """Readiness and a new pod-template-hash show on the Deployment: look at its rollouts at once."""
        apps = k8s.AppsV1Api(self.api)

        def list_fn(**kwargs: object) -> object:
            if namespace is None:
                return apps.list_deployment_for_all_namespaces(**kwargs)
            return apps.list_namespaced_deployment(namespace, **kwargs)

        return Watcher(f"deployments/{namespace or '*'}", list_fn, self._on_deployment, self.clock)

    def _on_rollout(self, obj: Json, deleted: bool) -> None:
        meta = obj.get("metadata", {})
        namespace, key = meta.get("namespace"), f"{meta.get('namespace')}/{meta.get('name')}"
        spec = obj.get("spec") or {}
        names = {(spec.get(track) or {}).get("deployment") for track in ("blue", "green")}
        with self._index_lock:
            for keys in self._by_deployment.values():
                keys.discard(key)
            if not deleted:
                for name in names - {None}:
                    self._by_deployment.setdefault((str(namespace), str(name)), set()).add(key)
        if deleted:
            self.known.discard(key)
            self.queue.forget(key)
            return
        self.known.add(key)
        self.queue.add(key)

    def _on_deployment(self, obj: Json, deleted: bool) -> None:
        meta = obj.get("metadata") or {}
        with self._index_lock:
            keys = set(self._by_deployment.get((str(meta.get("namespace")), str(meta.get("name"))), ()))
        for key in keys:
            self.queue.add(key)

    def run(self) -> None:
        servers = [
            serve(self.config.health_addr, Endpoints(self._live, self._ready)),
            serve(self.config.metrics_addr, Endpoints(self._live, self._ready, self.metrics.registry)),
        ]
        threads = [threading.Thread(target=w.run, args=(self.stop,), name=w.name, daemon=True) for w in self.watchers]
        if self.elector is not None:
            threads.append(threading.Thread(target=self._campaign, name="leader", daemon=True))
        workers = [threading.Thread(target=self._work, name=f"worker-{i}") for i in range(self.config.workers)]
        self._workers = workers
        for thread in [*threads, *workers]:
            thread.start()
        log.info("operator started", identity=self.config.identity, namespaces=self.config.namespaces or "all")
        self.stop.wait()
        self.queue.close()
        for worker in workers:
            worker.join(timeout=60)  # finish the reconcile in flight, then stop
        self.reconciler.close()
        self.notifier.close()
        if self.elector is not None:
            self.elector.release()
        for server in servers:
            server.shutdown()
            server.server_close()
        log.info("operator stopped")

    def _campaign(self) -> None:
        assert self.elector is not None
        leading = False
        while not self.stop.is_set():
            now_leading = self.elector.try_acquire_or_renew()
            if now_leading != leading:
                self.metrics.set_leader(now_leading)
                if now_leading:
                    for key in list(self.known):
                        self.queue.add(key)
                leading = now_leading
            self.stop.wait(LeaseConfig.retry_period)

    def _work(self) -> None:
        me = threading.current_thread().name
        while not self.stop.is_set():
            key = self.queue.get(timeout=1.0)
            if key is None:
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
        if not self.is_leader():
            self.queue.add(key, after=LeaseConfig.retry_period)
            return
        namespace, name = key.split("/", 1)
        started = self.clock.monotonic()
        ok = True
        try:
            outcome = self.reconciler.run(namespace, name)
            after, ok = outcome.requeue_after, outcome.error is None
        except NotLeader:
            after = LeaseConfig.retry_period
        self.metrics.observe_reconcile(self.clock.monotonic() - started, ok=ok)
        if key in self.known:
            # a failing rollout keeps the engine's backoff (it may exceed the resync); others look again soon
            after = after if not ok and after is not None else min(after if after is not None else RESYNC, RESYNC)
            self.queue.add(key, after=after)

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
        silent = [w.name for w in self.watchers if now - w.heartbeat > w.stale_after]
        if silent:
            return False, f"watches without progress: {', '.join(silent)}"
        return True, "ok"

    def _ready(self) -> tuple[bool, str]:
        return (True, "ok") if self.synced.is_set() else (False, "waiting for the first list of rollouts")
