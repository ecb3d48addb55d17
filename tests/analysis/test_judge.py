"""Thresholds judged on intervals, without a metric source: verdicts, sentences, evidence, needs."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from controller.analysis.estimate import Estimate
from controller.analysis.judge import Alphas, Outcome, outcomes
from controller.analysis.measure import Measurement
from controller.analysis.plan import plan_for
from controller.analysis.quantile import Histogram
from controller.analysis.report import Evidence, combine
from controller.core.results import CheckResult
from controller.model.spec import Check
from tests.analysis.histograms import expected, sample

MIB = 2.0**20
ALPHAS = Alphas(fail=1e-5, passing=0.05)


def check(**kw: Any) -> Check:
    return Check.model_validate({"name": kw.pop("name", "memory"), **kw})


def judge(c: Check, green: Measurement, blue: Measurement | None, alphas: Alphas = ALPHAS) -> CheckResult:
    plan = plan_for(c)
    ev = Evidence(plan, green, blue, since=0.0, at=300.0)
    return combine(ev, outcomes(plan, green, blue, alphas))


def latency(h: Histogram) -> Measurement:
    return Measurement(requests=h.total, histogram=h, samples=h.requests)


def errors(failed: float, total: float) -> Measurement:
    return Measurement(requests=total, errors=failed, samples=round(total))


def gauge(level: float, slope: float | None = None, level_se: float = 0.0, slope_se: float = 0.0) -> Measurement:
    trend = Estimate(slope, slope_se**2) if slope is not None else None
    return Measurement(Estimate(level, level_se**2), trend, samples=120)


P99 = check(name="p99-latency", template="latency", quantile=0.99, maxRatioToBlue=1.10)


def test_healthy_latency_passes_and_says_why() -> None:
    result = judge(P99, latency(sample(0.2, 20_000, seed=1)), latency(sample(0.2, 380_000, seed=2)))
    assert result.verdict == "Pass", result.message
    assert result.low is not None and result.high is not None and result.high <= 1.10
    assert result.confidence == 0.9  # two-sided for the one-sided 95% a pass needs
    assert (result.samples, result.blue_samples) == (20_000, 380_000)
    assert "vs blue" in result.message and "limit 1.10x" in result.message and "90%" in result.message
    assert "green 20,000 vs blue 380,000 requests in 5m" in result.message


def test_a_thirty_percent_slower_p99_fails_with_its_interval() -> None:
    result = judge(P99, latency(sample(0.26, 6000, seed=3)), latency(sample(0.2, 114_000, seed=4)))
    assert result.verdict == "Fail", result.message
    assert result.low is not None and result.low > 1.10 and result.estimate is not None and result.estimate > 1.2
    assert result.confidence is not None and result.confidence > 0.9999
    assert result.threshold == "<= 1.10x blue"


def test_too_little_latency_evidence_is_inconclusive_with_how_much_more_is_needed() -> None:
    result = judge(P99, latency(sample(0.2, 400, seed=5)), latency(sample(0.2, 7600, seed=6)))
    assert result.verdict == "Inconclusive"
    assert result.needs is not None and result.needs > 400 and result.needs_unit == "requests"
    assert "needs about" in result.message and "more green requests at this weight" in result.message


def test_error_rate_limits_on_counts() -> None:
    c = check(name="errors", template="error-rate", max=0.01)
    assert judge(c, errors(0, 3000), errors(3, 50_000)).verdict == "Pass"
    failing = judge(c, errors(90, 3000), errors(3, 50_000))
    assert failing.verdict == "Fail" and failing.low is not None and failing.low > 0.01
    assert failing.message.startswith("errors 3% (") and "max 1%; blue 0.006%" in failing.message
    unsure = judge(c, errors(35, 3000), errors(3, 50_000))
    assert unsure.verdict == "Inconclusive" and unsure.needs is not None


def test_increase_over_blue_uses_both_tracks() -> None:
    c = check(name="errors", template="error-rate", maxIncreaseOverBlue=0.005)
    assert judge(c, errors(120, 3000), errors(500, 50_000)).verdict == "Fail"  # 4% vs 1%
    assert judge(c, errors(33, 3000), errors(500, 50_000)).verdict == "Pass"  # 1.1% vs 1%


def test_absolute_thresholds_show_blue_too() -> None:
    c = check(name="db-connections", template="db-connections", max=80)
    result = judge(c, gauge(12.0, level_se=1.0), gauge(11.0, level_se=1.0))
    assert result.verdict == "Pass" and result.blue == 11.0 and "blue 11" in result.message


def test_slope_over_blue_on_the_trend_difference() -> None:
    c = check(template="memory", maxSlopeOverBlue="20Mi/h")
    leaking = judge(
        c, gauge(300 * MIB, 41.8 * MIB / 3600, 1e6, MIB / 3600), gauge(250 * MIB, 0.3 * MIB / 3600, 1e6, MIB / 3600)
    )
    assert leaking.verdict == "Fail"
    assert leaking.message.startswith("memory slope +41.8 MiB/h vs blue +307.2 KiB/h: +41.5 MiB/h over blue (")
    assert "limit +20.0 MiB/h over blue" in leaking.message and leaking.threshold == "slope <= blue +20.0 MiB/h"
    noisy = judge(c, gauge(300 * MIB, 15 * MIB / 3600, 1e6, 30 * MIB / 3600), gauge(250 * MIB, 0.0, 1e6, MIB / 3600))
    assert noisy.verdict == "Inconclusive" and noisy.needs_unit == "seconds" and "more data" in noisy.message


def test_missing_inputs_are_inconclusive_never_pass() -> None:
    c = check(template="memory", maxRatioToBlue=1.3, maxSlopeOverBlue="20Mi/h")
    assert judge(c, gauge(300 * MIB), None).verdict == "Inconclusive"
    nan = judge(c, gauge(math.nan, 0.0), gauge(1.0, 0.0))
    assert nan.verdict == "Inconclusive"


def test_fail_wins_over_inconclusive() -> None:
    c = check(template="memory", max=100 * MIB, maxSlopeOverBlue="20Mi/h")
    result = judge(c, gauge(300 * MIB, level_se=MIB), None)
    assert result.verdict == "Fail" and result.message.startswith("memory 300.0 MiB (")


def test_a_ratio_to_a_blue_of_zero_never_passes() -> None:
    c = check(name="errors", template="error-rate", maxRatioToBlue=2.0)
    assert judge(c, errors(0, 3000), errors(0, 50_000)).verdict == "Inconclusive"


@given(
    green=st.integers(0, 400),
    blue=st.integers(0, 400),
    limit=st.floats(0.001, 0.2),
    fail=st.sampled_from([1e-9, 1e-6, 1e-3]),
)
def test_verdicts_follow_their_intervals(green: int, blue: int, limit: float, fail: float) -> None:
    """Fail only when the interval lies above the limit, Pass only when it lies below."""
    c = check(name="errors", template="error-rate", maxIncreaseOverBlue=limit)
    [o] = outcomes(plan_for(c), errors(green, 4000), errors(blue, 40_000), Alphas(fail, 0.05))
    assert isinstance(o, Outcome) and o.low is not None and o.high is not None
    if o.verdict == "Fail":
        assert o.low > limit
    elif o.verdict == "Pass":
        assert o.high <= limit


@given(p99=st.floats(0.12, 0.45), seed=st.integers(0, 10_000))
def test_the_same_latency_in_both_tracks_never_fails(p99: float, seed: int) -> None:
    result = judge(P99, latency(sample(p99, 800, seed)), latency(expected(p99, 15_200)))
    assert result.verdict != "Fail", result.message


def test_a_custom_query_is_judged_on_its_value_without_a_pretend_interval() -> None:
    c = check(name="restarts", query="sum(x{pod=~'{{ pods }}'})", max=0)
    failing = judge(c, Measurement(Estimate(2.0, 0.0), samples=1), None)
    assert failing.verdict == "Fail" and failing.message == "restarts 2, max 0"
    assert failing.confidence is None and failing.low == failing.high == 2.0
    assert judge(c, Measurement(Estimate(0.0, 0.0), samples=1), None).verdict == "Pass"
