"""Thresholds to verdicts and sentences, without a metric source."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from controller.analysis.judge import combine, outcomes
from controller.analysis.measure import Measurement
from controller.analysis.plan import plan_for
from controller.model.spec import Check

MIB = 2.0**20


def check(**kw: Any) -> Check:
    return Check.model_validate({"name": kw.pop("name", "memory"), **kw})


def judge(c: Check, green: Measurement, blue: Measurement | None) -> Any:
    return combine(c.name, outcomes(plan_for(c), green, blue), green.samples)


def test_slope_message_reads_like_the_issue() -> None:
    c = check(template="memory", maxSlopeOverBlue="20Mi/h")
    result = judge(c, Measurement(300 * MIB, 41.8 * MIB / 3600, samples=240), Measurement(250 * MIB, 0.3 * MIB / 3600))
    assert result.verdict == "Fail"
    assert result.message == "memory slope +41.8 MiB/h vs blue +307.2 KiB/h; limit +20.0 MiB/h over blue"
    assert result.threshold == "slope <= blue +20.0 MiB/h" and result.samples == 240


def test_ratio_message_reads_like_the_issue() -> None:
    c = check(name="p99-latency", template="latency", maxRatioToBlue=1.10)
    result = judge(c, Measurement(0.41, requests=5000), Measurement(0.31, requests=9000))
    assert result.verdict == "Fail"
    assert result.message == "p99-latency 0.41s is 1.32x blue 0.31s, limit 1.10x"
    assert (result.green, result.blue, result.threshold) == (0.41, 0.31, "<= 1.10x blue")


def test_increase_over_blue_and_absolute_limits() -> None:
    c = check(name="errors", template="error-rate", maxIncreaseOverBlue=0.005, max=0.02)
    result = judge(c, Measurement(0.012), Measurement(0.002))
    assert result.verdict == "Fail"
    assert result.message == "errors 1.2% is +1% over blue 0.2%, limit +0.5%"
    assert judge(c, Measurement(0.004), Measurement(0.002)).verdict == "Pass"


def test_min_threshold() -> None:
    c = check(name="throughput", query="sum(rate(x[{{ window }}]))", min=10)
    assert judge(c, Measurement(5.0), None).verdict == "Fail"
    assert judge(c, Measurement(12.0), None).verdict == "Pass"


def test_missing_inputs_are_inconclusive_never_pass() -> None:
    c = check(template="memory", maxRatioToBlue=1.3, maxSlopeOverBlue="20Mi/h")
    assert judge(c, Measurement(300 * MIB, None), None).verdict == "Inconclusive"
    assert judge(c, Measurement(float("nan"), 0.0), Measurement(1.0, 0.0)).verdict == "Inconclusive"


def test_fail_wins_over_inconclusive() -> None:
    c = check(template="memory", max=100 * MIB, maxSlopeOverBlue="20Mi/h")
    result = judge(c, Measurement(300 * MIB, None), None)
    assert result.verdict == "Fail" and result.message.startswith("memory 300.0 MiB, max 100.0 MiB")


def test_zero_blue() -> None:
    c = check(name="errors", template="error-rate", maxRatioToBlue=2.0)
    assert judge(c, Measurement(0.0), Measurement(0.0)).verdict == "Pass"
    assert judge(c, Measurement(0.01), Measurement(0.0)).verdict == "Fail"


@given(green=st.floats(0, 1e10), blue=st.floats(1, 1e10), limit=st.floats(0.5, 3))
def test_ratio_verdict_matches_arithmetic(green: float, blue: float, limit: float) -> None:
    c = check(template="memory", maxRatioToBlue=limit)
    result = judge(c, Measurement(green), Measurement(blue))
    assert result.verdict == ("Pass" if green / blue <= limit else "Fail")
    assert str(result.name) == "memory" and result.message


@given(g=st.floats(-1e6, 1e6), b=st.floats(-1e6, 1e6))
def test_slope_over_blue_matches_arithmetic(g: float, b: float) -> None:
    c = check(template="memory", maxSlopeOverBlue="1Mi/h")
    plan = plan_for(c)
    verdict = combine("memory", outcomes(plan, Measurement(1.0, g), Measurement(1.0, b)), 1).verdict
    assert verdict == ("Pass" if g - b <= 2.0**20 / 3600 else "Fail")
