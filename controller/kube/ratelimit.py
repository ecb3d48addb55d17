"""Client-side rate limiting of API writes, with rollbacks first.

Reads come from the informer caches, so what a fleet costs the API server is its writes: status after
each evaluation, router weights, events. The Python client has no limiter of its own (client-go has a
token bucket, 5 QPS with a burst of 10 by default; controller-runtime raises that to 20/30), so a burst
of work would turn into 429s and failed reconciles. :class:`TokenBucket` smooths writes to ``qps`` with
a ``burst``; the priority of the write in progress comes from a context variable set by whoever knows:

- ``CRITICAL`` (Lease renewals) is never limited: a throttled renewal would lose the lease;
- ``URGENT`` (a rollback's status and router writes) never waits behind ordinary writes: it takes a token
  ahead of every waiter and may borrow up to one burst from the future, so normal writes pay for it;
- ``NORMAL`` waits for a token, at most ``max_wait`` seconds, then fails like a timed-out call.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from controller.clock import Clock

CRITICAL, URGENT, NORMAL = 0, 1, 2
_PRIORITY: contextvars.ContextVar[int] = contextvars.ContextVar("greenlane_write_priority", default=NORMAL)
DEFAULT_QPS = 50.0
DEFAULT_BURST = 100
DEFAULT_MAX_WAIT = 30.0


class Throttled(Exception):
    """A write waited ``max_wait`` seconds for a token: the API budget is exhausted (raise --api-qps)."""


def current_priority() -> int:
    return _PRIORITY.get()


@contextlib.contextmanager
def write_priority(priority: int) -> Iterator[None]:
    """Writes made inside this block (in this thread) have ``priority``; blocks nest, the innermost wins."""
    token = _PRIORITY.set(priority)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


def escalate(priority: int) -> None:
    """Raise the priority of the rest of the current block (a reconcile that just decided to roll back)."""
    if priority < _PRIORITY.get():
        _PRIORITY.set(priority)


@dataclass(frozen=True)
class Limits:
    qps: float = DEFAULT_QPS
    burst: int = DEFAULT_BURST
    max_wait: float = DEFAULT_MAX_WAIT

    def __post_init__(self) -> None:
        if not self.qps > 0 or self.burst < 1 or not self.max_wait > 0:
            raise ValueError(f"--api-qps must be > 0 and --api-burst >= 1 (got {self.qps}, {self.burst})")


class TokenBucket:
    """``qps`` tokens a second up to ``burst``; urgent takers are served before normal ones."""

    def __init__(self, limits: Limits, clock: Clock, on_wait: Callable[[float, int], None] | None = None) -> None:
        self.limits = limits
        self._clock = clock
        self._tokens = float(limits.burst)
        self._stamp = clock.monotonic()
        self._cond = threading.Condition()
        self._urgent_waiting = 0
        self._on_wait = on_wait or (lambda seconds, priority: None)

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(float(self.limits.burst), self._tokens + (now - self._stamp) * self.limits.qps)
        self._stamp = now

    def try_take(self, priority: int = NORMAL) -> float:
        """Take a token if one may be taken now (0.0), else the seconds to wait before asking again."""
        with self._cond:
            return self._try_take(priority)

    def _try_take(self, priority: int) -> float:
        if priority <= CRITICAL:
            return 0.0
        self._refill()
        floor = -float(self.limits.burst) if priority <= URGENT else 0.0
        if priority > URGENT and self._urgent_waiting:
            return 1.0 / self.limits.qps
        if self._tokens - 1.0 >= floor:
            self._tokens -= 1.0
            return 0.0
        return (floor + 1.0 - self._tokens) / self.limits.qps

    def acquire(self, priority: int | None = None) -> float:
        """Block until a token is ours; returns the seconds waited. Raises Throttled after ``max_wait``."""
        priority = current_priority() if priority is None else priority
        started = self._clock.monotonic()
        with self._cond:
            urgent = priority <= URGENT
            self._urgent_waiting += urgent
            try:
                while True:
                    wait = self._try_take(priority)
                    waited = self._clock.monotonic() - started
                    if wait <= 0:
                        break
                    if waited + wait > self.limits.max_wait:
                        raise Throttled(
                            f"API write budget exhausted: waited {waited:.1f}s for a token "
                            f"(--api-qps {self.limits.qps:g}, --api-burst {self.limits.burst})"
                        )
                    self._cond.wait(wait)
            finally:
                self._urgent_waiting -= urgent
                self._cond.notify_all()
        if waited > 0:
            self._on_wait(waited, priority)
        return waited
