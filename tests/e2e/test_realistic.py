"""``--speed realistic``: its schedule (planned, no waiting) and a short real run of its first step.

A realistic demo takes most of an hour (2 min bakes, 10 min trend windows), so the whole run is not a test.
Its plan is checked the way ``greenlane plan`` computes it, against the demo's own timeout and the
analysis layer's data needs; then the real sandbox runs at realistic speed (15 s scrapes, 30 s
evaluations) for the first step only, and its report is written from that Prometheus.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from controller.analysis.aggregate import min_trend_span
from controller.analysis.plan import plan_for
from controller.analysis.slope import MIN_POINTS
from controller.core.plan import plan
from controller.core.schedule import CONFIRM_POLL_SECONDS
from controller.sandbox.demo import TIMEOUT_S, run_demo
from controller.sandbox.sandbox import SCRAPE_INTERVAL_S
from controller.sandbox.scenarios import SCENARIOS, build_spec
from tests.sandbox.helpers import require

ROUTER = {"socket": "/tmp/x.sock", "backend": "b", "blueServer": "blue", "greenServer": "green"}
REALISTIC_INTERVAL = build_spec(ROUTER, "realistic").analysis.interval
FIRST_STEP_S = 3 * SCRAPE_INTERVAL_S["realistic"] + CONFIRM_POLL_SECONDS + 2 * REALISTIC_INTERVAL + 30.0
"""Preflight (python_info from both tracks: up to three 15 s scrapes on a busy machine), the first weight read
back, two evaluations (30 s apart), and half a minute for a slow start; far from the hour."""


def test_realistic_schedule_fits_the_demo_and_the_data_it_needs() -> None:
    spec = build_spec(ROUTER, "realistic")
    timeline = plan(spec, lambda c: plan_for(c).window)
    scrape = SCRAPE_INTERVAL_S["realistic"]
    assert spec.analysis.interval >= 2 * scrape, "each evaluation sees fresh scrapes"
    assert [s.limited_by for s in timeline.steps] == ["pause"] * len(spec.steps), "2 min bakes, not the passes"
    assert timeline.promotion_at == sum(s.pause for s in spec.steps)
    assert timeline.promotion_at + SCENARIOS["healthy"].outage_s < TIMEOUT_S["realistic"], "a healthy run can promote"
    leak = next(d for d in timeline.detections if d.check == "memory")
    assert leak.worst_case < TIMEOUT_S["realistic"] / 2, "a leak is caught well within the demo's time"
    for name in ("memory", "db-connections"):
        check = next(c for c in spec.analysis.checks if c.name == name)
        assert check.max_slope_over_blue is not None and check.window is not None
        assert min_trend_span(check.window) / scrape >= MIN_POINTS, f"{name}: a trend's span holds enough scrapes"


@pytest.mark.e2e
@pytest.mark.servers
@pytest.mark.slow
def test_first_step_at_realistic_speed_and_its_report(tmp_path: Path) -> None:
    result = require(lambda: run_demo("healthy", speed="realistic", timeout_s=FIRST_STEP_S, report_dir=tmp_path))
    spec = build_spec(ROUTER, "realistic")
    assert result.outcome == "paused" and "timed out" in result.reason, result.reason  # stopped after step 1
    assert [w for _, w in result.weights if w > 0][:1] == [spec.steps[0].weight], result.weights
    times = [e["at"] for e in result.evaluations]
    assert times, "at least one evaluation in the first step"
    assert all(b - a >= spec.analysis.interval - 1 for a, b in itertools.pairwise(times)), times
    assert result.report is not None
    body = json.loads(Path(result.report).with_suffix(".json").read_text())
    assert body["steps"][0]["weight"] == spec.steps[0].weight
    assert body["steps"][0]["pause"] == "2m"
    assert body["spec"]["analysis"]["interval"] == "30s"
    p50 = next(r for r in body["headline"] if r["key"] == "latency_p50")
    assert p50["blue"]["value"] is not None and p50["blue"]["samples"] > 0
