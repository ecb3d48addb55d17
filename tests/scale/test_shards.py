"""Shards across replicas on the strict emulator's Leases: balanced, taken over within a lease duration
after a replica dies, and never served by two replicas at once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client import CoordinationV1Api

from controller.clock import ManualClock
from controller.kube.leader import LeaderElector, LeaseConfig
from controller.kube.lease_watch import LeaseWatch, lease_fields, trim
from controller.kube.shards import PREFIXES, ShardedLeases, shard_of
from tests.kube.harness import RunningEmulator

CONFIG = LeaseConfig(namespace="greenlane-system", lease_duration=15.0, renew_deadline=10.0, retry_period=2.0)


def test_shard_of_is_stable_and_spreads_keys() -> None:
    keys = [f"team-{i}/service-{i}" for i in range(4000)]
    counts = Counter(shard_of(k, 4) for k in keys)
    assert set(counts) == {0, 1, 2, 3} and min(counts.values()) > 900, counts
    assert shard_of("shop/checkout", 4) == shard_of("shop/checkout", 4) == 2, "a stable hash, not Python's hash()"
    assert shard_of("shop/checkout", 1) == 0


class Fleet:
    """Replicas sharing one ManualClock: each round, every live replica runs one election round."""

    def __init__(self, api: Any, shards: int, names: list[str]) -> None:
        self.api, self.shards, self.clock = api, shards, ManualClock()
        self.replicas = {name: self.replica(name) for name in names}
        self.dead: set[str] = set()

    def replica(self, name: str) -> ShardedLeases:
        return ShardedLeases(self.api, name, CONFIG, self.shards, self.clock, lambda gained, lost: None)

    def round(self) -> None:
        for name, replica in self.replicas.items():
            if name not in self.dead:
                replica.round()
        self.check_one_writer()
        self.clock.advance(CONFIG.retry_period)

    def owners(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {i: [] for i in range(self.shards)}
        for name, replica in self.replicas.items():
            for shard in replica.owned():
                out[shard].append(name)
        return out

    def check_one_writer(self) -> None:
        """The safety property, at every instant we can observe: no shard is served by two replicas."""
        doubles = {shard: names for shard, names in self.owners().items() if len(names) > 1}
        assert not doubles, f"served twice at t={self.clock.monotonic()}: {doubles}"

    def counts(self) -> dict[str, int]:
        owned = Counter(name for names in self.owners().values() for name in names)
        return {name: owned.get(name, 0) for name in self.replicas if name not in self.dead}


@pytest.mark.parametrize(("shards", "replicas"), [(4, 4), (4, 2), (5, 3)])
def test_replicas_share_the_shards_and_take_over_a_dead_ones_within_a_lease_duration(
    kube: RunningEmulator, api_client: Any, shards: int, replicas: int
) -> None:
    # No watch here: replicas see each other's renewals on their own rounds' LISTs only (a watch that broke),
    # so the takeover may come up to a retry period to see the renewal and one to act later.
    fleet = Fleet(api_client, shards, [f"greenlane-{i}" for i in range(replicas)])
    for _ in range(12):
        fleet.round()
    counts = fleet.counts()
    assert sum(counts.values()) == shards, fleet.owners()
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    victim = max(counts, key=lambda n: (counts[n], n))
    orphaned = fleet.replicas[victim].owned()
    fleet.dead.add(victim)  # killed: no more renewals, no release
    died_at = fleet.clock.monotonic()
    while any(not [n for n in fleet.owners()[s] if n != victim] for s in orphaned):
        fleet.round()
        assert fleet.clock.monotonic() - died_at <= CONFIG.lease_duration + 2 * CONFIG.retry_period, fleet.owners()
    assert not fleet.replicas[victim].owned(), "the dead replica stopped serving before anyone took over"
    survivors = fleet.counts()
    assert sum(survivors.values()) == shards and max(survivors.values()) - min(survivors.values()) <= 1, survivors


def test_a_replica_that_joins_gets_its_share_and_none_is_served_twice_meanwhile(
    kube: RunningEmulator, api_client: Any
) -> None:
    fleet = Fleet(api_client, 4, ["greenlane-0"])
    for _ in range(4):
        fleet.round()
    assert fleet.counts() == {"greenlane-0": 4}
    fleet.replicas["greenlane-1"] = fleet.replica("greenlane-1")
    for _ in range(15):
        fleet.round()  # checks at every round that no shard has two owners
    assert fleet.counts() == {"greenlane-0": 2, "greenlane-1": 2}


def test_shutdown_hands_shards_over_without_waiting_for_expiry(kube: RunningEmulator, api_client: Any) -> None:
    fleet = Fleet(api_client, 2, ["a", "b"])
    for _ in range(8):
        fleet.round()
    assert fleet.counts() == {"a": 1, "b": 1}
    fleet.replicas["a"].release()
    fleet.dead.add("a")
    fleet.round()
    fleet.round()
    assert fleet.counts() == {"b": 2}, "released leases are free at once"


# ---- takeover timing: one lease duration after the last renewal, to the round ---------------------------
EPS = 1e-6


class WatchedFleet(Fleet):
    """Each replica runs a round when *it* schedules one (``next_round``), and sees every Lease write at the
    moment it happens (what its watch delivers; fed from a LIST after each round, the clock standing still)."""

    def step(self) -> None:
        live = [r for name, r in self.replicas.items() if name not in self.dead]
        due = min(r.next_round() for r in live)
        self.clock.advance(max(0.0, due - self.clock.monotonic()))
        for replica in live:
            if replica.next_round() <= self.clock.monotonic() + EPS:
                replica.round()
                self.deliver()
        self.check_one_writer()

    def deliver(self) -> None:
        items = k8s.CoordinationV1Api(self.api).list_namespaced_lease(CONFIG.namespace).items
        leases = [trim(self.api.sanitize_for_serialization(lease)) for lease in items]
        for name, replica in self.replicas.items():
            if name not in self.dead:
                for lease in leases:
                    replica.seen(lease["metadata"]["name"], lease)


def orphans_taken(fleet: Fleet, victim: str, orphaned: set[int]) -> bool:
    return all([n for n in fleet.owners()[s] if n != victim] for s in orphaned)


@pytest.mark.parametrize(("shards", "replicas"), [(4, 4), (2, 2), (5, 3)])
def test_a_dead_replicas_shards_are_taken_one_lease_duration_after_its_last_renewal_not_a_retry_later(
    kube: RunningEmulator, api_client: Any, shards: int, replicas: int
) -> None:
    fleet = WatchedFleet(api_client, shards, [f"greenlane-{i}" for i in range(replicas)])
    while fleet.clock.monotonic() < 30:
        fleet.step()
    counts = fleet.counts()
    assert sum(counts.values()) == shards and max(counts.values()) - min(counts.values()) <= 1, counts
    victim = max(counts, key=lambda n: (counts[n], n))
    orphaned = fleet.replicas[victim].owned()
    fleet.clock.advance(0.7)  # killed between two of its rounds: no more renewals, no release
    fleet.dead.add(victim)
    killed, last_renewal = fleet.clock.monotonic(), fleet.replicas[victim]._last_round
    assert last_renewal is not None
    expiry = last_renewal + CONFIG.lease_duration
    while True:
        fleet.step()
        now = fleet.clock.monotonic()
        served = [s for s in orphaned if [n for n in fleet.owners()[s] if n != victim]]
        # (b) never before the lease ran out as the candidates counted it
        assert not served or now >= expiry - EPS, f"taken at {now}, lease valid until {expiry}: {fleet.owners()}"
        if orphans_taken(fleet, victim, orphaned):
            break
        assert now < expiry + EPS, f"not taken over at {expiry}: {fleet.owners()}"
    # (a) at the moment the lease ran out as the candidates saw it (they saw the renewal as it happened) ...
    assert abs(fleet.clock.monotonic() - expiry) <= EPS, (fleet.clock.monotonic(), expiry)
    # ... which is within one lease duration of the kill, since the last renewal came before it
    assert fleet.clock.monotonic() - killed <= CONFIG.lease_duration
    assert not fleet.replicas[victim].owned(), "the dead replica stopped serving before anyone took over"
    survivors = fleet.counts()
    assert sum(survivors.values()) == shards and max(survivors.values()) - min(survivors.values()) <= 1, survivors


def test_a_candidate_never_takes_a_lease_before_a_whole_lease_duration_since_it_saw_the_renewal(
    kube: RunningEmulator, api_client: Any
) -> None:
    fleet = WatchedFleet(api_client, 2, ["a", "b"])
    while fleet.clock.monotonic() < 20:
        fleet.step()
    assert fleet.counts() == {"a": 1, "b": 1}
    (orphan,) = fleet.replicas["a"].owned()
    fleet.dead.add("a")
    renewed = fleet.replicas["a"].next_round() - CONFIG.retry_period
    candidate = fleet.replicas["b"]
    assert candidate.next_round() <= renewed + CONFIG.retry_period + CONFIG.lease_duration
    fleet.clock.advance(renewed + CONFIG.lease_duration - 0.01 - fleet.clock.monotonic())
    candidate.round()  # an extra round just before the lease runs out, on b's own count
    assert orphan not in candidate.owned(), "taken before the lease expired"
    fleet.check_one_writer()
    assert candidate.next_round() == pytest.approx(renewed + CONFIG.lease_duration), "due when the lease runs out"
    fleet.clock.advance(0.01)
    candidate.round()
    assert orphan in candidate.owned()


def test_a_late_observation_delays_the_takeover_and_never_brings_it_forward(
    kube: RunningEmulator, api_client: Any
) -> None:
    """Counting from when *we* saw a renewal, never from the holder's renewTime: seen late, taken late."""
    fleet = Fleet(api_client, 1, ["a", "b"])  # no watch: each sees the other's renewals on its own rounds only
    for _ in range(4):
        fleet.round()
    name = next(n for n, replica in fleet.replicas.items() if replica.owned())
    holder, other = fleet.replicas[name], fleet.replicas["b" if name == "a" else "a"]
    renewed = fleet.clock.monotonic()
    holder.round()  # its last renewal ...
    fleet.dead.add(name)
    fleet.clock.advance(1.5)
    other.round()  # ... seen 1.5 s later
    fleet.clock.advance(CONFIG.lease_duration - 1.5)
    other.round()  # expired by the renewTime the holder wrote, not by what we saw
    assert not other.owned()
    assert other.next_round() == pytest.approx(renewed + 1.5 + CONFIG.lease_duration)
    fleet.clock.advance(1.5)
    other.round()
    assert other.owned() == {0}


def test_a_renewal_counts_from_before_its_request_so_a_slow_answer_never_stretches_the_holders_term(
    kube: RunningEmulator, api_client: Any
) -> None:
    """The holder's renew deadline runs from the start of its round: the server may apply the renewal (and a
    watching candidate start counting) at once while the answer takes seconds to come back."""
    clock = ManualClock()
    elector = LeaderElector(api_client, "a", replace(CONFIG, name="greenlane-leader"), clock)
    assert elector.try_acquire_or_renew()
    real = elector._api.replace_namespaced_lease

    def slow(*args: Any, **kwargs: Any) -> Any:
        answer = real(*args, **kwargs)
        clock.advance(4.0)  # applied by the server now; the answer arrives 4 s later
        return answer

    elector._api.replace_namespaced_lease = slow
    started = clock.monotonic()
    assert elector.try_acquire_or_renew()
    clock.advance(started + CONFIG.renew_deadline - clock.monotonic() - 0.01)
    assert elector.is_leader()
    clock.advance(0.01)
    assert not elector.is_leader(), "still writing after renew_deadline from the start of its last renewal"


def test_the_lease_watch_times_a_renewal_when_it_arrives_without_any_round(
    kube: RunningEmulator, api_client: Any
) -> None:
    clock = ManualClock()
    holder = ShardedLeases(api_client, "a", CONFIG, 2, clock, lambda gained, lost: None)
    watcher = ShardedLeases(api_client, "b", CONFIG, 2, clock, lambda gained, lost: None)
    stop = threading.Event()
    watcher.watch.start(stop)
    try:
        holder.round()
        clock.advance(1.0)
        holder.round()  # a's member slot renewed at t=1
        expected = CoordinationV1Api(api_client).read_namespaced_lease("greenlane-member-0", CONFIG.namespace)
        deadline = time.monotonic() + 30
        slot = watcher._by_name["greenlane-member-0"]
        while (observed := slot._observed) is None or observed.version != expected.metadata.resource_version:
            assert time.monotonic() < deadline, "the watch never delivered the renewal"
            time.sleep(0.02)
        # timed when the watch delivered it (the manual clock stands at 1), with no round or LIST of b's own
        assert observed.seen_at == 1.0 and observed.holder == "a"
        assert slot.expires_at() == 1.0 + CONFIG.lease_duration
        assert watcher.next_round() == clock.monotonic(), "never ran a round: due at once"
    finally:
        stop.set()
        watcher.watch.close()


def test_the_lease_watch_relists_after_410_and_still_times_renewals_by_arrival(
    kube: RunningEmulator, api_client: Any
) -> None:
    clock = ManualClock()
    holder = LeaderElector(api_client, "a", replace(CONFIG, name="greenlane-shard-0"), clock)
    seen: list[tuple[str, str, float]] = []
    watch = LeaseWatch(
        api_client,
        CONFIG.namespace,
        PREFIXES,
        clock,
        lambda name, lease: seen.append((name, lease_fields(lease)[0], clock.monotonic())),
        watch_seconds=1,
    )
    stop = threading.Event()
    watch.start(stop)

    def renewed_and_seen(at: float) -> None:
        clock.advance(at - clock.monotonic())
        assert holder.try_acquire_or_renew()
        version = CoordinationV1Api(api_client).read_namespaced_lease("greenlane-shard-0", CONFIG.namespace)
        deadline = time.monotonic() + 30
        while ("greenlane-shard-0", version.metadata.resource_version, at) not in seen:
            assert time.monotonic() < deadline, f"renewal at {at} not seen: {seen}"
            time.sleep(0.02)

    try:
        renewed_and_seen(1.0)
        kube.expire_watches()  # etcd compacted: resuming from our version is 410 Gone (watches last 1 s)
        deadline = time.monotonic() + 30
        while watch.informer.lists < 2:
            assert time.monotonic() < deadline, "no relist after 410"
            time.sleep(0.02)
        renewed_and_seen(2.0)  # the watch that follows the relist delivers the next renewal, timed at arrival
        renewed_and_seen(3.0)
    finally:
        stop.set()
        watch.close()
