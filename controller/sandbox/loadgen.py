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


@dataclass
class LoadStats:
    """Counts since the last reset: by serving deployment (from the app's header) and by status."""

    sent: int = 0
    dropped: int = 0
    failed: int = 0
    by_deployment: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)


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
        self._lock = threading.Lock()
        self._in_flight = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
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
            s = self._stats
            copy = LoadStats(s.sent, s.dropped, s.failed, Counter(s.by_deployment), Counter(s.by_status))
            if reset:
                self._stats = LoadStats()
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
        deployment, status = "none", 0
        try:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            try:
                conn.request("GET", self.path, headers={"Connection": "close"})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                deployment = resp.getheader(DEPLOYMENT_HEADER) or "none"
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
