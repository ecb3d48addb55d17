"""The demo's scenarios: default green faults, the rollout spec the core drives, and the expected outcome.

Specs are built in code from the running sandbox (the HAProxy block needs its socket path). Fast mode
judges levels only: the analysis layer refuses a trend over less than five minutes of data
(``controller.analysis.aggregate.MIN_TREND_SPAN``), so ``maxSlopeOverBlue`` would hold a two-minute demo
as Inconclusive; leaks are caught by their level against blue instead (a leak raises the window average
within seconds). Realistic mode adds the slope checks with windows long enough for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from controller.model.spec import RolloutSpec
from controller.sandbox.app.faults import FaultSettings

Outcome = Literal["promoted", "rolled_back", "paused", "aborted"]
Speed = Literal["fast", "realistic"]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    faults: FaultSettings = field(default_factory=FaultSettings)
    expect: Outcome = "promoted"
    failed_check: str | None = None  # the check expected to roll back
    wrong_python: bool = False  # green runs blue's interpreter
    outage_at_step: int | None = None  # stop Prometheus once this step's weight is verified
    outage_s: float = 15.0


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("healthy", "green behaves like blue: every step passes and green is promoted"),
        Scenario(
            "error-spike",
            "green fails 30% of its requests once it takes traffic",
            FaultSettings(error_rate=0.3),
            "rolled_back",
            "error-rate",
        ),
        Scenario(
            "latency-regression",
            "green adds 250 ms to every request",
            FaultSettings(extra_latency_ms=250),
            "rolled_back",
            "latency",
        ),
        Scenario(
            "memory-leak",
            "green leaks 30 MB/min of RSS: its memory grows steadily while blue's stays flat",
            FaultSettings(memory_leak_mb_per_min=30),
            "rolled_back",
            "memory",
        ),
        Scenario(
            "startup-memory",
            "green (3.12-like) holds 30 MB more than blue from the start, flat: must promote",
            FaultSettings(startup_memory_mb=30),
        ),
        Scenario(
            "db-connection-leak",
            "green opens and never closes 60 PostgreSQL connections a minute",
            FaultSettings(db_leak_per_min=60),
            "rolled_back",
            "db-connections",
        ),
        Scenario(
            "prometheus-outage",
            "Prometheus stops for 15 s during the second step: the rollout holds, then completes",
            outage_at_step=1,
        ),
        Scenario(
            "wrong-python",
            "green actually runs Python 3.11: preflight never sends it traffic",
            expect="paused",
            wrong_python=True,
        ),
    )
}


def build_spec(router_spec: dict[str, str], speed: Speed = "fast") -> RolloutSpec:
    """The rollout the demo drives: blue ``checkout`` on 3.11, green ``checkout-py312`` expecting 3.12."""
    fast = speed == "fast"
    level_window = "60s" if fast else "5m"
    trend_window = "60s" if fast else "10m"
    memory: dict[str, Any] = {
        "name": "memory",
        "template": "memory",
        "source": "process",
        "window": trend_window,
        "maxSlopeOverBlue": "5Mi/min" if fast else "50Mi/h",
        "maxRatioToBlue": 3.0 if fast else 2.0,
    }
    db: dict[str, Any] = {
        "name": "db-connections",
        "template": "db-connections",
        "source": "server",
        "window": trend_window,
        "maxSlopeOverBlue": "10/min" if fast else "20/h",
    }
    if not fast:
        db["maxIncreaseOverBlue"] = 10
    pause = "15s" if fast else "2m"
    wire = {
        "blue": {"deployment": "checkout", "expectPython": "3.11"},
        "green": {"deployment": "checkout-py312", "expectPython": "3.12"},
        "trafficRouting": {"haproxy": router_spec},
        "steps": [{"weight": w, "pause": pause} for w in (10, 25, 50, 100)],
        "analysis": {
            "interval": "3s" if fast else "30s",
            "warmup": "5s" if fast else "60s",
            "failureLimit": 2,
            "requiredPasses": 2,
            "maxHold": "3m" if fast else "10m",  # fast: 3x what step 1 holds for its trend (warm-up, window, passes)
            "checks": [
                {
                    "name": "latency",
                    "template": "latency",
                    "quantile": 0.9,
                    "window": level_window,
                    "minRequests": 10,
                    "maxRatioToBlue": 2.0,
                },
                {
                    "name": "error-rate",
                    "template": "error-rate",
                    "window": level_window,
                    "minRequests": 10,
                    "max": 0.05,
                    "maxIncreaseOverBlue": 0.02,
                },
                memory,
                db,
                {"name": "python-version", "template": "python-version"},
            ],
        },
        "promotion": {"scaleDownBlueAfter": "1h"},
    }
    return RolloutSpec.model_validate(wire)
