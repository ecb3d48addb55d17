"""Informers: list (in pages) then watch one kind into a :class:`~controller.kube.store.Store`.

A watch that ends (the server's ``timeoutSeconds``, a dropped connection) resumes from the last
resourceVersion it saw, events and bookmarks alike; only a 410 Gone (that version was compacted away)
relists. So a healthy operator lists each kind once at start, not every five minutes. Objects are read
as raw JSON, never through the client's models: no per-object deserialisation, and the store keeps the
API's own field names. Reconciles are level-triggered, so what the store announces is only *which*
object changed; the kind of event never matters.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from controller.clock import Clock
from controller.kube.client import CONNECT_TIMEOUT, DEFAULT_TIMEOUT
from controller.kube.store import Json, Store, version_of

log = structlog.get_logger("greenlane.watch")
WATCH_READ_SLACK = 30.0
PAGE_SIZE = 500
ListFn = Callable[..., Any]


class _Stream:
    """One watch request: the list function called with ``watch=True``, its answer read line by line."""

    def __init__(self) -> None:
        self._response: Any = None

    def stream(self, list_fn: ListFn, **kwargs: Any) -> Iterator[Json]:
        self._response = list_fn(watch=True, _preload_content=False, **kwargs)
        try:
            for line in iter_resp_lines(self._response):
                if line:
                    event: Json = json.loads(line)
                    yield event
        finally:
            self.stop()

    def stop(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.close()
            response.release_conn()


class Informer:
    """Keeps ``store`` equal to the API server's view of one kind; see the module docstring."""

    def __init__(
        self,
        name: str,
        list_fn: ListFn,
        store: Store,
        clock: Clock,
        on_synced: Callable[[], None] = lambda: None,
        on_listing: Callable[[], None] = lambda: None,
        timeout_seconds: int = 300,
        max_backoff: float = 30.0,
        page_size: int = PAGE_SIZE,
        optional: bool = False,
    ) -> None:
        self.name = name
        self._list = list_fn
        self.store = store
        self._on_synced = on_synced
        self._on_listing = on_listing
        self._clock = clock
        self._timeout = timeout_seconds
        self._max_backoff = max_backoff
        self._page_size = page_size
        self._streamer = _Stream()
        self._optional = optional
        self.unserved = False
        """An optional kind (a router CRD) the API server does not serve (404): reads of it go to the API."""
        self.started = False
        self.version: str | None = None
        """The last resourceVersion seen; None until listed, and again after a 410."""
        self.synced = threading.Event()
        self.lists = 0
        self.watches = 0
        self.heartbeat = clock.monotonic()
        self.stale_after = 2.0 * (timeout_seconds + WATCH_READ_SLACK) + max_backoff
        """Seconds without an event, a relist or a watch restart after which this watch counts as stuck."""

    def run(self, stop: threading.Event) -> None:
        failures = expired = 0
        while not stop.is_set():
            try:
                if self.version is None:
                    self._relist()
                    self.unserved = False
                    self.synced.set()
                    self._on_synced()
                self._follow(stop)
                failures = expired = 0
            except ApiException as exc:
                if exc.status == 410:
                    log.info("watch expired, relisting", watch=self.name, version=self.version)
                    self.version = None
                    self.heartbeat = self._clock.monotonic()
                    expired += 1
                    if expired > 1:  # expired again right after a list: do not hammer the server
                        self._backoff(stop, expired, "watch expired right after a list")
                    continue
                if exc.status == 404 and self._optional:
                    self._unserved(stop)
                    continue
                failures += 1
                self._backoff(stop, failures, f"HTTP {exc.status} {exc.reason}")
            except Exception as exc:  # dropped connection, bad line: resume from the version we have
                if stop.is_set():
                    return  # closed on shutdown: nothing failed
                failures += 1
                self._backoff(stop, failures, repr(exc))

    def _unserved(self, stop: threading.Event) -> None:
        """The kind is not installed (yet): say so once, look again now and then, quietly."""
        if not self.unserved:
            log.info("kind not served by the API server; reading its objects on demand", watch=self.name)
        self.unserved = True
        self.version = None
        self.heartbeat = self._clock.monotonic()
        stop.wait(self._max_backoff * random.uniform(1.0, 2.0))

    def close(self) -> None:
        self._streamer.stop()

    def _relist(self) -> None:
        """A full list in pages (the server's ``limit``/``continue``); the store takes it as the truth."""
        self.lists += 1
        self._on_listing()
        listed: dict[str, str] = {}
        self.store.replace(self._pages(listed))
        self.version = listed.get("version", "")
        self.heartbeat = self._clock.monotonic()

    def _pages(self, listed: dict[str, str]) -> Iterator[Json]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": self._page_size, "_request_timeout": DEFAULT_TIMEOUT}
            if token:
                kwargs["_continue"] = token
            response = self._list(_preload_content=False, **kwargs)
            page: Json = json.loads(response.data)
            meta = page.get("metadata") or {}
            listed["version"] = str(meta.get("resourceVersion") or listed.get("version", ""))
            yield from page.get("items") or []
            token = meta.get("continue") or None
            if not token:
                return

    def _follow(self, stop: threading.Event) -> None:
        """One watch request from ``self.version`` until the server ends it; events go to the store."""
        self.watches += 1
        self.heartbeat = self._clock.monotonic()  # a quiet watch that the server ends on time is progress too
        for event in self._streamer.stream(
            self._list,
            resource_version=self.version,
            timeout_seconds=self._timeout,
            allow_watch_bookmarks=True,
            # the server ends the watch after timeout_seconds; a connection silent for longer is dead
            _request_timeout=(CONNECT_TIMEOUT, self._timeout + WATCH_READ_SLACK),
        ):
            self.heartbeat = self._clock.monotonic()
            if stop.is_set():
                return
            self._event(event)

    def _event(self, event: Json) -> None:
        kind, obj = event.get("type"), event.get("object")
        if not isinstance(obj, dict):
            return
        if kind == "ERROR":
            raise ApiException(status=int(obj.get("code") or 500), reason=str(obj.get("message", "watch error")))
        version = version_of(obj)
        if kind != "BOOKMARK":
            self.store.apply(obj, deleted=kind == "DELETED")
        if version:
            self.version = version

    def _backoff(self, stop: threading.Event, failures: int, error: str) -> None:
        delay = min(self._max_backoff, 0.5 * 2 ** min(failures, 8)) * random.uniform(0.5, 1.0)
        log.warning("watch failed, retrying", watch=self.name, error=error, retry_in=round(delay, 2))
        stop.wait(delay)
