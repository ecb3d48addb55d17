"""Sending notifications without ever slowing or failing a reconcile.

``Notifier.publish`` only formats and enqueues (a bounded queue; when it is full the message is
dropped and counted); one background thread resolves Secret URLs, POSTs with a timeout and retries
transient failures (connection errors, timeouts, HTTP 429 and 5xx) with exponential backoff. Every
outcome is reported through ``on_result(sink, result)`` (``sent``, ``failed``, ``dropped``,
``refused``) for the operator's metrics, and logged.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
import structlog
import tenacity

from controller.clock import Clock, SystemClock
from controller.model.notify import Severity, SinkType
from controller.model.spec import RolloutSpec
from controller.model.status import RolloutStatus
from controller.notify.message import Message, RolloutRef, at_least, build
from controller.notify.payloads import PAYLOADS

log = structlog.get_logger("greenlane.notify")
Json = dict[str, Any]
RESULTS = ("sent", "failed", "dropped", "refused")


class NotificationRefused(Exception):
    """The URL cannot be used (Secret missing, not opted in, not http(s)); retrying will not help."""


class TransientSendError(Exception):
    """Worth another try: no connection, a timeout, HTTP 429 or 5xx."""


@dataclass(frozen=True)
class Sink:
    """An operator-wide destination (``greenlane run`` flags / Helm values)."""

    type: SinkType
    url: str
    severity: Severity = "warning"
    reasons: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Delivery:
    message: Message
    sink: SinkType
    where: str
    url: str | None = None
    secret: tuple[str, str, str] | None = None
    """(namespace, name, key) of a rollout's Secret, read in the sender thread."""


UrlResolver = Callable[[str, str, str], str]
Poster = Callable[[str, Json, float], int]


def http_post(session: requests.Session) -> Poster:
    def post(url: str, payload: Json, timeout: float) -> int:
        try:
            # Never follow a redirect: the URL is a tenant's, and a 3xx would point the operator's POST (and any
            # token in the path) at a host nobody chose.
            response = session.post(url, json=payload, timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise TransientSendError(type(exc).__name__) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientSendError(f"HTTP {response.status_code}")
        return response.status_code

    return post


def _no_secrets(namespace: str, name: str, key: str) -> str:
    raise NotificationRefused(f"Secret {namespace}/{name}: no Secret reader configured")


class Notifier:
    def __init__(
        self,
        sinks: Sequence[Sink] = (),
        resolve: UrlResolver = _no_secrets,
        *,
        post: Poster | None = None,
        clock: Clock | None = None,
        queue_size: int = 256,
        attempts: int = 4,
        backoff: float = 1.0,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        on_result: Callable[[str, str], None] = lambda sink, result: None,
    ) -> None:
        self.sinks, self.resolve, self.on_result = tuple(sinks), resolve, on_result
        self._session = requests.Session()
        self.post = post or http_post(self._session)
        self.clock = clock or SystemClock()
        self.timeout, self.attempts, self.backoff, self.sleep = timeout, attempts, backoff, sleep
        self._queue: queue.Queue[Delivery | None] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="greenlane-notify", daemon=True)
        self._started = False
        self._lock = threading.Lock()

    # -- the reconcile side: never blocks, never raises -------------------------------------------
    def publish(
        self,
        rollout: RolloutRef,
        reason: str,
        event_type: str,
        text: str,
        status: RolloutStatus,
        spec: RolloutSpec | None,
        actor: str | None = None,
    ) -> None:
        """Announce one event of one rollout to every sink that wants it."""
        try:
            message = build(rollout, reason, event_type, text, status, spec, self.clock.now(), actor)
            for delivery in self._deliveries(message, spec):
                self._enqueue(delivery)
        except Exception as exc:  # a notification must never cost a reconcile
            log.warning("notification not queued", rollout=str(rollout), reason=reason, error=repr(exc))

    def _deliveries(self, message: Message, spec: RolloutSpec | None) -> list[Delivery]:
        out = [
            Delivery(message, sink.type, f"operator {sink.type}", url=sink.url)
            for sink in self.sinks
            if _wanted(message, sink.severity, sink.reasons)
        ]
        for index, target in enumerate(spec.notifications if spec is not None else []):
            if _wanted(message, target.severity, frozenset(target.reasons)):
                ref = (message.rollout.namespace, target.url_secret.name, target.url_secret.key)
                where = f"{message.rollout} spec.notifications[{index}] ({target.type})"
                out.append(Delivery(message, target.type, where, secret=ref))
        return out

    def _enqueue(self, delivery: Delivery) -> None:
        self.start()
        try:
            self._queue.put_nowait(delivery)
        except queue.Full:
            log.warning("notification dropped: queue full", where=delivery.where, reason=delivery.message.reason)
            self.on_result(delivery.sink, "dropped")

    # -- the sender thread ------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                self._thread.start()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far was handled (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 10.0) -> None:
        if self._started:
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=timeout)
            self._thread.join(timeout)
        self._session.close()

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                if delivery is None:
                    return
                self._deliver(delivery)
            except Exception as exc:  # keep the thread alive whatever one delivery does
                log.warning("notification failed", error=repr(exc))
            finally:
                self._queue.task_done()

    def _deliver(self, delivery: Delivery) -> None:
        fields = {"where": delivery.where, "reason": delivery.message.reason}
        try:
            url = delivery.url if delivery.url is not None else self._secret_url(delivery)
            _check_url(url)
        except NotificationRefused as exc:
            log.warning("notification refused", error=str(exc), **fields)
            self.on_result(delivery.sink, "refused")
            return
        payload = PAYLOADS[delivery.sink](delivery.message)
        try:
            code = self._send(url, payload)
        except TransientSendError as exc:
            log.warning("notification failed after retries", attempts=self.attempts, error=str(exc), **fields)
            self.on_result(delivery.sink, "failed")
            return
        if 200 <= code < 300:
            self.on_result(delivery.sink, "sent")
        else:
            log.warning("notification rejected", status=code, **fields)
            self.on_result(delivery.sink, "failed")

    def _secret_url(self, delivery: Delivery) -> str:
        assert delivery.secret is not None
        return self.resolve(*delivery.secret)

    def _send(self, url: str, payload: Json) -> int:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(1, self.attempts)),
            wait=tenacity.wait_exponential(multiplier=self.backoff, max=30),
            retry=tenacity.retry_if_exception_type(TransientSendError),
            sleep=self.sleep,
            reraise=True,
        )
        code: int = retrying(self.post, url, payload, self.timeout)
        return code


def _wanted(message: Message, minimum: Severity, reasons: frozenset[str]) -> bool:
    if reasons:
        return message.reason in reasons
    return at_least(message.severity, minimum)


def _check_url(url: str) -> None:
    if not url.startswith(("https://", "http://")):
        raise NotificationRefused("the webhook URL must start with https:// (or http://)")
