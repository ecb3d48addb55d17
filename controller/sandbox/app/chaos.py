"""Turns active fault knobs into real resource use: resident memory and open DB connections.

Both are driven by accumulated "debt" (rate x elapsed time) rather than a fixed schedule, so a rate
changed at runtime takes effect smoothly and a stalled ticker catches up. Both are capped so a
forgotten demo cannot exhaust the machine or PostgreSQL's max_connections.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .faults import FaultState

MB = 1024 * 1024
TICK_S = 0.2


def _touched(mb: float) -> bytes:
    """Memory that really counts as resident: bytes(n) would map lazy zero pages and leave RSS flat."""
    return b"\x5a" * int(mb * MB)


class Chaos:
    """Holds what the faults leaked; a daemon thread grows it while faults are active."""

    def __init__(
        self,
        faults: FaultState,
        connect: Callable[[], Any],
        *,
        max_leak_mb: float = 1024.0,
        max_leaked_connections: int = 100,
    ) -> None:
        self._faults = faults
        self._connect = connect
        self._max_leak_mb = max_leak_mb
        self._max_conns = max_leaked_connections
        self._startup: list[bytes] = []
        self._leaked: list[bytes] = []
        self._conns: list[Any] = []
        self._mem_debt = 0.0
        self._conn_debt = 0.0
        self._lock = threading.Lock()

    def allocate_startup(self, mb: float) -> None:
        """Tops the one-off startup ballast up to ``mb``: higher but flat, like 3.12's immortal objects."""
        with self._lock:
            have = sum(len(b) for b in self._startup) / MB
            if mb > have:
                self._startup.append(_touched(mb - have))

    def tick(self, dt: float) -> None:
        """Advances the leaks by ``dt`` seconds of active faults."""
        settings = self._faults.active()
        if settings is None:
            return
        if settings.startup_memory_mb:
            self.allocate_startup(settings.startup_memory_mb)
        self._leak_memory(settings.memory_leak_mb_per_min * dt / 60.0)
        self._leak_connections(settings.db_leak_per_min * dt / 60.0)

    def _leak_memory(self, mb: float) -> None:
        with self._lock:
            self._mem_debt += mb
            leaked = sum(len(b) for b in self._leaked) / MB
            if self._mem_debt >= 1.0 and leaked < self._max_leak_mb:
                chunk = min(self._mem_debt, self._max_leak_mb - leaked)
                self._leaked.append(_touched(chunk))
                self._mem_debt -= chunk

    def _leak_connections(self, count: float) -> None:
        self._conn_debt += count
        while self._conn_debt >= 1.0 and len(self._conns) < self._max_conns:
            self._conn_debt -= 1.0
            try:
                self._conns.append(self._connect())
            except Exception as exc:  # a full server is the leak's natural end, not the app's
                print(f"db leak: connect failed: {exc}", file=sys.stderr)
                return

    def run(self, stop: threading.Event) -> None:
        """Ticker loop; bounded by ``stop``, which the server sets on shutdown."""
        last = time.monotonic()
        while not stop.wait(TICK_S):
            now = time.monotonic()
            self.tick(now - last)
            last = now

    def stats(self) -> dict[str, float]:
        with self._lock:
            return {
                "startup_mb": sum(len(b) for b in self._startup) / MB,
                "leaked_mb": sum(len(b) for b in self._leaked) / MB,
                "leaked_connections": len(self._conns),
            }

    @property
    def leaked_connections(self) -> int:
        return len(self._conns)

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.close()
            except Exception as exc:
                print(f"db leak: close failed: {exc}", file=sys.stderr)
        self._conns.clear()
