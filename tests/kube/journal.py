"""What the emulator saw and what it was told to do wrong.

Tests assert on the exact requests a router makes (method, path, content type, body) because the
resulting object alone cannot show a missing precondition or a needless write. Faults let a test
stage the races a real cluster produces (a concurrent editor, a flaky apiserver) deterministically,
without sleeps.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RecordedRequest:
    """One served request; ``body`` is the parsed JSON (or None), ``status`` the HTTP code answered."""

    id: int
    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    body: Any
    status: int

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    def brief(self) -> tuple[str, str, int]:
        """``(method, path, status)``: enough for most sequence assertions."""
        return (self.method, self.path, self.status)


class Journal:
    """Append-only log shared between the server thread (writer) and the test thread (reader)."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def append(self, item: RecordedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return sorted(self._items, key=lambda r: r.id)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# A competing writer's edit: gets a deep copy of the stored object, returns the object to store.
Edit = Callable[[Json], Json]


@dataclass
class Fault:
    """Applies to the next ``times`` requests matching ``method`` and ``path`` (exact or regex).

    The first ``skip`` matching requests pass untouched. Then it either answers ``status`` without
    touching state (``edit`` is None) or first stores ``edit``'s result as another client would
    (bumping resourceVersion) and serves the request normally, so a stale precondition fails with a
    genuine 409. On a collection POST, ``edit`` gets the request
    body and its result is created first (a competing creator: ours then gets 409 AlreadyExists).
    """

    method: str
    path: str | re.Pattern[str]
    times: int = 1
    status: int = 409
    reason: str = "Conflict"
    message: str = "injected fault"
    edit: Edit | None = None
    skip: int = 0
    hits: int = field(default=0, init=False)
    seen: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        if self.hits >= self.times or method.upper() != self.method.upper():
            return False
        if isinstance(self.path, re.Pattern):
            return self.path.fullmatch(path) is not None
        return path == self.path

    def take(self) -> bool:
        """Count a matching request; True when this one is hit (the first ``skip`` pass through)."""
        self.seen += 1
        if self.seen <= self.skip:
            return False
        self.hits += 1
        return True


class FaultPlan:
    """Thread-safe queue of faults; the first live match wins and is consumed."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail(
        self,
        method: str,
        path: str | re.Pattern[str],
        *,
        times: int = 1,
        skip: int = 0,
        status: int = 409,
        reason: str = "Conflict",
        message: str = "injected fault",
    ) -> Fault:
        """The next ``times`` matching requests (after ``skip``) get ``status`` and change nothing."""
        return self.add(Fault(method, path, times, status, reason, message, skip=skip))

    def edit_before(
        self, method: str, path: str | re.Pattern[str], edit: Edit, *, times: int = 1, skip: int = 0
    ) -> Fault:
        """Before each of the next ``times`` matching requests (after ``skip``), a concurrent editor
        stores ``edit(obj)``."""
        return self.add(Fault(method, path, times, edit=edit, skip=skip))

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path) and fault.take():
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
