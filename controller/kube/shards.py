"""Who may reconcile which rollout: one leader (the default), nobody in particular, or shards across replicas.

Sharding: rollouts are split into ``shards`` by a stable hash of ``namespace/name``; each shard has its own
Lease (``greenlane-shard-<i>``) with client-go's semantics (``controller/kube/leader.py``): a holder stops
writing once it cannot renew within the renew deadline, and a candidate takes a shard only after seeing
its lease unchanged for a whole lease duration. Replicas watch each other's Leases
(``controller/kube/lease_watch.py``), so they see a renewal when it happens, and a candidate runs its next
round at the very moment a Lease it saw may be taken over, not on its next retry tick. So a replica that
dies loses its shards to the others one lease duration after its last renewal (the watch's latency and
one round's requests aside), its rollouts are queued at once, and no rollout is ever written by two
replicas at once. Kubernetes is the only coordinator: there is no consensus of our own.

Balance: each live replica also holds a membership Lease (``greenlane-member-<k>``, one slot per shard,
so the set of objects stays bounded without delete rights). Knowing how many replicas are alive, each
holds between ``shards // replicas`` and ``ceil(shards / replicas)`` shards: it acquires free or expired
shards while below the upper bound, and the replica holding the most gives one up while another live
replica is below the lower bound. A shard is given up in two steps: first it stops being served (workers
stop taking its rollouts, writes refuse), and once no reconcile of it is in flight its Lease is released.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import structlog
from kubernetes import client as k8s

from controller.clock import Clock
from controller.kube.leader import LeaderElector, LeaseConfig
from controller.kube.lease_watch import LeaseWatch, lease_fields

log = structlog.get_logger("greenlane.shards")
SHARD_LEASE = "greenlane-shard-{}"
MEMBER_LEASE = "greenlane-member-{}"
PREFIXES = (SHARD_LEASE.format(""), MEMBER_LEASE.format(""))
MAX_SHARDS = 64


def shard_of(key: str, shards: int) -> int:
    """The shard of ``namespace/name``: stable across processes, Python versions and restarts."""
    if shards <= 1:
        return 0
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


class Ownership(Protocol):
    shards: int

    def holds(self, shard: int) -> bool:
        """Whether this replica may reconcile (and write for) rollouts of ``shard`` right now."""
        ...

    def owned(self) -> set[int]: ...

    def run(self, stop: threading.Event) -> None: ...

    def release(self) -> None: ...


Changed = Callable[[set[int], set[int]], None]
"""Called with (shards acquired, shards lost) after a round that changed what this replica owns."""


class Everything:
    """No election (``--no-leader-elect``): this process owns every rollout."""

    shards = 1

    def holds(self, shard: int) -> bool:
        return True

    def owned(self) -> set[int]:
        return {0}

    def run(self, stop: threading.Event) -> None:
        stop.wait()

    def release(self) -> None:
        return None


class SingleLeader:
    """The default: one Lease (``greenlane-leader``), one writer, warm standbys."""

    shards = 1

    def __init__(self, elector: LeaderElector, retry_period: float, on_change: Changed) -> None:
        self.elector = elector
        self._retry = retry_period
        self._on_change = on_change

    def holds(self, shard: int) -> bool:
        return self.elector.is_leader()

    def owned(self) -> set[int]:
        return {0} if self.elector.is_leader() else set()

    def run(self, stop: threading.Event) -> None:
        leading = False
        while not stop.is_set():
            now = self.elector.try_acquire_or_renew()
            if now != leading:
                self._on_change({0} if now else set(), set() if now else {0})
                leading = now
            stop.wait(self._retry)

    def release(self) -> None:
        self.elector.release()


class ShardedLeases:
    """``shards`` Leases shared out among live replicas; see the module docstring."""

    def __init__(
        self,
        api: k8s.ApiClient,
        identity: str,
        config: LeaseConfig,
        shards: int,
        clock: Clock,
        on_change: Changed,
        busy: Callable[[int], bool] = lambda shard: False,
    ) -> None:
        if not 1 <= shards <= MAX_SHARDS:
            raise ValueError(f"--shards must be 1..{MAX_SHARDS} (got {shards})")
        self.shards, self.identity, self.config, self._clock = shards, identity, config, clock
        self._api = k8s.CoordinationV1Api(api)
        self._electors = [self._elector(api, SHARD_LEASE.format(i)) for i in range(shards)]
        self._slots = [self._elector(api, MEMBER_LEASE.format(k)) for k in range(shards)]
        self._on_change, self._busy = on_change, busy
        self._draining: set[int] = set()
        self._owned: set[int] = set()
        self._lock = threading.Lock()
        self._rounds = 0
        self._free_since: dict[int, float] = {}
        self._timeout = (config.renew_deadline / 4, config.renew_deadline / 2)
        self._by_name = {name: elector for elector, name in self._named()}
        self._wake = threading.Event()
        self._last_round: float | None = None
        self.watch = LeaseWatch(api, config.namespace, PREFIXES, clock, self.seen)

    def _elector(self, api: k8s.ApiClient, name: str) -> LeaderElector:
        return LeaderElector(api, self.identity, replace(self.config, name=name), self._clock)

    def holds(self, shard: int) -> bool:
        with self._lock:
            draining = shard in self._draining
        return not draining and 0 <= shard < self.shards and self._electors[shard].is_leader()

    def owned(self) -> set[int]:
        return {i for i in range(self.shards) if self.holds(i)}

    def run(self, stop: threading.Event) -> None:
        self.watch.start(stop)
        try:
            while not stop.is_set():
                try:
                    self.round()
                except Exception as exc:  # a failed LIST: renewals still ran or will on the next round
                    log.warning("shard round failed", error=str(exc))
                self._wait(stop)
        finally:
            self.watch.close()

    def _wait(self, stop: threading.Event) -> None:
        """Until the next round is due (:meth:`next_round`); a Lease seen meanwhile may bring it forward."""
        while not stop.is_set():
            self._wake.clear()
            remaining = self.next_round() - self._clock.monotonic()
            if remaining <= 0:
                return
            self._wake.wait(remaining)

    def next_round(self) -> float:
        """When the next round is due: a retry period after the last one, or earlier, at the moment a Lease
        we saw may be taken over (one lease duration after we saw its last renewal, or at once if released).

        Each such moment brings one round forward, once: a free shard that this replica does not want (it
        holds its share) costs one round, not a busy loop.
        """
        last = self._last_round
        if last is None:
            return self._clock.monotonic()
        moments = [m for e, _ in self._named() if (m := e.expires_at()) is not None and m > last]
        return min([last + self.config.retry_period, *moments])

    def seen(self, name: str, lease: dict[str, Any]) -> None:
        """A new version of one of our Leases, from the watch: timed now, and the next round reconsidered."""
        elector = self._by_name.get(name)
        if elector is not None:
            elector.observe_version(*lease_fields(lease))
            self._wake.set()

    def release(self) -> None:
        """Give every shard and the membership up (shutdown): the others take over at once, not after expiry."""
        with self._lock:
            self._draining = set(range(self.shards))
        for elector in [*self._electors, *self._slots]:
            elector.release()

    # ---- one round --------------------------------------------------------------------------------
    def round(self) -> None:
        self._last_round = self._clock.monotonic()
        leases = {
            lease.metadata.name: lease
            for lease in self._api.list_namespaced_lease(self.config.namespace, _request_timeout=self._timeout).items
        }
        for elector, name in self._named():
            if name in leases:
                elector.observe(leases[name])
        self._membership(leases)
        for shard in self._held():
            self._electors[shard].try_acquire_or_renew()
        self._release_drained()
        holders = self._holders(leases)
        live = self._live(leases, holders)
        self._rounds += 1
        if self._rounds > 1:  # one round to see the other members before taking anything
            self._balance(leases, holders, live)
        self._announce()

    def _named(self) -> list[tuple[LeaderElector, str]]:
        return [(e, SHARD_LEASE.format(i)) for i, e in enumerate(self._electors)] + [
            (e, MEMBER_LEASE.format(k)) for k, e in enumerate(self._slots)
        ]

    def _membership(self, leases: dict[str, Any]) -> None:
        """Renew our member slot, or take the first free one (more replicas than shards: stand by)."""
        mine = [s for s in self._slots if s.is_leader()]
        if mine:
            mine[0].try_acquire_or_renew()
            return
        for k, slot in enumerate(self._slots):
            lease = leases.get(MEMBER_LEASE.format(k))
            if (lease is None or slot.expired(lease)) and slot.try_acquire_or_renew():
                return

    def _held(self) -> list[int]:
        return [i for i, e in enumerate(self._electors) if e.is_leader()]

    def _holders(self, leases: dict[str, Any]) -> dict[int, str]:
        """Shard -> live holder (expired and free leases are nobody's)."""
        out: dict[int, str] = {}
        for i, elector in enumerate(self._electors):
            lease = leases.get(SHARD_LEASE.format(i))
            if lease is not None and not elector.expired(lease) and lease.spec and lease.spec.holder_identity:
                out[i] = lease.spec.holder_identity
        for i in self._held():
            out[i] = self.identity
        return out

    def _live(self, leases: dict[str, Any], holders: dict[int, str]) -> set[str]:
        """Replicas holding a member slot (or a shard), minus those whose shard leases expired: they are dead."""
        live = {self.identity}
        for k, slot in enumerate(self._slots):
            lease = leases.get(MEMBER_LEASE.format(k))
            if lease is not None and not slot.expired(lease) and lease.spec and lease.spec.holder_identity:
                live.add(lease.spec.holder_identity)
        dead = {
            lease.spec.holder_identity
            for i, e in enumerate(self._electors)
            if (lease := leases.get(SHARD_LEASE.format(i))) is not None
            and lease.spec
            and lease.spec.holder_identity
            and e.expired(lease)
        }
        return (live | set(holders.values())) - (dead - {self.identity})

    def _balance(self, leases: dict[str, Any], holders: dict[int, str], live: set[str]) -> None:
        """Take free shards while below the fair share (the poorest first), give one up while too rich."""
        held = [i for i in self._held() if i not in self._draining]
        low, high = self.shards // len(live), math.ceil(self.shards / len(live))
        counts = {member: sum(1 for h in holders.values() if h == member) for member in live}
        now = self._clock.monotonic()
        free = [i for i in self._preference() if i not in holders]
        self._free_since = {i: self._free_since.get(i, now) for i in free}
        poorest = counts[self.identity] <= min(counts.values())
        # The poorest replicas take free shards first; a shard left free for a lease duration, anyone below
        # the fair share (a member that stopped acquiring must not leave rollouts unserved).
        takeable = [i for i in free if poorest or now - self._free_since[i] >= self.config.lease_duration]
        for shard in takeable[: max(0, high - len(held))]:
            if self._electors[shard].try_acquire_or_renew():
                log.info("acquired shard", shard=shard, identity=self.identity, replicas=len(live))
        hungry = any(counts[m] < low for m in live if m != self.identity)
        richest = max(live, key=lambda m: (counts[m], m))
        if held and richest == self.identity and (len(held) > high or (hungry and len(held) > low)):
            with self._lock:
                self._draining.add(max(held))
            log.info("giving a shard up", shard=max(held), identity=self.identity, replicas=len(live))

    def _preference(self) -> list[int]:
        """Shards in this replica's own order (rendezvous hashing): candidates rarely race for the same one."""
        return sorted(range(self.shards), key=lambda i: hashlib.sha256(f"{self.identity}/{i}".encode()).digest())

    def _release_drained(self) -> None:
        with self._lock:
            draining = sorted(self._draining)
        for shard in draining:
            if self._busy(shard):
                continue  # a reconcile of this shard is still running here: release once it is done
            self._electors[shard].release()
            with self._lock:
                self._draining.discard(shard)

    def _announce(self) -> None:
        owned = self.owned()
        with self._lock:
            gained, lost, self._owned = owned - self._owned, self._owned - owned, owned
        if gained or lost:
            self._on_change(gained, lost)
