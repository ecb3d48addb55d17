"""Fault knobs and the chaos that turns them into leaked memory and connections (no servers)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.sandbox.app.chaos import MB, Chaos
from controller.sandbox.app.faults import FaultSettings, FaultState
from controller.sandbox.servers.apps import fault_args, pod_name


def test_pairs_parse_like_the_cli() -> None:
    s = FaultSettings.from_pairs(["error_rate=0.2", "extra_latency_ms = 30", "fault_after_s=5"])
    assert (s.error_rate, s.extra_latency_ms, s.fault_after_s) == (0.2, 30.0, 5.0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"error_rat": 1}, "unknown fault knob"),
        ({"error_rate": 1.5}, "0..1"),
        ({"db_leak_per_min": -1}, "negative"),
        ({"extra_latency_ms": "fast"}, "could not convert"),
    ],
)
def test_bad_knobs_are_rejected(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultSettings.from_mapping(values)


def test_pair_without_equals_is_rejected() -> None:
    with pytest.raises(ValueError, match="KEY=VALUE"):
        FaultSettings.from_pairs(["error_rate"])


def test_without_delay_faults_wait_for_activation() -> None:
    state = FaultState(FaultSettings(error_rate=1.0))
    assert state.active() is None
    assert state.snapshot()["active"] is False
    started = state.activate()
    assert state.active() == FaultSettings(error_rate=1.0)
    assert state.activate() == started  # idempotent: the start time is the first activation


def test_zero_delay_is_active_at_once_and_a_long_one_is_not() -> None:
    assert FaultState(FaultSettings(error_rate=0.5, fault_after_s=0)).active() is not None
    assert FaultState(FaultSettings(error_rate=0.5, fault_after_s=3600)).active() is None


class FakeConnections:
    def __init__(self) -> None:
        self.opened = 0
        self.closed = 0

    def connect(self) -> FakeConnections:
        self.opened += 1
        return self

    def close(self) -> None:
        self.closed += 1


def test_db_leak_follows_rate_times_time_and_is_capped() -> None:
    conns = FakeConnections()
    chaos = Chaos(
        FaultState(FaultSettings(db_leak_per_min=60, fault_after_s=0)),
        conns.connect,
        max_leaked_connections=5,
    )
    chaos.tick(2.5)
    assert conns.opened == 2  # 60/min for 2.5 s; the half connection stays owed
    chaos.tick(0.5)
    assert conns.opened == 3
    chaos.tick(60)
    assert conns.opened == 5
    chaos.close()
    assert conns.closed == 5


def test_inactive_faults_leak_nothing() -> None:
    conns = FakeConnections()
    chaos = Chaos(FaultState(FaultSettings(db_leak_per_min=600, memory_leak_mb_per_min=600)), conns.connect)
    chaos.tick(10)
    assert conns.opened == 0
    assert chaos.stats()["leaked_mb"] == 0


def test_memory_leak_grows_in_whole_megabytes() -> None:
    chaos = Chaos(FaultState(FaultSettings(memory_leak_mb_per_min=120, fault_after_s=0)), FakeConnections().connect)
    chaos.tick(0.25)  # 0.5 MB owed: not yet allocated
    assert chaos.stats()["leaked_mb"] == 0
    chaos.tick(1.25)  # 3 MB owed in total
    assert chaos.stats()["leaked_mb"] == pytest.approx(3.0, abs=1 / MB)


def test_startup_memory_is_allocated_once() -> None:
    chaos = Chaos(FaultState(FaultSettings(startup_memory_mb=4, fault_after_s=0)), FakeConnections().connect)
    for _ in range(5):
        chaos.tick(1)
    assert chaos.stats()["startup_mb"] == pytest.approx(4.0)


def test_only_non_default_knobs_are_passed_to_the_app() -> None:
    assert fault_args(FaultSettings()) == []
    assert fault_args(FaultSettings(error_rate=0.1, fault_after_s=0)) == [
        "--fault=error_rate=0.1",
        "--fault=fault_after_s=0",
    ]


def test_pod_names_look_like_replicaset_pods() -> None:
    import re

    for deployment in ("checkout", "checkout-py312"):
        name = pod_name(deployment)
        assert re.fullmatch(rf"{deployment}-[a-z0-9]{{6,10}}-[a-z0-9]{{5}}", name)
    assert not re.fullmatch(r"checkout-[a-z0-9]{6,10}-[a-z0-9]{5}", pod_name("checkout-py312"))
