"""The view the CLI and the demo share: pure functions of a snapshot, so they are tested without a cluster."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from rich.console import Console

from controller.cli.view import EventRow, Snapshot, change_lines, check_values, render
from controller.model.spec import RolloutSpec
from controller.model.status import CheckStatus, RolloutStatus, TrackValues
from tests.cli.helpers import memory_check, progressing, rollout, with_status

NOW = datetime(2026, 1, 1, 12, 5, tzinfo=UTC)


def snapshot(now: datetime = NOW, events: tuple[EventRow, ...] = (), **status: object) -> Snapshot:
    obj = with_status(rollout(), **{**progressing(), **status})
    return replace(Snapshot.from_object(obj, [], now), events=events)


def text(snap: Snapshot) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(render(snap))
    return console.export_text()


def test_render_shows_units_bar_counters_and_events() -> None:
    event = EventRow("Warning", "AnalysisFailed", "memory slope +1.7 MiB/h (1/2 failures)", NOW - timedelta(minutes=2))
    out = text(snapshot(events=(event,)))
    assert "shop/checkout" in out and "Progressing" in out
    assert "2/4  (target 25%, pause 5m)" in out
    assert "green 25% / blue 75%" in out and "█" in out
    assert "5m at this weight of 5m" in out and "passes 1/2" in out and "failures 0/2" in out
    assert "68.0 MiB" in out and "+1.7 MiB/h" in out and "<= 1.30x blue" in out
    assert "2m" in out and "AnalysisFailed" in out


def test_values_without_level_and_slope_fall_back_on_measure() -> None:
    snap = snapshot()
    slope_only = CheckStatus(name="memory", verdict="Fail", green=500.0, blue=0.0, unit="bytes", measure="slope")
    assert check_values(snap, slope_only) == ("+1.7 MiB/h", "+0 B/h")
    level = CheckStatus(name="p99", verdict="Pass", green=0.412, blue=0.05, unit="seconds")
    assert check_values(snap, level) == ("0.412s", "50ms")
    both = CheckStatus(
        name="memory",
        verdict="Pass",
        unit="bytes",
        level=TrackValues(green=7.13e7, blue=None),
        slope=TrackValues(green=None, blue=None),
    )
    assert check_values(snap, both) == ("68.0 MiB\n-", "-")


def test_change_lines_only_when_something_changed() -> None:
    first = snapshot()
    assert len(change_lines(None, first)) == 1
    later = snapshot(now=NOW + timedelta(seconds=30))
    assert change_lines(first, later) == [], "the bake clock ticking is no change"
    failing = snapshot(consecutiveFailures=1, checks=[memory_check("Fail")])
    (line,) = change_lines(first, failing)
    assert "failures 1/2" in line and "memory FAIL 68.0 MiB/38.1 MiB +1.7 MiB/h/+0 B/h" in line
    event = EventRow("Warning", "RollingBack", "Setting green to 0%", NOW)
    lines = change_lines(failing, snapshot(consecutiveFailures=1, checks=[memory_check("Fail")], events=(event,)))
    assert lines == ["   event Warning RollingBack: Setting green to 0%"]


def test_an_invalid_spec_still_shows_what_it_can() -> None:
    obj = with_status(rollout(), phase="Invalid", message="spec.steps[1].weight: must be <= 100")
    obj["spec"]["steps"][1]["weight"] = 150
    out = text(Snapshot.from_object(obj, [], NOW))
    assert "Invalid" in out and "spec.steps[1].weight" in out and "1/4" in out


def test_the_demo_builds_the_same_view_from_models() -> None:
    spec = RolloutSpec.model_validate(rollout()["spec"])
    snap = Snapshot.from_models("shop", "checkout", spec, RolloutStatus(current_step=3, weight=100), NOW)
    assert snap.step_number == 4 and snap.units["memory"] == "bytes" and snap.failure_limit == 2
    assert "4/4" in text(snap)
