"""A steady, bounded request stream through HAProxy, so both tracks see the same traffic mix.

Requests are scheduled at a fixed rate independent of response times (an open-loop generator):
a slow green must not quietly reduce its own load. When too many requests are in flight the tick
is dropped and counted, never queued without bound.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)

DEPLOYMENT_HEADER = "X-Greenlane-Deployment"


UNROUTED = "none"
"""The deployment of a request no app answered (HAProxy's own 503, a refused connection, a timeout)."""


@dataclass
class LoadStats:
    """Counts since the last reset: by serving deployment (from the app's header) and by status.

    An error is a 5xx or no answer at all (status 0); ``errors_by_deployment`` attributes it to the app that
    sent it, or to ``none``. ``seconds`` is how long the counters have been counting.
    """

    sent: int = 0
    dropped: int = 0
    failed: int = 0
    by_deployment: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    errors_by_deployment: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def errors(self) -> int:
        return sum(self.errors_by_deployment.values())


def is_error(status: int) -> bool:
    return status == 0 or status >= 500


class LoadGenerator:
    """``rps`` GET requests per second to ``host:port`` until stopped or ``max_duration_s`` elapsed."""

    def __init__(
        self,
        host: str,
        port: int,
        rps: float,
        *,
        path: str = "/",
        workers: int = 8,
        timeout_s: float = 5.0,
        max_duration_s: float = 4 * 3600.0,
    ) -> None:
        if rps <= 0:
            raise ValueError("rps must be positive")
        self.host, self.port, self.rps, self.path = host, port, rps, path
        self.workers, self.timeout_s, self.max_duration_s = workers, timeout_s, max_duration_s
        self._stats = LoadStats()
        self._since = time.monotonic()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        with self._lock:
            self._since = time.monotonic()
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="loadgen")
        self._thread = threading.Thread(target=self._schedule, name="loadgen-scheduler", daemon=True)
        self._thread.start()
        log.info("load generator started", rps=self.rps, target=f"{self.host}:{self.port}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def stats(self, reset: bool = False) -> LoadStats:
        """A copy of the counters; ``reset`` starts a fresh measuring window atomically."""
        with self._lock:
            s, now = self._stats, time.monotonic()
            copy = LoadStats(
                s.sent,
                s.dropped,
                s.failed,
                Counter(s.by_deployment),
                Counter(s.by_status),
                Counter(s.errors_by_deployment),
                now - self._since,
            )
            if reset:
                self._stats, self._since = LoadStats(), now
            return copy

    def _schedule(self) -> None:
        period = 1.0 / self.rps
        started = time.monotonic()
        next_at = started
        while not self._stop.is_set() and time.monotonic() - started < self.max_duration_s:
            next_at += period
            with self._lock:
                busy = self._in_flight >= self.workers * 2
                if busy:
                    self._stats.dropped += 1
                else:
                    self._in_flight += 1
            if not busy and self._pool is not None:
                self._pool.submit(self._one)
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _one(self) -> None:
        deployment, status = UNROUTED, 0
        try:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            try:
                conn.request("GET", self.path, headers={"Connection": "close"})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                deployment = resp.getheader(DEPLOYMENT_HEADER) or UNROUTED
            finally:
                conn.close()
        except OSError:
            status = 0
        with self._lock:
            self._in_flight -= 1
            self._stats.sent += 1
            self._stats.by_status[status] += 1
            self._stats.by_deployment[deployment] += 1
            if status == 0:
                self._stats.failed += 1
            if is_error(status):
                self._stats.errors_by_deployment[deployment] += 1
