"""Every demo scenario end to end: the real sandbox, the real core, real Prometheus judgement.

Each scenario runs once, as a user runs it (``greenlane demo`` in a child process, its ``--json`` read back;
``memory-leak`` in a pseudo-terminal, the others through pipes), so every run also checks what the demo
shows. Each runs in its own sandbox, two at a time (``GREENLANE_E2E_WORKERS``; a sandbox is mostly
waiting on 1 s scrapes and 3 s evaluations, so two share two cores without slowing each other's loop). The
scenarios that the selected tests need all start when the module starts, longest first; the suite takes
about six minutes on two cores once the app virtualenvs are cached. Run: ``make e2e`` or ``pytest -m e2e``.

Fault-to-rollback bound. The evidence shows the limit exceeded at most ``ready`` seconds after the first
step's weight was applied (which is when faults bite)::

    ready = confirm + data + scrape + slack

and the rollback comes by the ``failureLimit``-th evaluation from then on: each of them fails, none is
wasted. Counting evaluations rather than seconds keeps the bound true on a busy machine, where an
evaluation can start late; the cadence itself is checked apart (the median gap between evaluations at most
``interval`` plus two one-second loop ticks), and the seconds are printed.

* ``confirm``: the weight is read back and the step's bake starts within ``CONFIRM_POLL_SECONDS`` (2 s);
* ``scrape``: two scrape intervals, so that ``rate()`` and a fresh gauge sample see the fault;
* ``data``: how long until the evidence shows the limit exceeded. Both kinds of check judge only samples
  after green's ``warmup`` (counted from when green first took traffic, i.e. the fault). Traffic checks
  (latency, error rate) judge the requests since the step began: ``warmup`` plus the longer of the least
  span a verdict needs (``min_level_span``) and the time green takes at the first step's weight to serve
  the requests whose interval, at the false-rollback budget of the latest evaluation the bound allows, lies
  beyond the limit (computed below from the fault, with the same statistics the operator uses).
  Trend checks (memory, DB connections: ``maxSlopeOverBlue`` over a window ``W`` shorter than five minutes,
  so a trend needs the whole window): a slope is judged once ``W`` seconds after warm-up have passed; by
  then the window holds only the leak, and Theil-Sen over a window that is all leak returns the leak's rate
  ``r`` itself. So ``data = warmup + W``, provided ``r`` exceeds the limit; the test asserts it does, by a
  margin, or the bound would mean nothing.
* ``slack``: 3 s for the loop tick and for a scrape that lands late.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import statistics
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from controller.analysis.evaluate import min_level_span
from controller.analysis.stats import binomial_bounds, wilson, z_of
from controller.core.judging import fail_alpha
from controller.core.schedule import CONFIRM_POLL_SECONDS
from controller.model.spec import RolloutSpec
from controller.sandbox.app.faults import FaultSettings
from controller.sandbox.demo import DemoResult
from controller.sandbox.sandbox import SCRAPE_INTERVAL_S, SandboxConfig
from controller.sandbox.scenarios import SCENARIOS, build_spec
from tests.cli.helpers import screen
from tests.conftest import REPO
from tests.e2e import cli_runs
from tests.e2e.cli_runs import COLS, CliRun, without_time
from tests.report.browser import assert_report_is_sound, open_report

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
IN_TERMINAL = "memory-leak"
"""The scenario run in a pseudo-terminal (short, and it shows events, a rollback and the fault's timing)."""
SCENARIO_OF_TEST = {
    "test_startup_memory_is_really_higher_but_flat": "startup-memory",
    "test_wrong_python_never_sends_green_traffic": "wrong-python",
    "test_prometheus_outage_holds_then_completes": "prometheus-outage",
    "test_live_view_is_redrawn_in_place_on_a_terminal": IN_TERMINAL,
}
_runs: dict[str, Future[CliRun]] = {}
_reports: list[Path] = []
ARTIFACTS = REPO / "build" / "artifacts"


def _scenario_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "name" in callspec.params:
        return str(callspec.params["name"])
    return SCENARIO_OF_TEST.get(getattr(item, "originalname", item.name))


@pytest.fixture(scope="module", autouse=True)
def _start_selected_scenarios(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    here = request.node.path
    wanted = {_scenario_of(item) for item in request.session.items if item.path == here} - {None}
    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="demo")
    _reports.append(tmp_path_factory.mktemp("demo-reports"))  # every run writes its report, as `greenlane demo` does
    for name in sorted((n for n in wanted if n is not None), key=LONGEST_FIRST.index):
        start = cli_runs.in_terminal if name == IN_TERMINAL else cli_runs.piped
        _runs[name] = pool.submit(start, name, _reports[0])
    yield
    pool.shutdown(wait=True, cancel_futures=True)


def cli_run(name: str) -> CliRun:
    """The scenario's run (started with the module), its screen kept as ``build/artifacts/demo-<name>.txt``."""
    cli_runs.dependencies()
    future = _runs.get(name)
    start = cli_runs.in_terminal if name == IN_TERMINAL else cli_runs.piped
    run = future.result() if future is not None else start(name, _reports[0])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"demo-{name}.txt").write_text("\n".join(run.lines()) + "\n" + run.stderr)
    return run


def demo(name: str) -> DemoResult:
    return cli_run(name).result


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


def evidence_ready(result: DemoResult, check_name: str) -> float:
    """Seconds after the fault by which the check's evidence shows the limit exceeded (see the module docstring)."""
    spec = spec_of(result)
    scenario = SCENARIOS[result.scenario]
    check = check_of(spec, check_name)
    scrape = 2 * SCRAPE_INTERVAL_S["fast"]
    if check.template in ("latency", "error-rate"):
        rps = SandboxConfig().load_rps * spec.steps[0].weight / 100
        needed = max(check.min_requests or 0, requests_to_show(spec, check, scenario.faults))
        data = spec.analysis.warmup + max(min_level_span(check.window or 60.0), needed / rps)
    else:
        assert check.window is not None and check.max_slope_over_blue is not None
        rate = leak_rate(scenario.faults, check.template)
        assert rate > 3 * check.max_slope_over_blue, f"{check.name}: the leak must clearly exceed the slope limit"
        data = spec.analysis.warmup + check.window
    return CONFIRM_POLL_SECONDS + data + scrape + SLACK_S


def rollback_deadline(result: DemoResult, ready: float) -> float:
    """When the rollback is due: the ``failureLimit``-th evaluation at least ``ready`` seconds after the fault."""
    assert result.fault_started_at is not None
    limit = spec_of(result).analysis.failure_limit
    due = sorted(e["at"] for e in result.evaluations if e["at"] >= result.fault_started_at + ready)
    # Fewer evaluations than that means the rollout ended earlier (a rollback ends the run).
    return due[limit - 1] if len(due) >= limit else math.inf


def timeline(result: DemoResult, check_name: str) -> str:
    """The check's verdicts after the fault, to tell from a failure where the time went."""
    fault = result.fault_started_at or 0.0
    rows = []
    for e in result.evaluations:
        for c in e["checks"]:
            if c["name"] == check_name and e["at"] >= fault:
                rows.append(f"  +{e['at'] - fault:5.1f}s {c['verdict']:<12} {c['message'][:140]}")
    return "\n".join(rows)


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
    ready = evidence_ready(result, check)
    interval, limit = spec_of(result).analysis.interval, spec_of(result).analysis.failure_limit
    deadline = rollback_deadline(result, ready)
    seen = timeline(result, check)
    print(f"{name}: fault to rollback {took:.1f}s; evidence ready by {ready:.1f}s, then {limit} evaluations")
    assert took > 0, seen
    assert result.rolled_back_at <= deadline, (
        f"{name}: rolled back {took:.1f}s after the fault, later than the {limit}th evaluation after "
        f"{ready:.1f}s (at +{deadline - result.fault_started_at:.1f}s):\n{seen}"
    )
    # The demo's loop ticks every second: a due evaluation starts at the next tick, after the last reconcile.
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(result.evaluations)]
    assert gaps and statistics.median(gaps) <= interval + 2.0, f"evaluations are {gaps} s apart, interval {interval}s"
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


@pytest.mark.parametrize(("name", "expected"), [("healthy", "flat"), ("memory-leak", "growing")])
def test_the_report_of_a_real_rollout_opens_offline_in_chromium(name: str, expected: str) -> None:
    """The demo's own report: both tracks measured, every chart drawn, nothing fetched, the leak visible."""
    result = demo(name)
    assert result.report is not None, "the demo wrote its report"
    page = Path(result.report)
    facts, urls, proxied = open_report(page, ARTIFACTS / f"report-{name}.png")
    assert_report_is_sound(facts, urls, proxied, page)
    assert {c["check"] for c in facts["charts"]} == {"weights"} | {c.name for c in spec_of(result).analysis.checks}
    body = json.loads(page.with_suffix(".json").read_text())
    rows = {r["key"]: r for r in body["headline"]}
    for key in ("latency_p50", "latency_p99", "error_rate", "memory", "memory_trend", "cpu"):
        assert rows[key]["green"]["value"] is not None and rows[key]["blue"]["value"] is not None, key
        assert rows[key]["green"]["samples"] > 0 and rows[key]["blue"]["samples"] > 0, key
    assert (
        f"memory {'+' if expected == 'growing' else ''}" in body["summary"][1] and f"({expected})" in body["summary"][1]
    ), body["summary"]
    assert result.headline == body["summary"][1], "the demo's summary quotes the report's headline"
    steps = body["steps"]
    assert steps and steps[-1]["outcome"] == ("promoted" if name == "healthy" else "rolled back"), steps
    print(f"{name}: " + " ".join(body["summary"][:2]))


# -- what the user sees ----------------------------------------------------------------------------

PIPED = [n for n in LONGEST_FIRST if n != IN_TERMINAL]
OUTCOME_WORD = {"promoted": "promoted", "rolled_back": "rolled back", "paused": "held", "aborted": "aborted"}
BARE_DASH = re.compile(r"(^|\s)-(\s|$)")
"""A missing value drawn as ``-`` (a negative number or ``->`` does not match)."""
BARE_DASH_PAIR = re.compile(r"(^|\s)-/|/-(\s|$)")
"""``green/blue`` in a change line with either side ``-``."""
LOG_LINE = re.compile(r"pid=|process=|\[(info|warning|error)\s*\]")
"""The sandbox's structlog lines (``started pid=...``), which only ``--verbose`` shows."""
REPRS = ("LoadStats(", "Counter(", "CheckStatus(", "DemoResult(")


def _flat(text: str) -> str:
    return " ".join(text.split())


def assert_summary(run: CliRun) -> None:
    """The last screen: outcome, the report's headline, every check with both tracks, load, the report path last."""
    lines = [line.rstrip() for line in run.lines()]
    start = max(i for i, line in enumerate(lines) if line.startswith("outcome: "))
    block = [line for line in lines[start:] if line.strip()]
    result = run.result
    assert len(block) <= 24, "one screen:\n" + "\n".join(block)
    assert block[0].startswith(f"outcome: {OUTCOME_WORD[result.outcome]}"), block[0]
    assert result.report is not None and Path(result.report).exists(), result.report_error
    assert block[-1] == f"report: {result.report}", "the report's path comes last"
    assert result.headline and result.headline.startswith("3.12 vs 3.11:"), result.headline
    assert _flat(result.headline) in _flat(" ".join(block)), "the report's headline, quoted"
    for line in block:
        assert not BARE_DASH.search(line) and not any(r in line for r in REPRS), line
    load = next(line for line in block if line.startswith("load: "))
    assert re.match(r"load: [\d,]+ requests at [\d.]+ req/s, [\d.]+% errors \(blue [\d.]+% of [\d,]+, green ", load), (
        load
    )
    if result.outcome == "rolled_back":
        assert f": {result.failed_check} failed, green " in block[0] and ", blue " in block[0], block[0]
        assert "threshold " in block[0] and any(line.startswith("fault to rollback: ") for line in block)
    if not result.evaluations:
        assert "checks: none evaluated, green never took traffic" in block, block
        return
    header = next(line for line in block if line.startswith("CHECK"))
    assert f"GREEN ({result.green_python})" in header and f"BLUE ({result.blue_python})" in header, header
    for check in result.evaluations[-1]["checks"]:
        assert any(line.startswith(check["name"] + " ") for line in block), check["name"]
    python = next((line for line in block if line.startswith("python-version ")), None)
    if python is not None and "Pass" in python:
        assert f"{result.green_python} " in python and f"{result.blue_python} " in python, python


@pytest.mark.parametrize("name", PIPED)
def test_a_piped_run_prints_only_changes_then_the_summary(name: str) -> None:
    run = cli_run(name)
    assert "\x1b[" not in run.stdout, "no escape sequences into a pipe"
    assert not LOG_LINE.search(run.stdout + run.stderr), "child-process logs only with --verbose:\n" + run.stderr
    body = [without_time(line) for line in run.stdout.splitlines() if line.strip()]
    assert all(a != b for a, b in itertools.pairwise(body)), "no line repeats the one before"
    states = [line for line in body if line.startswith("sandbox/checkout ")]
    assert states and all(a != b for a, b in itertools.pairwise(states)), "a state line only when it changed"
    events = [line for line in body if line.startswith("   event ")]
    assert len(events) == len(run.result.events), "every event once, as it happened"
    result = run.result
    for line in states:
        assert not BARE_DASH_PAIR.search(line), line
        if "python-version ok" in line:
            assert f"python-version ok {result.green_python}/{result.blue_python}" in line, line
    assert_summary(run)


def test_live_view_is_redrawn_in_place_on_a_terminal() -> None:
    run = cli_run(IN_TERMINAL)
    raw = run.stdout
    assert "\x1b[1A" in raw and "\x1b[2K" in raw, "redrawn by moving the cursor up and clearing lines"
    assert not LOG_LINE.search(raw), "child-process logs only with --verbose"
    assert not any(r in raw for r in REPRS)
    drawn = above = 0
    step = max(1, len(run.chunks) // 30)
    for end in range(step, len(run.chunks) + 1, step):
        shown = screen("".join(run.chunks[:end]), COLS)
        headers = [i for i, line in enumerate(shown) if line.startswith("Rollout") and "sandbox/checkout" in line]
        assert len(headers) <= 1, "the screen is redrawn in place, never repeated:\n" + "\n".join(shown)
        if headers:
            drawn += 1
            above += any(line.lstrip().startswith("event ") or " event " in line for line in shown[: headers[0]])
            checks = [line.strip() for line in shown[headers[0] :] if line.strip().startswith("python-version")]
            if checks and " Pass " in checks[0]:
                assert run.result.green_python in checks[0] and run.result.blue_python in checks[0], checks[0]
    assert drawn >= 5, f"the live view was on screen in {drawn} samples"
    assert above, "events are printed above the live view as they happen"
    final = screen(raw, COLS)
    assert not any(line.startswith("Rollout") for line in final), "the live view gives way to the summary"
    assert_summary(run)
