"""Lease-based leader election: one writer at a time, and a writer that cannot prove it still holds the
lease stops writing at once.

Follows client-go's leaderelection: expiry is judged by *our* monotonic observation of the lease
changing, never by comparing timestamps written by another machine's clock.

Why the two clocks stay safe together: the holder counts its renew deadline from when its successful
round *started* (before the request that renewed could reach the server), while a candidate counts the
lease duration from when it *saw* that renewal (after the server applied it). So the holder stops writing
at least ``lease_duration - renew_deadline`` before any candidate may take over, however slow the
renewal's answer was, and however promptly (a watch) the candidate saw it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.clock import Clock
from controller.kube.client import CONNECT_TIMEOUT
from controller.kube.store import newer

log = structlog.get_logger("greenlane.leader")


@dataclass(frozen=True)
class LeaseConfig:
    namespace: str
    name: str = "greenlane-leader"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


@dataclass(frozen=True)
class Observed:
    """A version of the lease as we first saw it, timed on our own monotonic clock."""

    version: str
    holder: str | None
    duration: float
    seen_at: float


class LeaderElector:
    def __init__(self, api: k8s.ApiClient, identity: str, config: LeaseConfig, clock: Clock) -> None:
        self._api = k8s.CoordinationV1Api(api)
        self._identity = identity
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._renewed_at: float | None = None  # monotonic time of our last successful acquire/renew
        self._observed: Observed | None = None
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
        started = self._clock.monotonic()  # a renewal counts from before the server can have applied it
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
                self._renewed_at = started
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
        spec = lease.spec
        self.observe_version(
            str(lease.metadata.resource_version or ""),
            spec.holder_identity if spec else None,
            spec.lease_duration_seconds if spec else None,
        )

    def observe_version(self, version: str, holder: str | None, duration: Any) -> None:
        """Note one version of the lease as seen now (a watch event, a GET, a LIST).

        Only a version newer than the one we hold restarts the count: a LIST answered from a lagging cache
        must not make an old version look fresh. Counting from the moment *we* see a version is what makes
        a prompt observer (a watch) take over promptly and a slow one late, never early.
        """
        seconds = _duration(duration, self._config.lease_duration)
        now = self._clock.monotonic()
        with self._lock:
            current = self._observed
            if current is None or newer(version, current.version):
                self._observed = Observed(version, holder, seconds, now)

    def expired(self, lease: Any) -> bool:
        """Free, or unchanged for a whole lease duration as *we* observed it (never by the holder's clock)."""
        spec = lease.spec
        if spec is None or not spec.holder_identity:
            return True
        with self._lock:
            observed = self._observed
        if observed is None or observed.version != lease.metadata.resource_version:
            return False
        return self._clock.monotonic() - observed.seen_at >= observed.duration

    def expires_at(self) -> float | None:
        """When (our monotonic clock) the version we observed last may be taken over: at once if it is free,
        one lease duration after we saw it otherwise; None if we hold it or never saw it."""
        with self._lock:
            observed, ours = self._observed, self._renewed_at is not None
        if observed is None or ours or observed.holder == self._identity:
            return None
        return observed.seen_at if not observed.holder else observed.seen_at + observed.duration

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


def _duration(value: Any, default: float) -> float:
    """A Lease's ``leaseDurationSeconds`` as written by anyone: a positive finite number, else ours."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return seconds if math.isfinite(seconds) and seconds > 0 else default
