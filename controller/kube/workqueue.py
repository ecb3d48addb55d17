"""A keyed work queue with delays, in the spirit of client-go's: each key is processed by at most one
worker at a time, a key re-added while in flight is processed once more afterwards, and the earliest
requested time wins when a key is scheduled twice.
"""

from __future__ import annotations

import heapq
import threading

from controller.clock import Clock


class WorkQueue:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._processing: set[str] = set()
        self._dirty: set[str] = set()
        self._closed = False

    def add(self, key: str, after: float = 0.0) -> None:
        """Schedule ``key`` in ``after`` seconds, unless it is already due sooner."""
        with self._cond:
            if self._closed:
                return
            if key in self._processing and after <= 0:
                self._dirty.add(key)  # processed once more as soon as the current worker is done
                return
            at = self._clock.monotonic() + max(0.0, after)
            if key in self._due and self._due[key] <= at:
                return
            self._due[key] = at
            heapq.heappush(self._heap, (at, key))
            self._cond.notify()

    def get(self, timeout: float | None = None) -> str | None:
        """The next due key not being processed, or None when closed or after ``timeout`` seconds."""
        deadline = None if timeout is None else self._clock.monotonic() + timeout
        with self._cond:
            while not self._closed:
                key, wait = self._pop_due()
                if key is not None:
                    self._processing.add(key)
                    return key
                if deadline is not None:
                    remaining = deadline - self._clock.monotonic()
                    if remaining <= 0:
                        return None
                    wait = remaining if wait is None else min(wait, remaining)
                self._cond.wait(wait)
            return None

    def _pop_due(self) -> tuple[str | None, float | None]:
        now = self._clock.monotonic()
        skipped: list[tuple[float, str]] = []
        found: str | None = None
        while self._heap:
            at, key = self._heap[0]
            if self._due.get(key) != at:
                heapq.heappop(self._heap)  # superseded by an earlier schedule
                continue
            if at > now:
                break
            heapq.heappop(self._heap)
            if key in self._processing:
                skipped.append((at, key))
                continue
            del self._due[key]
            found = key
            break
        for item in skipped:
            heapq.heappush(self._heap, item)
        wait = None if not self._heap or found else max(0.0, self._heap[0][0] - now)
        return found, (0.05 if skipped and wait is None else wait)

    def done(self, key: str) -> None:
        """Mark ``key`` finished; if it was re-added meanwhile, it becomes due now."""
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                at = self._clock.monotonic()
                if self._due.get(key, float("inf")) > at:
                    self._due[key] = at
                    heapq.heappush(self._heap, (at, key))
            self._cond.notify_all()

    def forget(self, key: str) -> None:
        """Drop a deleted object's schedule."""
        with self._cond:
            self._due.pop(key, None)
            self._dirty.discard(key)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._due)
