"""A real Prometheus backfilled with the analysis traces (healthy ``shop``, leaking ``leak``) plus the
operator's own series for the healthy rollout, so the report's cluster path finds its weight and verdict
history there, and the leaking one exercises the fallback to Events and status.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from controller.analysis import PrometheusSource
from tests.analysis.prometheus_server import backfill, running
from tests.analysis.scenarios import BY_NAMESPACE, HEALTHY, manifest
from tests.analysis.traces import ANCHOR, Writer, render

TRAFFIC_AT = ANCHOR - 35 * 60
FULL_AT = ANCHOR - 20 * 60
PROMOTED_AT = ANCHOR - 60
CHECKS = ("p99-latency", "errors", "memory", "db-connections", "python")
LEAK = BY_NAMESPACE["leak"]


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def operator_series() -> str:
    """What a scraped operator exports for shop/checkout: green's weight and one verdict per check."""
    w = Writer()
    labels = {"namespace": "shop", "rollout": "checkout"}
    t = TRAFFIC_AT - 120
    while t < ANCHOR:
        weight = 0 if t < TRAFFIC_AT else (25 if t < FULL_AT else 100)
        w.add("greenlane_rollout_green_weight_percent", labels, t, weight)
        if t >= TRAFFIC_AT:
            for check in CHECKS:
                for verdict in ("Pass", "Fail", "Inconclusive"):
                    shown = verdict == ("Inconclusive" if t < TRAFFIC_AT + 60 else "Pass")
                    w.add("greenlane_check_verdict", {**labels, "check": check, "verdict": verdict}, t, int(shown))
        t += 15
    return w.text()


@pytest.fixture(scope="session")
def report_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("report-prometheus")
    traces = render([HEALTHY, LEAK]).removesuffix("# EOF\n")
    backfill(traces + operator_series(), root / "data")
    with running(root / "data") as url:
        yield url


@pytest.fixture
def source(report_prometheus: str) -> Iterator[PrometheusSource]:
    src = PrometheusSource(report_prometheus, timeout=10, attempts=2, backoff=0.05)
    yield src
    src.close()


def rollout_object(namespace: str, address: str | None, status: dict[str, Any]) -> dict[str, Any]:
    scenario = HEALTHY if namespace == "shop" else LEAK
    obj = manifest(scenario, address=address)
    obj["metadata"]["creationTimestamp"] = iso(TRAFFIC_AT - 300)
    obj["status"] = status
    return obj


def promoted_status() -> dict[str, Any]:
    return {
        "phase": "Promoted",
        "message": "Promoted: green serves 100%",
        "currentStep": 1,
        "weight": 100,
        "trafficStartedAt": iso(TRAFFIC_AT),
        "stepStartedAt": iso(FULL_AT),
        "promotedAt": iso(PROMOTED_AT),
    }


def rolled_back_status() -> dict[str, Any]:
    at = ANCHOR - 120
    return {
        "phase": "RolledBack",
        "message": "Rolled back at 25%: memory slope +40.0 MiB/h vs blue +0 B/h; limit +20.0 MiB/h over blue",
        "weight": 0,
        "trafficStartedAt": iso(TRAFFIC_AT),
        "lastEvaluationAt": iso(at - 30),
        "checks": [
            {
                "name": "memory",
                "verdict": "Fail",
                "green": 0.0111,
                "blue": 0.0,
                "threshold": "slope <= blue +20.0 MiB/h",
                "samples": 480,
                "message": "memory slope +40.0 MiB/h vs blue +0 B/h; limit +20.0 MiB/h over blue",
            },
        ],
        "rollback": {
            "reason": "AnalysisFailed",
            "check": "memory",
            "weight": 25,
            "at": iso(at),
            "completedAt": iso(at + 5),
        },
    }


def event(namespace: str, name: str, reason: str, message: str, at: float, type_: str = "Normal") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{reason.lower()}{int(at)}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": "greenlane.dev/v1alpha1",
            "kind": "BlueGreenRollout",
            "name": name,
            "namespace": namespace,
        },
        "reason": reason,
        "message": message,
        "type": type_,
        "firstTimestamp": iso(at),
        "lastTimestamp": iso(at),
        "count": 1,
    }
