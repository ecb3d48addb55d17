"""What ``greenlane get`` shows: numbers side by side, recent events, nothing hidden."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controller.cli.render import list_rows, rollout_view

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
OBJ = {
    "metadata": {"name": "checkout", "namespace": "shop", "creationTimestamp": "2026-01-01T10:00:00Z"},
    "spec": {
        "blue": {"deployment": "checkout"},
        "green": {"deployment": "checkout-py312"},
        "steps": [{"weight": 5, "pause": "2m"}, {"weight": 25, "pause": "5m"}, {"weight": 100, "pause": "30m"}],
    },
    "status": {
        "phase": "RolledBack",
        "currentStep": 1,
        "weight": 0,
        "message": "Rolled back at 25%: p99-latency 0.41s is 1.31x blue 0.31s, limit 1.10x (2/2 failures)",
        "rollback": {"reason": "AnalysisFailed", "check": "p99-latency", "message": "p99-latency 0.41s is 1.31x"},
        "checks": [
            {
                "name": "p99-latency",
                "verdict": "Fail",
                "green": 0.41,
                "blue": 0.31,
                "threshold": "<= 1.10x blue",
                "samples": 240,
                "message": "0.41s is 1.31x blue",
            },
        ],
    },
}


def test_get_view_shows_phase_weights_checks_and_events() -> None:
    events: list[dict[str, Any]] = [
        {"type": "Normal", "reason": "WeightSet", "message": "green 25%", "lastTimestamp": "2026-01-01T11:50:00Z"},
        {
            "type": "Warning",
            "reason": "RolledBack",
            "message": "Rolled back at 25%",
            "count": 2,
            "lastTimestamp": "2026-01-01T11:58:00Z",
        },
    ]
    view = rollout_view(OBJ, events, NOW)
    assert "Phase:    RolledBack" in view
    assert "Step:     2/3 (target 25%, pause 5m)" in view
    assert "green 0%  blue 100%" in view
    assert "p99-latency  Fail     0.41   0.31  <= 1.10x blue  240" in view
    assert "2m   Warning  RolledBack  Rolled back at 25% (x2)" in view
    assert view.index("WeightSet") < view.index("Warning")


def test_list_rows() -> None:
    lines = list_rows([OBJ], NOW)
    assert lines[0].split() == ["NAMESPACE", "NAME", "PHASE", "STEP", "GREEN", "AGE"]
    assert lines[1].split() == ["shop", "checkout", "RolledBack", "2/3", "0%", "2h"]
