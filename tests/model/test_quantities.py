from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.model.quantities import format_bytes, format_duration, format_rate, parse_duration, parse_rate
from controller.model.spec import Check


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("2m", 120), ("1h", 3600), ("1h30m", 5400), ("500ms", 0.5), ("1.5h", 5400), ("1d", 86400)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5 minutes", "", "10", "-1s", "1w", "m5", "1h 30m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"such as"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10 * 86400))
def test_duration_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("50Mi/h", 50 * 2**20 / 3600),
        ("20/h", 20 / 3600),
        ("1.5/min", 0.025),
        ("1k/s", 1000),
        ("+2Gi/d", 2 * 2**30 / 86400),
    ],
)
def test_parse_rate(text: str, per_second: float) -> None:
    assert math.isclose(parse_rate(text), per_second)


@pytest.mark.parametrize("text", ["50MB per hour", "50Mi", "/h", "-5/h", "5/week"])
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="such as 50Mi/h"):
        parse_rate(text)


def test_human_formats() -> None:
    assert format_rate(41.8 * 2**20 / 3600, binary=True) == "+41.8 MiB/h"
    assert format_rate(20 / 3600) == "+20/h"
    assert format_rate(1.0) == "+3600/h"
    assert format_rate(-0.5 / 3600) == "-0.5/h"
    assert format_bytes(318.4 * 2**20) == "318.4 MiB"


@pytest.mark.parametrize("text", ["5Mi/min", "50Mi/h", "20/h", "10/min", "1.5/min", "1Gi/s", "0.001/h"])
def test_slope_thresholds_survive_the_wire(text: str) -> None:
    """A spec written back by ``to_wire`` (demo --json, status) must validate again, large slopes included."""
    check = Check.model_validate({"name": "c", "query": "up", "maxSlope": text})
    again = Check.model_validate(check.to_wire())
    assert again.max_slope == pytest.approx(parse_rate(text), rel=1e-9)
