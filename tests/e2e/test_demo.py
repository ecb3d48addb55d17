"""Every demo scenario end to end: the real sandbox, the real core, real Prometheus judgement.

Each scenario runs once (module-scoped cache), sequentially, in its own sandbox; the suite takes about
eight minutes on two cores once the app virtualenvs are cached. Run: ``make e2e`` or ``pytest -m e2e``.

Fault-to-rollback bound (seconds after the first step's weight was applied, which is when faults bite)::

    bound = confirm + data + scrape + interval * failureLimit + interval

* ``confirm``: the weight is read back and the step's bake starts within ``CONFIRM_POLL_SECONDS`` (2 s);
* ``scrape``: two scrape intervals, so that ``rate()`` and a fresh gauge sample see the fault;
* ``interval * failureLimit``: consecutive failing evaluations needed; one more ``interval`` because the
  first evaluation comes one interval after the bake starts, and the tick that decides may lag by up to 1 s
  (included in the slack below);
* ``data``: how long until the judged value crosses the threshold. Traffic checks (latency, error rate):
  green at the first step's weight must serve ``minRequests`` requests, ``minRequests / (rps * weight)``.
  Level checks over a window ``W`` of a leak at rate ``r`` starting at 0: the window average rises by
  ``r * t**2 / (2 * W)`` (for ``t <= W``), so it exceeds an allowance ``A`` after ``t = sqrt(2 * W * A / r)``.
  Memory: ``A = (maxRatioToBlue - 1) * blue``, blue measured in the run. Connections: ``A = maxIncreaseOverBlue``.
Plus 3 s slack for the loop tick and evaluation latency.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from controller.core.schedule import CONFIRM_POLL_SECONDS
from controller.model.spec import RolloutSpec
from controller.sandbox.demo import DemoResult, run_demo
from controller.sandbox.sandbox import SCRAPE_INTERVAL_S, SandboxConfig
from controller.sandbox.scenarios import SCENARIOS, build_spec
from tests.sandbox.helpers import require

pytestmark = [pytest.mark.e2e, pytest.mark.servers, pytest.mark.slow]

SLACK_S = 3.0
_results: dict[str, DemoResult] = {}


def demo(name: str) -> DemoResult:
    if name not in _results:
        _results[name] = require(lambda: run_demo(name, out=lambda _line: None))
    return _results[name]


def spec_of(result: DemoResult) -> RolloutSpec:
    return RolloutSpec.model_validate(result.spec)


def check_of(spec: RolloutSpec, name: str) -> Any:
    return next(c for c in spec.analysis.checks if c.name == name)


def blue_value(result: DemoResult, check: str) -> float:
    values = [c["blue"] for e in result.evaluations for c in e["checks"] if c["name"] == check and c["blue"]]
    assert values, f"no blue value for {check}"
    return float(min(values))


def rollback_bound(result: DemoResult, check_name: str) -> float:
    spec = spec_of(result)
    scenario = SCENARIOS[result.scenario]
    check = check_of(spec, check_name)
    interval, limit = spec.analysis.interval, spec.analysis.failure_limit
    scrape = 2 * SCRAPE_INTERVAL_S["fast"]
    window = check.window or 60.0
    if check.template in ("latency", "error-rate"):
        rps = SandboxConfig().load_rps * spec.steps[0].weight / 100
        data = (check.min_requests or 0) / rps
    elif check.template == "memory":
        allowance = (check.max_ratio_to_blue - 1) * blue_value(result, "memory")
        rate = scenario.faults.memory_leak_mb_per_min * 2**20 / 60
        data = math.sqrt(2 * window * allowance / rate)
    else:
        allowance = check.max_increase_over_blue
        rate = scenario.faults.db_leak_per_min / 60
        data = math.sqrt(2 * window * allowance / rate)
    return CONFIRM_POLL_SECONDS + data + scrape + interval * limit + interval + SLACK_S


@pytest.mark.parametrize("name", ["healthy", "startup-memory"])
def test_promotes(name: str) -> None:
    result = demo(name)
    assert result.outcome == "promoted", result.reason
    assert result.weights[-1][1] == 100
    assert result.green_python.startswith("3.12") and result.blue_python.startswith("3.11")
    assert [w for _, w in result.weights] == sorted(w for _, w in result.weights), "weights only ever rise"


def test_startup_memory_is_really_higher_but_flat() -> None:
    result = demo("startup-memory")
    memory = [c for e in result.evaluations for c in e["checks"] if c["name"] == "memory" and c["green"]]
    last = memory[-1]
    assert last["green"] > last["blue"] * 1.2, "the scenario must actually raise green's memory"


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("error-spike", "error-rate"),
        ("latency-regression", "latency"),
        ("memory-leak", "memory"),
        ("db-connection-leak", "db-connections"),
    ],
)
def test_fault_rolls_back_on_the_right_check_within_the_bound(name: str, check: str) -> None:
    result = demo(name)
    assert result.outcome == "rolled_back", result.reason
    assert result.failed_check == check, result.reason
    assert result.fault_started_at is not None and result.rolled_back_at is not None
    took = result.rolled_back_at - result.fault_started_at
    bound = rollback_bound(result, check)
    print(f"{name}: fault to rollback {took:.1f}s, bound {bound:.1f}s")
    assert 0 < took <= bound, f"{name}: rollback took {took:.1f}s, bound {bound:.1f}s"
    assert result.weights[-1][1] == 0


def test_wrong_python_never_sends_green_traffic() -> None:
    result = demo("wrong-python")
    assert result.green_python.startswith("3.11")
    assert result.outcome == "paused", result.reason
    assert all(w == 0 for _, w in result.weights), result.weights
    assert "3.12" in result.reason or "Python" in result.reason or "python" in result.reason


def test_prometheus_outage_holds_then_completes() -> None:
    result = demo("prometheus-outage")
    assert result.outages and result.outages[0][1] is not None, "Prometheus was stopped and restarted"
    down, up_or_none = result.outages[0]
    assert up_or_none is not None
    up = up_or_none
    assert up - down >= SCENARIOS["prometheus-outage"].outage_s
    before = [w for t, w in result.weights if t <= down]
    during = [w for t, w in result.weights if down < t <= up]
    assert before, "the outage started during a step"
    assert all(w <= before[-1] for w in during), f"weight rose while Prometheus was down: {during}"
    assert any(c["outage"] for e in result.evaluations if down < e["at"] <= up for c in e["checks"])
    assert result.outcome == "promoted", result.reason
    assert result.promoted_at is not None and result.promoted_at > up


def test_spec_is_what_the_demo_documents() -> None:
    spec = build_spec({"socket": "/tmp/x.sock", "backend": "b", "blueServer": "blue", "greenServer": "green"})
    assert [s.weight for s in spec.steps] == [10, 25, 50, 100]
    assert {c.name for c in spec.analysis.checks} == {
        "latency",
        "error-rate",
        "memory",
        "db-connections",
        "python-version",
    }
