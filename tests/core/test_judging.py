"""The false-rollback budget and the judging context: pure functions of spec, status and time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.judging import FRONT_SECONDS, fail_alpha, judging_for, slot, spends_budget
from controller.model.status import Baseline, RolloutStatus
from tests.core.builders import T0, make_spec

CHECKS = [
    {"name": "p99-latency", "template": "latency", "maxRatioToBlue": 1.1},
    {"name": "errors", "template": "error-rate", "max": 0.01},
    {"name": "memory", "template": "memory", "maxRatioToBlue": 1.3, "maxSlopeOverBlue": "50Mi/h"},
    {"name": "python", "template": "python-version"},
    {"name": "restarts", "query": "sum(x{pod=~'{{ pods }}'})", "max": 0},
]


def test_only_checks_with_a_sample_size_spend_the_budget() -> None:
    spec = make_spec(checks=CHECKS)
    assert [c.name for c in spec.analysis.checks if spends_budget(c)] == ["p99-latency", "errors", "memory"]


@settings(max_examples=25, deadline=None)
@given(confidence=st.floats(0.5, 0.9999), interval=st.sampled_from([3.0, 30.0, 60.0]))
def test_a_whole_rollout_never_spends_more_than_its_budget(confidence: float, interval: float) -> None:
    """Every check, every threshold, every evaluation slot of an unbounded rollout: the union bound holds."""
    spec = make_spec(checks=CHECKS, confidence=confidence, interval=f"{interval:g}s")
    spent = sum(
        fail_alpha(spec, c, k) * len(c.thresholds())
        for c in spec.analysis.checks
        if spends_budget(c)
        for k in range(1, 3001)
    )
    assert spent <= 1 - confidence


def test_half_the_budget_goes_to_the_first_ten_minutes() -> None:
    spec = make_spec(checks=CHECKS[:2])
    n = round(FRONT_SECONDS / 30)
    early = sum(fail_alpha(spec, spec.analysis.checks[0], k) for k in range(1, n + 1))
    assert early == pytest.approx(0.01 / 2 / 2)  # budget 1%, two checks, half of a check's share
    assert fail_alpha(spec, spec.analysis.checks[0], 1) > fail_alpha(spec, spec.analysis.checks[0], 100)


def test_thresholds_of_one_check_share_its_part() -> None:
    spec = make_spec(checks=CHECKS[:3])
    latency, memory = spec.analysis.checks[0], spec.analysis.checks[2]
    assert fail_alpha(spec, memory, 5) == pytest.approx(fail_alpha(spec, latency, 5) / 2)


def test_slots_count_intervals_since_green_first_took_traffic() -> None:
    spec = make_spec()
    start = T0.timestamp()
    assert slot(spec, None, start + 999) == 1
    assert [slot(spec, start, start + s) for s in (0, 29.9, 30, 61, 3600)] == [1, 1, 2, 3, 121]


def test_judging_context_comes_from_the_status() -> None:
    spec = make_spec(warmup="1m")
    baseline = Baseline(check="p99-latency", since=T0, until=T0 + timedelta(minutes=5), weight=50, requests=3000)
    status = RolloutStatus(
        phase="Progressing",
        weight=100,
        traffic_started_at=T0,
        step_started_at=T0 + timedelta(minutes=20),
        baselines=[baseline],
    )
    j = judging_for(spec, status, T0 + timedelta(minutes=25))
    assert j.slot == 51 and j.green_weight == 100 and j.blue_idle
    assert j.step_started == (T0 + timedelta(minutes=20)).timestamp()
    assert j.warmup_until == (T0 + timedelta(minutes=1)).timestamp()
    assert j.baselines == {"p99-latency": baseline}
    assert judging_for(spec, RolloutStatus(), T0).green_weight is None
