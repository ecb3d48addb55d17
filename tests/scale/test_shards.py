"""Shards across replicas on the strict emulator's Leases: balanced, taken over within a lease duration
after a replica dies, and never served by two replicas at once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from controller.clock import ManualClock
from controller.kube.leader import LeaseConfig
from controller.kube.shards import ShardedLeases, shard_of
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
