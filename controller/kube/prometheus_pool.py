"""Which Prometheus a rollout may query, with which credentials, through which pooled session.

A rollout author chooses ``spec.analysis.prometheus``; the operator's admin chooses where the operator may
send queries. ``SourcePool.get`` applies the admin's allowlist of origins (scheme, host and port) before
anything leaves the process, reads credentials only from Secrets that opted in, and hands out one pooled
``PrometheusSource`` per configuration. A rotated Secret gets a fresh source; the old one is closed (its
connections and its CA file gone) once a grace period has passed, so a query in flight on another worker
finishes on it, and sources no rollout has asked for in a while are closed too. Everything a rollout author
got wrong is one exception, ``SourceRejected``, whose message names the field: the rollout becomes
``Invalid`` and no traffic moves.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubernetes import client as k8s

from controller.analysis.prometheus import PrometheusSource
from controller.clock import Clock
from controller.kube.credentials import CredentialError, Credentials, prometheus_credentials
from controller.model.spec import PrometheusConfig

ADDRESS = "spec.analysis.prometheus.address"
IDLE_SECONDS = 15 * 60.0
"""A source unused this long is closed; every rollout is reconciled at least every --resync (10 m), so only
sources of deleted or edited rollouts ever get this old."""
GRACE_SECONDS = 5 * 60.0
"""A replaced source (rotated Secret) stays open this long for queries in flight on other workers."""


class SourceRejected(Exception):
    """The rollout's Prometheus settings cannot be used; the message names the field (and Secret)."""


def origin(url: str) -> str:
    """``scheme://host:port`` of an http(s) URL, lower-cased, with the default port made explicit.

    Raises ValueError for anything else, including URLs with a user part (``http://allowed@evil``).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{url!r} has a user part; give credentials through Secrets")
    port = parts.port or (443 if scheme == "https" else 80)  # .port raises ValueError when out of range
    host = parts.hostname.lower()
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def allowed_origin(text: str) -> str:
    """An operator flag value: an origin (a trailing ``/`` is tolerated, a path is not)."""
    parts = urlsplit(text.strip())
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{text!r}: give an origin, scheme://host[:port], without a path")
    return origin(text)


@dataclass
class _Entry:
    fingerprint: str
    source: PrometheusSource
    ca_file: Path | None
    used: datetime
    retired: datetime | None = field(default=None)


class SourcePool:
    """Allowlist, Secret policy and pooled sources for every rollout of one operator (thread-safe)."""

    def __init__(
        self,
        api: k8s.ApiClient,
        clock: Clock,
        default_url: str | None,
        allowed_origins: Iterable[str] = (),
        *,
        idle_seconds: float = IDLE_SECONDS,
        grace_seconds: float = GRACE_SECONDS,
    ) -> None:
        self._api, self._clock, self._default = api, clock, default_url
        self._allowed = frozenset(allowed_origin(o) for o in allowed_origins)
        if default_url:
            self._allowed |= {origin(default_url)}
        self._idle, self._grace = idle_seconds, grace_seconds
        self._slots: dict[tuple[str, str], _Entry] = {}
        self._retired: list[_Entry] = []
        self._lock = threading.Lock()
        self._ca_dir: Path | None = None

    @property
    def allowed(self) -> frozenset[str]:
        return self._allowed

    def get(self, namespace: str, prom: PrometheusConfig) -> PrometheusSource:
        """The source for this rollout's settings; raises SourceRejected naming the field."""
        return self.keyed(namespace, prom)[0]

    def keyed(self, namespace: str, prom: PrometheusConfig) -> tuple[PrometheusSource, str]:
        """The source, and a key equal for every source with the same endpoint, settings and credentials
        (issue 15: such rollouts may share batched queries; different credentials never do)."""
        address = self._address(prom)
        try:
            creds = prometheus_credentials(self._api, namespace, prom)
        except CredentialError as exc:
            raise SourceRejected(str(exc)) from None
        # issue 15: without Secrets nothing differs between namespaces, so they share one pooled session; a
        # fleet of one-namespace services does not open (and keep, until idle) a session per namespace
        secrets = (prom.bearer_token_secret, prom.basic_auth_secret, prom.ca_secret)
        owner = namespace if any(ref is not None for ref in secrets) else ""
        slot = (owner, prom.model_copy(update={"address": address}).model_dump_json())
        fingerprint = _fingerprint(creds)
        now = self._clock.now()
        with self._lock:
            self._sweep(now)
            entry = self._slots.get(slot)
            if entry is None or entry.fingerprint != fingerprint:
                if entry is not None:  # rotated: close later, a query may be in flight on another worker
                    entry.retired = now
                    self._retired.append(entry)
                entry = self._build(address, prom, creds, fingerprint, now)
                self._slots[slot] = entry
            entry.used = now
            endpoint = hashlib.sha256(f"{slot[1]}\0{fingerprint}".encode()).hexdigest()
            return entry.source, endpoint

    def _address(self, prom: PrometheusConfig) -> str:
        address = prom.address or self._default
        if not address:
            raise SourceRejected(f"{ADDRESS}: required (the operator has no --prometheus-url default)")
        try:
            where = origin(address)
        except ValueError as exc:
            raise SourceRejected(f"{ADDRESS}: {exc}") from None
        if where not in self._allowed:
            allowed = ", ".join(sorted(self._allowed)) or "none"
            raise SourceRejected(
                f"{ADDRESS}: {where} is not an allowed Prometheus origin (allowed: {allowed}); "
                "the operator's admin allows origins with --prometheus-allowed-origin"
            )
        return address

    def _build(
        self, address: str, prom: PrometheusConfig, creds: Credentials, fingerprint: str, now: datetime
    ) -> _Entry:
        ca_file = self._write_ca(creds.ca_pem) if creds.ca_pem else None
        source = PrometheusSource(
            address,
            timeout=prom.timeout,
            headers=dict(prom.headers) or None,
            insecure_skip_verify=prom.insecure_skip_verify,
            bearer_token=creds.bearer_token,
            basic_auth=creds.basic_auth,
            ca_file=str(ca_file) if ca_file else None,
        )
        return _Entry(fingerprint, source, ca_file, now)

    def _write_ca(self, pem: str) -> Path:
        if self._ca_dir is None:
            self._ca_dir = Path(tempfile.mkdtemp(prefix="greenlane-ca-"))  # 0700, this process's own
        handle, name = tempfile.mkstemp(dir=self._ca_dir, suffix=".pem")
        with os.fdopen(handle, "w") as out:
            out.write(pem)
        return Path(name)

    def _sweep(self, now: datetime) -> None:
        """Close replaced sources after the grace period and sources nobody asked for in a while."""
        for slot, entry in list(self._slots.items()):
            if (now - entry.used).total_seconds() > self._idle:
                del self._slots[slot]
                _close(entry)
        due = [e for e in self._retired if e.retired and (now - e.retired).total_seconds() >= self._grace]
        for entry in due:
            self._retired.remove(entry)
            _close(entry)

    def close(self) -> None:
        """Close every source and remove every CA file (on shutdown)."""
        with self._lock:
            for entry in [*self._slots.values(), *self._retired]:
                _close(entry)
            self._slots.clear()
            self._retired.clear()
            if self._ca_dir is not None:
                shutil.rmtree(self._ca_dir, ignore_errors=True)
                self._ca_dir = None

    def open_sources(self) -> int:
        """Sources not yet closed (current and replaced), for metrics and tests."""
        with self._lock:
            return len(self._slots) + len(self._retired)


def _close(entry: _Entry) -> None:
    entry.source.close()
    if entry.ca_file is not None:
        entry.ca_file.unlink(missing_ok=True)


def _fingerprint(creds: Credentials) -> str:
    material: list[Any] = [creds.bearer_token, creds.basic_auth, creds.ca_pem]
    return hashlib.sha256(repr(material).encode("utf-8", "surrogatepass")).hexdigest()
