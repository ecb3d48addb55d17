"""Verdicts from the rollout's side: failures roll back, outages hold, warm-up sets levels aside."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from controller.core.actions import SetWeight
from controller.core.results import FAIL, INCONCLUSIVE, PASS, CheckResult
from controller.model.status import Baseline
from tests.core.builders import T0, Loop, failing, make_spec, outage, passing, reasons, weights, with_result


def test_failure_limit_consecutive_failures_roll_back_with_the_numbers() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    first = loop.step(failing(spec), advance=30)
    assert reasons(first.actions) == ["AnalysisFailed"]
    assert "(1/2 failures)" in first.events[0].message
    loop.world.router_writable = False  # the first write of 0 does not take
    second = loop.step(failing(spec), advance=30)
    assert second.actions[0] == SetWeight(0)
    assert reasons(second.actions) == ["RollingBack"]
    assert second.status.phase == "Progressing"  # not RolledBack until the router shows 0
    loop.world.router_writable = True
    rolled = loop.step(advance=10)  # 0 is written again, read back: the rollback is complete
    assert weights(rolled.actions) == [0]
    assert rolled.status.phase == "RolledBack"
    [event] = rolled.events
    assert (event.type, event.reason) == ("Warning", "RolledBack")
    assert event.message == "Rolled back at 25%: p99-latency 0.41s is 1.31x blue 0.31s, limit 1.10x (2/2 failures)"
    record = rolled.status.rollback
    assert record is not None
    assert (record.check, record.green, record.blue, record.threshold) == ("p99-latency", 0.41, 0.31, "<= 1.10x blue")
    assert (record.weight, record.failures, record.reason) == (25, 2, "AnalysisFailed")


def test_a_pass_between_failures_resets_the_failure_streak() -> None:
    spec = make_spec(steps=[{"weight": 25, "pause": "1h"}, {"weight": 100}])
    loop = Loop(spec)
    loop.start()
    for results in (failing(spec), passing(spec), failing(spec), passing(spec)):
        loop.step(results, advance=30)
    assert loop.status.phase == "Progressing" and loop.status.rollback is None


def test_inconclusive_between_failures_does_not_forgive_them() -> None:
    spec = make_spec(steps=[{"weight": 25, "pause": "1h"}, {"weight": 100}])
    loop = Loop(spec)
    loop.start()
    loop.step(failing(spec), advance=30)
    loop.step(outage(spec), advance=30)
    decision = loop.step(failing(spec), advance=30)
    assert decision.actions[0] == SetWeight(0)


def test_a_critical_check_rolls_back_on_its_first_failure() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    results = with_result(spec, "errors", FAIL, "errors 4.1% of requests, limit 1%", green=0.041, threshold="<= 0.01")
    decision = loop.step(results, advance=30)
    assert decision.actions[0] == SetWeight(0)
    assert "errors 4.1% of requests, limit 1% (critical check, first failure)" in decision.events[0].message
    assert loop.step(advance=1).status.rollback.reason == "CriticalCheckFailed"  # type: ignore[union-attr]


def test_rollback_keeps_asking_for_zero_until_the_router_shows_it() -> None:
    spec = make_spec(failureLimit=1)
    loop = Loop(spec)
    loop.start()
    loop.router_broken = True
    loop.step(failing(spec), advance=30)
    later = [loop.step(advance=5) for _ in range(6)]
    assert sum(weights(d.actions) == [0] for d in later) == 3  # every 10 s, not every call
    assert loop.status.phase == "Progressing"
    loop.router_broken = False
    loop.router = 0
    assert loop.step(advance=1).status.phase == "RolledBack"


def test_prometheus_outage_holds_warns_once_then_pauses_after_max_hold() -> None:
    spec = make_spec(maxHold="2m")
    loop = Loop(spec)
    loop.start()
    events = loop.run(90, outage(spec))
    assert events == ["PrometheusUnavailable"]
    assert loop.status.hold_kind == "PrometheusUnavailable" and loop.status.weight == 25
    condition = next(c for c in loop.status.conditions if c.type == "AnalysisHealthy")
    assert (condition.status, condition.reason) == ("False", "PrometheusUnavailable")
    events = loop.run(60, outage(spec))
    assert events == ["Paused"]
    assert loop.status.phase == "Paused" and loop.status.pause_reason == "AnalysisHold"
    assert "Prometheus unavailable for 2m (maxHold 2m, onHold pause)" in loop.status.message
    assert all(weights(d.actions) == [] for d in loop.log[2:])


def test_outage_with_on_hold_rollback_rolls_back_after_max_hold() -> None:
    spec = make_spec(maxHold="1m", onHold="rollback")
    loop = Loop(spec)
    loop.start()
    events = loop.run(120, outage(spec))
    assert events[:2] == ["PrometheusUnavailable", "RollingBack"]
    assert loop.status.phase == "RolledBack"
    assert loop.status.rollback is not None and loop.status.rollback.reason == "PrometheusUnavailable"


def test_a_fail_during_an_outage_still_counts() -> None:
    spec = make_spec(failureLimit=1)
    loop = Loop(spec)
    loop.start()
    results = (failing(spec)[0], replace(outage(spec)[1]))
    decision = loop.step(results, advance=30)
    assert decision.actions[0] == SetWeight(0)


def test_inconclusive_while_the_step_bakes_gathers_evidence_without_a_hold() -> None:
    spec = make_spec(maxHold="1m", steps=[{"weight": 25, "pause": "5m"}, {"weight": 100}])
    loop = Loop(spec)
    loop.start()
    few = with_result(spec, "p99-latency", INCONCLUSIVE, "p99-latency: needs about 900 more green requests")
    events = loop.run(240, few)
    assert events == [] and loop.status.hold_since is None and loop.status.phase == "Progressing"
    condition = next(c for c in loop.status.conditions if c.type == "AnalysisHealthy")
    assert (condition.status, condition.reason) == ("Unknown", "GatheringEvidence")
    assert "needs about 900 more" in condition.message


def test_lasting_inconclusive_data_holds_once_the_pause_is_over_then_pauses() -> None:
    spec = make_spec(maxHold="1m")
    loop = Loop(spec)
    loop.start()
    few = with_result(spec, "p99-latency", INCONCLUSIVE, "p99-latency: 12 requests, minRequests 100")
    assert loop.run(30, few) == []  # the 1m pause is still running
    events = loop.run(120, few)
    assert events == ["AnalysisInconclusive", "Paused"]
    assert "analysis inconclusive" in loop.status.message


def test_recovery_from_an_outage_is_announced_and_the_step_goes_on() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    loop.step(outage(spec), advance=30)
    events = loop.run(90, passing(spec))
    assert events[:2] == ["AnalysisRecovered", "StepCompleted"]


def test_warmup_sets_level_verdicts_aside_then_counts_them() -> None:
    checks = [
        {"name": "p99-latency", "template": "latency", "maxRatioToBlue": 1.1},
        {"name": "memory", "template": "memory", "maxSlopeOverBlue": "50Mi/h"},
    ]
    spec = make_spec(warmup="1m", failureLimit=1, checks=checks, steps=[{"weight": 25, "pause": "5m"}, {"weight": 100}])
    loop = Loop(spec)
    loop.start()
    during = loop.step(failing(spec), advance=30)
    assert during.actions == () and loop.status.consecutive_passes == 0
    assert loop.status.checks[0].message.endswith("(set aside during warm-up)")
    after = loop.step(failing(spec), advance=30)
    assert after.actions[0] == SetWeight(0)


def test_warmup_does_not_shield_trend_checks() -> None:
    checks = [
        {"name": "p99-latency", "template": "latency", "maxRatioToBlue": 1.1},
        {"name": "memory", "template": "memory", "maxSlopeOverBlue": "50Mi/h"},
    ]
    spec = make_spec(warmup="5m", failureLimit=1, checks=checks)
    loop = Loop(spec)
    loop.start()
    decision = loop.step(failing(spec, "memory"), advance=30)
    assert decision.actions[0] == SetWeight(0)


def _kept(spec: Any, name: str, weight: int, at: datetime) -> CheckResult:
    window = Baseline(check=name, since=at - timedelta(minutes=5), until=at, weight=weight, requests=4000.0)
    return CheckResult(name, PASS, f"{name} ok", 1.0, 1.0, "<= 1.10x blue", 100, baseline_candidate=window)


def test_blue_windows_are_kept_while_blue_serves_and_frozen_at_the_cutover() -> None:
    spec = make_spec(steps=[{"weight": 50, "pause": "1m"}, {"weight": 100, "pause": "5m"}])
    loop = Loop(spec)
    loop.start()
    seen = []
    for _ in range(6):
        results = tuple(
            _kept(spec, c.name, loop.status.weight, loop.now + timedelta(seconds=30)) for c in spec.analysis.checks
        )
        loop.step(results, advance=30)
        seen.append((loop.status.weight, [b.until for b in loop.status.baselines]))
    at_50 = [until for weight, until in seen if weight == 50]
    assert at_50, seen
    at_100 = [until for weight, until in seen if weight == 100]
    assert at_100 and all(u == at_100[0] for u in at_100), "no new baseline once blue serves nothing"
    assert [b.check for b in loop.status.baselines] == ["p99-latency", "errors"]
    assert all(b.weight == 50 for b in loop.status.baselines)


def test_baselines_of_checks_no_longer_in_the_spec_are_dropped() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    stale = Baseline(check="gone", since=T0, until=T0, weight=25)
    loop.status = loop.status.model_copy(update={"baselines": [stale]})
    loop.step(passing(spec), advance=30)
    assert [b.check for b in loop.status.baselines] == []


def test_status_carries_each_check_s_evidence() -> None:
    spec = make_spec()
    loop = Loop(spec)
    loop.start()
    evidence = replace(
        passing(spec)[0],
        blue_samples=40_000,
        estimate=1.02,
        low=0.95,
        high=1.08,
        confidence=0.9,
        needs=None,
        baseline="its 12:00:00-12:05:00Z window at green 50%, before the cutover",
    )
    loop.step((evidence, passing(spec)[1]), advance=30)
    latency = loop.status.checks[0]
    assert (latency.blue_samples, latency.estimate, latency.low, latency.high) == (40_000, 1.02, 0.95, 1.08)
    assert latency.confidence == 0.9 and latency.baseline.startswith("its 12:00:00")
    unsure = replace(passing(spec)[0], verdict=INCONCLUSIVE, needs=1200.0, needs_unit="requests", high=math.inf)
    loop.step((unsure, passing(spec)[1]), advance=30)
    latency = loop.status.checks[0]
    assert latency.needs == 1200.0 and latency.needs_unit == "requests" and latency.high is None  # JSON-safe
