"""List-then-watch loops that only ever *enqueue keys*: reconciles are level-triggered, so the kind of
watch event never matters, only which object changed.

A 410 Gone (expired resourceVersion) relists; other errors back off with jitter up to a bound.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import structlog
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from controller.clock import Clock
from controller.kube.client import CONNECT_TIMEOUT

log = structlog.get_logger("greenlane.watch")
WATCH_READ_SLACK = 30.0
Json = dict[str, Any]
ListFn = Callable[..., Any]


class Watcher:
    """Keeps ``on_object`` informed of every object of one kind; ``on_synced`` fires after each full list."""

    def __init__(
        self,
        name: str,
        list_fn: ListFn,
        on_object: Callable[[Json, bool], None],
        clock: Clock,
        on_synced: Callable[[], None] = lambda: None,
        timeout_seconds: int = 300,
        max_backoff: float = 30.0,
    ) -> None:
        self.name = name
        self._list = list_fn
        self._on_object = on_object
        self._on_synced = on_synced
        self._clock = clock
        self._timeout = timeout_seconds
        self._max_backoff = max_backoff
        self.heartbeat = clock.monotonic()
        self.stale_after = 2.0 * (timeout_seconds + WATCH_READ_SLACK) + max_backoff
        """Seconds without an event, a relist or a watch restart after which this watch counts as stuck."""

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                version = self._relist()
                failures = 0
                self._watch(version, stop)
            except ApiException as exc:
                if exc.status == 410:
                    log.info("watch expired, relisting", watch=self.name)
                    self.heartbeat = self._clock.monotonic()
                    continue
                failures += 1
                self._backoff(stop, failures, f"HTTP {exc.status} {exc.reason}")
            except Exception as exc:
                failures += 1
                self._backoff(stop, failures, repr(exc))

    def _relist(self) -> str:
        result = self._list()
        items, version = _items_and_version(result)
        for item in items:
            self._on_object(item, False)
        self.heartbeat = self._clock.monotonic()
        self._on_synced()
        return version

    def _watch(self, version: str, stop: threading.Event) -> None:
        stream = watch.Watch()
        for event in stream.stream(
            self._list,
            resource_version=version,
            timeout_seconds=self._timeout,
            allow_watch_bookmarks=True,
            # the server ends the watch after timeout_seconds; a connection silent for longer is dead
            _request_timeout=(CONNECT_TIMEOUT, self._timeout + WATCH_READ_SLACK),
        ):
            self.heartbeat = self._clock.monotonic()
            if stop.is_set():
                stream.stop()
                return
            kind = event.get("type")
            obj = _as_dict(event.get("object"))
            if kind == "ERROR":
                code = obj.get("code") if isinstance(obj, dict) else None
                raise ApiException(status=code or 500, reason=str(obj.get("message", "watch error")))
            if kind == "BOOKMARK":
                continue
            self._on_object(obj, kind == "DELETED")

    def _backoff(self, stop: threading.Event, failures: int, error: str) -> None:
        delay = min(self._max_backoff, 0.5 * 2 ** min(failures, 8)) * random.uniform(0.5, 1.0)
        log.warning("watch failed, retrying", watch=self.name, error=error, retry_in=round(delay, 2))
        stop.wait(delay)


def _as_dict(obj: Any) -> Json:
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        result: Json = to_dict()
        return result
    return {}


def _items_and_version(result: Any) -> tuple[list[Json], str]:
    if isinstance(result, dict):
        return list(result.get("items", [])), str(result.get("metadata", {}).get("resourceVersion", ""))
    items = [_as_dict(i) for i in (result.items or [])]
    return items, str(result.metadata.resource_version or "")
