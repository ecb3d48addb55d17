"""A keyed work queue with delays and priorities, in the spirit of client-go's: each key is processed by at
most one worker at a time, a key re-added while in flight is processed once more afterwards, and the
earliest requested time (and the highest priority) wins when a key is scheduled twice.

Priorities exist so that a breach among ten thousand rollouts is acted on as fast as among ten: among the
keys that are due, rollbacks (:data:`URGENT`) come out before ordinary work (:data:`NORMAL`), which comes
out before the long resync that only re-reads the cache (:data:`BACKGROUND`).
"""

from __future__ import annotations

import heapq
import itertools
import threading

from controller.clock import Clock

URGENT, NORMAL, BACKGROUND = 0, 1, 2
PRIORITIES = (URGENT, NORMAL, BACKGROUND)
PRIORITY_NAMES = {URGENT: "urgent", NORMAL: "normal", BACKGROUND: "background"}


class WorkQueue:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._due: dict[str, tuple[float, int]] = {}
        self._heaps: tuple[list[tuple[float, int, str]], ...] = tuple([] for _ in PRIORITIES)
        self._seq = itertools.count()
        self._processing: set[str] = set()
        self._dirty: dict[str, int] = {}
        self._closed = False

    def add(self, key: str, after: float = 0.0, priority: int = NORMAL) -> None:
        """Schedule ``key`` in ``after`` seconds, unless it is already due sooner at the same or a higher priority."""
        with self._cond:
            if self._closed:
                return
            if key in self._processing and after <= 0:
                # processed once more as soon as the current worker is done
                self._dirty[key] = min(priority, self._dirty.get(key, priority))
                return
            self._schedule(key, self._clock.monotonic() + max(0.0, after), priority)

    def _schedule(self, key: str, at: float, priority: int) -> None:
        current = self._due.get(key)
        if current is not None:
            at, priority = min(at, current[0]), min(priority, current[1])
            if (at, priority) == current:
                return
        self._due[key] = (at, priority)
        heapq.heappush(self._heaps[priority], (at, next(self._seq), key))
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
        """The most urgent due key that no worker holds, and otherwise how long until one may be due."""
        now = self._clock.monotonic()
        waits: list[float] = []
        busy = False
        for priority, heap in enumerate(self._heaps):
            skipped: list[tuple[float, int, str]] = []
            found: str | None = None
            while heap:
                at, seq, key = heap[0]
                if self._due.get(key) != (at, priority):
                    heapq.heappop(heap)  # superseded by an earlier or more urgent schedule
                    continue
                if at > now:
                    waits.append(at - now)
                    break
                heapq.heappop(heap)
                if key in self._processing:
                    skipped.append((at, seq, key))
                    continue
                del self._due[key]
                found = key
                break
            for item in skipped:
                heapq.heappush(heap, item)
            busy = busy or bool(skipped)
            if found is not None:
                return found, None
        if busy:
            waits.append(0.05)  # a due key waits for its worker: look again shortly (done() also notifies)
        return None, (min(waits) if waits else None)

    def done(self, key: str) -> None:
        """Mark ``key`` finished; if it was re-added meanwhile, it becomes due now."""
        with self._cond:
            self._processing.discard(key)
            priority = self._dirty.pop(key, None)
            if priority is not None:
                self._schedule(key, self._clock.monotonic(), priority)
            self._cond.notify_all()

    def forget(self, key: str) -> None:
        """Drop a deleted object's schedule."""
        with self._cond:
            self._due.pop(key, None)
            self._dirty.pop(key, None)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def depth(self) -> dict[int, int]:
        """Scheduled keys per priority (due or not), for metrics."""
        with self._cond:
            counts = dict.fromkeys(PRIORITIES, 0)
            for _, priority in self._due.values():
                counts[priority] += 1
            return counts

    def __len__(self) -> int:
        with self._cond:
            return len(self._due)
