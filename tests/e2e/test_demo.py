"""Every demo scenario end to end: the real sandbox, the real core, real Prometheus judgement.

Each scenario runs once, in its own sandbox, two at a time (``GREENLANE_E2E_WORKERS``; a sandbox is mostly
waiting on 1 s scrapes and 3 s evaluations, so two share two cores without slowing each other's loop). The
scenarios that the selected tests need all start when the module starts, longest first; the suite takes
about six minutes on two cores once the app virtualenvs are cached. Run: ``make e2e`` or ``pytest -m e2e``.

Fault-to-rollback bound (seconds after the first step's weight was applied, which is when faults bite)::

    bound = confirm + data + scrape + interval * failureLimit + interval

* ``confirm``: the weight is read back and the step's bake starts within ``CONFIRM_POLL_SECONDS`` (2 s);
* ``scrape``: two scrape intervals, so that ``rate()`` and a fresh gauge sample see the fault;
* ``interval * failureLimit``: consecutive failing evaluations needed; one more ``interval`` because the
  first evaluation comes one interval after the bake starts, and the tick that decides may lag by up to 1 s
  (included in the slack below);
* ``data``: how long until the evidence shows the limit exceeded. Traffic checks (latency, error rate) judge
  the requests since the step began, after warm-up: ``warmup`` plus the longer of the least span a verdict
  needs (``min_level_span``) and the time green takes at the first step's weight to serve the requests whose
  interval, at the false-rollback budget of the latest evaluation the bound allows, lies beyond the limit
  (computed below from the fault, with the same statistics the operator uses).
  Trend checks (memory, DB connections: ``maxSlopeOverBlue`` over a window ``W`` shorter than five minutes,
  so a trend needs the whole window): a slope is judged once green's series spans ``W``. The series starts
  when Prometheus first scrapes green, before the first step, so the first judged slope comes at most ``W``
  after the fault; by then the window holds only the leak (or the leak plus a few flat seconds before it),
  and Theil-Sen over a window that is all leak returns the leak's rate ``r`` itself. So ``data = W``,
  provided ``r`` exceeds the limit; the test asserts it does, by a margin, or the bound would mean nothing.
Plus 3 s slack for the loop tick and evaluation latency.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from controller.analysis.evaluate import min_level_span
from controller.analysis.stats import binomial_bounds, wilson, z_of
from controller.core.judging import fail_alpha
from controller.core.schedule import CONFIRM_POLL_SECONDS
from controller.model.spec import RolloutSpec
from controller.sandbox.app.faults import FaultSettings
from controller.sandbox.demo import DemoResult, run_demo
from controller.sandbox.sandbox import SCRAPE_INTERVAL_S, SandboxConfig
from controller.sandbox.scenarios import SCENARIOS, build_spec
from tests.sandbox.helpers import require

pytestmark = [pytest.mark.e2e, pytest.mark.servers, pytest.mark.slow]

SLACK_S = 3.0
WORKERS = int(os.environ.get("GREENLANE_E2E_WORKERS", "2"))
LONGEST_FIRST = (
    "prometheus-outage",
    "healthy",
    "startup-memory",
    "memory-leak",
    "db-connection-leak",
    "wrong-python",
    "error-spike",
    "latency-regression",
)
SCENARIO_OF_TEST = {
    "test_startup_memory_is_really_higher_but_flat": "startup-memory",
    "test_wrong_python_never_sends_green_traffic": "wrong-python",
    "test_prometheus_outage_holds_then_completes": "prometheus-outage",
}
_runs: dict[str, Future[DemoResult]] = {}


def _scenario_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "name" in callspec.params:
        return str(callspec.params["name"])
    return SCENARIO_OF_TEST.get(getattr(item, "originalname", item.name))


@pytest.fixture(scope="module", autouse=True)
def _start_selected_scenarios(request: pytest.FixtureRequest) -> Iterator[None]:
    here = request.node.path
    wanted = {_scenario_of(item) for item in request.session.items if item.path == here} - {None}
    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="demo")
    for name in sorted((n for n in wanted if n is not None), key=LONGEST_FIRST.index):
        _runs[name] = pool.submit(run_demo, name, out=lambda _line: None)
    yield
    pool.shutdown(wait=True, cancel_futures=True)


def demo(name: str) -> DemoResult:
    run = _runs.get(name)
    return require(run.result if run is not None else lambda: run_demo(name, out=lambda _line: None))


def spec_of(result: DemoResult) -> RolloutSpec:
    return RolloutSpec.model_validate(result.spec)


def check_of(spec: RolloutSpec, name: str) -> Any:
    return next(c for c in spec.analysis.checks if c.name == name)


def leak_rate(faults: FaultSettings, template: str | None) -> float:
    """The fault's growth per second in the check's unit: bytes of RSS or PostgreSQL connections."""
    if template == "memory":
        return faults.memory_leak_mb_per_min * 2**20 / 60
    return faults.db_leak_per_min / 60


def requests_to_show(spec: RolloutSpec, check: Any, faults: FaultSettings) -> int:
    """Green requests at which the fault's evidence crosses the check's limit at the budget's tail.

    The tail is that of an evaluation a minute in (later ones spend less, so this is the larger count).
    """
    alpha = fail_alpha(spec, check, round(60 / spec.analysis.interval) + 1)
    if check.template == "error-rate":
        assert check.max is not None and faults.error_rate > 2 * check.max, "the fault must clearly exceed the limit"
        z = z_of(alpha)
        return next(n for n in range(1, 10_000) if wilson(faults.error_rate * n, n, z)[0] > check.max)
    # Latency: every green request is slower than all of blue's, so the quantile's lower bound is past blue's
    # as soon as an order statistic below it exists at this tail.
    share = 1 - (check.quantile or 0.99)
    return next(n for n in range(1, 10_000) if binomial_bounds(n, share, alpha)[1] < n)


def rollback_bound(result: DemoResult, check_name: str) -> float:
    spec = spec_of(result)
    scenario = SCENARIOS[result.scenario]
    check = check_of(spec, check_name)
    interval, limit = spec.analysis.interval, spec.analysis.failure_limit
    scrape = 2 * SCRAPE_INTERVAL_S["fast"]
    if check.template in ("latency", "error-rate"):
        rps = SandboxConfig().load_rps * spec.steps[0].weight / 100
        needed = max(check.min_requests or 0, requests_to_show(spec, check, scenario.faults))
        data = spec.analysis.warmup + max(min_level_span(check.window or 60.0), needed / rps)
    else:
        assert check.window is not None and check.max_slope_over_blue is not None
        rate = leak_rate(scenario.faults, check.template)
        assert rate > 3 * check.max_slope_over_blue, f"{check.name}: the leak must clearly exceed the slope limit"
        data = check.window
    return CONFIRM_POLL_SECONDS + data + scrape + interval * limit + interval + SLACK_S


@pytest.mark.parametrize("name", ["healthy", "startup-memory"])
def test_promotes(name: str) -> None:
    result = demo(name)
    assert result.outcome == "promoted", result.reason
    assert result.weights[-1][1] == 100
    assert result.green_python.startswith("3.12") and result.blue_python.startswith("3.11")
    assert [w for _, w in result.weights] == sorted(w for _, w in result.weights), "weights only ever rise"


def test_startup_memory_is_really_higher_but_flat() -> None:
    """The point of judging by trend: green's level is far above blue's (a naive 1.3x limit would roll it back)."""
    result = demo("startup-memory")
    memory = [c for e in result.evaluations for c in e["checks"] if c["name"] == "memory" and c["green"]]
    last = memory[-1]
    assert last["green"] > last["blue"] * 1.5, "the scenario must actually raise green's memory"
    assert last["verdict"] == "Pass" and "memory slope" in last["message"], last["message"]


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
    if check in ("memory", "db-connections"):
        assert f"{check} slope" in result.reason, f"{name} must be caught by its trend: {result.reason}"


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
    for name in ("memory", "db-connections"):  # leaks are judged by trend, over a window the demo can fill
        check = check_of(spec, name)
        assert check.max_slope_over_blue is not None and check.window is not None and 60 <= check.window <= 120
        assert check.max_increase_over_blue is None
