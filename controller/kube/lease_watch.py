"""A list+watch of the Leases in the operator's namespace, so that replicas see each other's renewals as they
happen instead of on their next poll.

Why: a candidate may take a Lease one lease duration after it *saw* the last renewal (client-go's rule,
:mod:`controller.kube.leader`). Polling every retry period sees a renewal up to a retry period late, and the
takeover of a dead replica's shards slips by as much. With a watch the observation is the renewal's moment
(plus the event's latency), so the takeover comes one lease duration after the dead replica's last renewal.

Safety does not rest on the watch: an observation is only ever *late* (never before the write happened), a
stalled or broken watch only makes takeovers slower (the shard rounds still LIST every retry period), and the
acquisition itself re-reads the Lease and writes it guarded by its resourceVersion. The namespace is the
operator's own, so it holds a handful of Leases; only ours (by name prefix) are kept and announced.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s

from controller.clock import Clock
from controller.kube.cache import raw_lister
from controller.kube.store import Json, Key, Store, version_of
from controller.kube.watcher import Informer

LEASES = ("coordination.k8s.io/v1", "leases")
WATCH_SECONDS = 60
"""The server ends each watch after this long and we resume it: a connection that went silent is noticed
within this (plus the informer's read slack), not after the informer's default five minutes."""

Seen = Callable[[str, Json], None]
"""Called with (lease name, lease) for every new version of one of our Leases, as soon as it arrives."""


def trim(obj: Json) -> Json:
    """Name, holder, timings, and the resourceVersion *inside* the kept object: every renewal is a new version
    to announce (the store itself announces only changes of what it keeps besides the resourceVersion)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    return {
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
        "spec": {k: spec.get(k) for k in ("holderIdentity", "leaseDurationSeconds", "renewTime")},
        "version": version_of(obj),
    }


class LeaseWatch:
    """Our Leases in ``namespace`` (names starting with one of ``prefixes``), each new version announced."""

    def __init__(
        self,
        api: k8s.ApiClient,
        namespace: str,
        prefixes: tuple[str, ...],
        clock: Clock,
        on_seen: Seen,
        watch_seconds: int = WATCH_SECONDS,
    ) -> None:
        self._prefixes, self._on_seen = prefixes, on_seen
        self.store = Store("leases", trim, accept=self._ours, on_change=self._changed)
        # rbac: coordination.k8s.io/leases list,watch
        self.informer = Informer(
            "leases", raw_lister(api, LEASES, namespace), self.store, clock, timeout_seconds=watch_seconds
        )

    def start(self, stop: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.informer.run, args=(stop,), name="lease-watch", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.informer.close()

    def _ours(self, obj: Json) -> bool:
        return str((obj.get("metadata") or {}).get("name") or "").startswith(self._prefixes)

    def _changed(self, key: Key, old: Json | None, new: Json | None) -> None:
        if new is not None:
            self._on_seen(key[1], new)


def lease_fields(lease: Json) -> tuple[str, str | None, Any]:
    """(resourceVersion, holder, leaseDurationSeconds) of a trimmed Lease, as an elector observes them."""
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity")
    return str(lease.get("version") or ""), str(holder) if holder else None, spec.get("leaseDurationSeconds")
