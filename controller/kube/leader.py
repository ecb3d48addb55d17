"""Lease-based leader election: one writer at a time, and a writer that cannot prove it still holds the
lease stops writing at once.

Follows client-go's leaderelection: expiry is judged by *our* monotonic observation of the lease
changing, never by comparing timestamps written by another machine's clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.clock import Clock
from controller.kube.client import CONNECT_TIMEOUT

log = structlog.get_logger("greenlane.leader")


@dataclass(frozen=True)
class LeaseConfig:
    namespace: str
    name: str = "greenlane-leader"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class LeaderElector:
    def __init__(self, api: k8s.ApiClient, identity: str, config: LeaseConfig, clock: Clock) -> None:
        self._api = k8s.CoordinationV1Api(api)
        self._identity = identity
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._renewed_at: float | None = None  # monotonic time of our last successful acquire/renew
        self._observed: tuple[str, str | None, float] | None = None  # (resourceVersion, holder, seen at)
        self.lost = threading.Event()
        # A renewal that cannot finish well within the renew deadline is as good as a failed one.
        self._timeout = (min(CONNECT_TIMEOUT, config.renew_deadline / 4), config.renew_deadline / 2)

    @property
    def identity(self) -> str:
        return self._identity

    def is_leader(self) -> bool:
        """True only while our last renewal is younger than the renew deadline."""
        with self._lock:
            if self._renewed_at is None:
                return False
            return self._clock.monotonic() - self._renewed_at < self._config.renew_deadline

    def try_acquire_or_renew(self) -> bool:
        """One round of the election; returns whether we hold the lease afterwards."""
        try:
            held = self._round()
        except ApiException as exc:
            log.warning("lease round failed", lease=self._config.name, status=exc.status, reason=exc.reason)
            held = False
        except Exception as exc:  # timeouts, connection errors: not holding until proven otherwise
            log.warning("lease round failed", lease=self._config.name, error=str(exc))
            held = False
        now = self._clock.monotonic()
        with self._lock:
            was = self._renewed_at is not None
            if held:
                self._renewed_at = now
            elif was and now - (self._renewed_at or now) >= self._config.renew_deadline:
                self._renewed_at = None
                self.lost.set()
                log.error("lost leadership", lease=self._config.name, identity=self._identity)
        return self.is_leader()

    def _round(self) -> bool:
        try:
            lease = self._api.read_namespaced_lease(
                self._config.name, self._config.namespace, _request_timeout=self._timeout
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            self._api.create_namespaced_lease(
                self._config.namespace, self._lease_body(None, transitions=0), _request_timeout=self._timeout
            )
            log.info("acquired leadership (new lease)", lease=self._config.name, identity=self._identity)
            return True
        spec = lease.spec
        holder = spec.holder_identity if spec else None
        self.observe(lease)
        if holder and holder != self._identity and not self.expired(lease):
            return False
        transitions = int(spec.lease_transitions or 0) + (0 if holder == self._identity else 1)
        acquire_time = spec.acquire_time if holder == self._identity else None
        body = self._lease_body(lease.metadata.resource_version, transitions, acquire_time)
        self._api.replace_namespaced_lease(
            self._config.name, self._config.namespace, body, _request_timeout=self._timeout
        )
        if holder != self._identity:
            log.info("acquired leadership", lease=self._config.name, identity=self._identity, previous=holder)
        return True

    def observe(self, lease: Any) -> None:
        """Note the lease as read now (from our own GET or a LIST): expiry counts from when it last changed."""
        rv = lease.metadata.resource_version
        holder = lease.spec.holder_identity if lease.spec else None
        with self._lock:
            if self._observed is None or self._observed[0] != rv:
                self._observed = (rv, holder, self._clock.monotonic())

    def expired(self, lease: Any) -> bool:
        """Free, or unchanged for a whole lease duration as *we* observed it (never by the holder's clock)."""
        spec = lease.spec
        if spec is None or not spec.holder_identity:
            return True
        with self._lock:
            observed = self._observed
        if observed is None or observed[0] != lease.metadata.resource_version:
            return False
        duration = float(spec.lease_duration_seconds or self._config.lease_duration)
        return self._clock.monotonic() - observed[2] >= duration

    def _lease_body(self, rv: str | None, transitions: int, acquired: datetime | None = None) -> Any:
        now = self._clock.now()
        return k8s.V1Lease(
            metadata=k8s.V1ObjectMeta(name=self._config.name, namespace=self._config.namespace, resource_version=rv),
            spec=k8s.V1LeaseSpec(
                holder_identity=self._identity,
                lease_duration_seconds=int(self._config.lease_duration),
                acquire_time=acquired or now,
                renew_time=now,
                lease_transitions=transitions,
            ),
        )

    def release(self) -> None:
        """Give the lease up on shutdown so a standby takes over without waiting for expiry."""
        if not self.is_leader():
            return
        with self._lock:
            self._renewed_at = None
        try:
            lease = self._api.read_namespaced_lease(
                self._config.name, self._config.namespace, _request_timeout=self._timeout
            )
            if lease.spec and lease.spec.holder_identity == self._identity:
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                self._api.replace_namespaced_lease(
                    self._config.name, self._config.namespace, lease, _request_timeout=self._timeout
                )
                log.info("released leadership", lease=self._config.name, identity=self._identity)
        except Exception as exc:  # shutting down anyway; the lease expires on its own
            log.warning("could not release lease", error=str(exc))

    def run(self, stop: threading.Event) -> None:
        """Campaign and renew until ``stop`` is set or leadership is lost."""
        while not stop.is_set() and not self.lost.is_set():
            self.try_acquire_or_renew()
            stop.wait(self._config.retry_period)
