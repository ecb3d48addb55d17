"""Steps, weight spans and the cluster window, on plain values (no Prometheus)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.model.resource import BlueGreenRollout
from controller.report.build import ReportError
from controller.report.cluster import LEAD_S, events_of, weights_from_events, window
from controller.report.model import Event, RolloutRun
from controller.report.timeline import step_spans, weight_spans
from controller.sandbox.scenarios import build_spec

SPEC = build_spec({"socket": "/tmp/x.sock", "backend": "b", "blueServer": "blue", "greenServer": "green"})


def run(weights: list[tuple[float, float]], phase: str, end: float = 1000.0) -> RolloutRun:
    return RolloutRun("checkout", "sandbox", SPEC, 0.0, end, phase, weights=tuple(weights))


def test_weight_spans_cover_the_window_and_skip_repeats() -> None:
    spans = weight_spans([(100, 10), (150, 10), (300, 25), (2000, 50)], 0, 1000)
    assert spans == [(0, 100, 0), (100, 300, 10), (300, 1000, 25)]


@pytest.mark.parametrize(
    ("weights", "phase", "expected"),
    [
        (
            [(100, 10), (300, 25), (400, 50), (500, 100)],
            "Promoted",
            [
                (0, 10, 200, "completed"),
                (1, 25, 100, "completed"),
                (2, 50, 100, "completed"),
                (3, 100, 500, "promoted"),
            ],
        ),
        ([(100, 10), (300, 25), (350, 0)], "RolledBack", [(0, 10, 200, "completed"), (1, 25, 50, "rolled back")]),
        ([(100, 10)], "Progressing", [(0, 10, 900, "running (Progressing)")]),
        ([(100, 10), (200, 0)], "Aborted", [(0, 10, 100, "rolled back")]),
    ],
)
def test_steps_bake_until_the_next_change(
    weights: list[tuple[float, float]], phase: str, expected: list[tuple[int, int, float, str]]
) -> None:
    steps = step_spans(run(weights, phase))
    assert [(s.index, s.weight, s.baked, s.outcome) for s in steps] == expected
    assert all(s.pause == "15s" for s in steps)


def rollout(status: dict[str, Any], created: str | None = "2026-01-01T00:00:00Z") -> BlueGreenRollout:
    meta: dict[str, Any] = {"name": "checkout", "namespace": "sandbox"}
    if created:
        meta["creationTimestamp"] = created
    return BlueGreenRollout.model_validate(
        {
            "apiVersion": "greenlane.dev/v1alpha1",
            "kind": "BlueGreenRollout",
            "metadata": meta,
            "spec": SPEC.to_wire(),
            "status": status,
        }
    )


def test_window_runs_from_first_traffic_to_the_outcome_or_now() -> None:
    t0 = 1767225600.0  # 2026-01-01T00:00:00Z
    promoted = rollout(
        {"phase": "Promoted", "trafficStartedAt": "2026-01-01T00:10:00Z", "promotedAt": "2026-01-01T00:30:00Z"}
    )
    assert window(promoted, now=t0 + 7200, start=None, end=None) == (t0 + 600 - LEAD_S, t0 + 1800)
    rolled = rollout(
        {
            "phase": "RolledBack",
            "trafficStartedAt": "2026-01-01T00:10:00Z",
            "rollback": {
                "reason": "AnalysisFailed",
                "at": "2026-01-01T00:20:00Z",
                "completedAt": "2026-01-01T00:20:05Z",
            },
        }
    )
    assert window(rolled, now=t0 + 7200, start=None, end=None)[1] == t0 + 1205
    running = rollout({"phase": "Progressing", "trafficStartedAt": "2026-01-01T00:10:00Z"})
    assert window(running, now=t0 + 900, start=None, end=None)[1] == t0 + 900
    assert window(running, now=t0 + 900, start=t0, end=t0 + 5000) == (t0, t0 + 900), "never beyond now"
    with pytest.raises(ReportError, match="no start"):
        window(rollout({}, created=None), now=t0, start=None, end=None)


def test_events_in_the_window_and_weights_from_their_messages() -> None:
    def ev(reason: str, message: str, at: str, count: int = 1) -> dict[str, Any]:
        return {"reason": reason, "message": message, "type": "Normal", "firstTimestamp": at, "count": count}

    raw = [
        ev("WeightSet", "Green at 10% verified on the router, step 1/4 (10%); bake 15s", "2026-01-01T00:01:00Z"),
        ev("AnalysisFailed", "At step 1/4 (10%): memory slope", "2026-01-01T00:02:00Z", count=3),
        ev("RollingBack", "Setting green to 0% (was 10%)", "2026-01-01T00:03:00Z"),
        ev("WeightSet", "Green at 25% verified", "2025-12-31T00:00:00Z"),  # before the window
        {"reason": "Broken", "message": "no time"},
    ]
    t0 = 1767225600.0
    events = events_of(raw, t0, t0 + 3600)
    assert [e.reason for e in events] == ["WeightSet", "AnalysisFailed", "RollingBack"]
    assert events[1].message.endswith("(x3)")
    assert weights_from_events(events) == ((t0 + 60, 10.0), (t0 + 180, 0.0))
    assert weights_from_events([Event(1.0, "WeightSet", "something else")]) == ()


def test_rolling_slope_needs_a_full_window_and_follows_the_trend() -> None:
    from controller.report.checks import rolling_slope

    ramp = [(float(t), 2.0 * t if t < 100 else 200.0) for t in range(0, 200)]
    slopes = rolling_slope(ramp, 40.0)
    assert slopes[0][0] >= 40.0, "no slope before a full window of data"
    assert all(s == pytest.approx(2.0) for t, s in slopes if t <= 100)
    assert all(s == pytest.approx(0.0) for t, s in slopes if t >= 140)
    assert rolling_slope(ramp[:30], 40.0) == ()
