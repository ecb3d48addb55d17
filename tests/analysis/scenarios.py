"""The fault scenarios of issue 4, one namespace each, all in one backfilled Prometheus.

Green's Deployment name always starts with blue's (``leak`` / ``leak-py312``), so every scenario also
checks that the tracks' pods are kept apart.
"""

from __future__ import annotations

from typing import Any

from tests.analysis.traces import DURATION, MIB, Scenario, Track

BLUE_HASH = "7d9f8c6b5"
GREEN_HASH = "5c8d7f9b6"
GREEN_STARTED = 40 * 60.0


def blue(name: str, **kw: Any) -> Track:
    return Track(deployment=name, hash=BLUE_HASH, pods=3, **kw)


def green(name: str, **kw: Any) -> Track:
    base: dict[str, Any] = {"memory": 250 * MIB, "p99": 0.30, "python": ("3.12.1",), "started": GREEN_STARTED}
    return Track(deployment=f"{name}-py312", hash=GREEN_HASH, pods=2, **{**base, **kw})


def scenario(namespace: str, **green_kw: Any) -> Scenario:
    return Scenario(namespace, blue(namespace), green(namespace, **green_kw))


HEALTHY = Scenario("shop", blue("checkout"), green("checkout"), extra={"gunicorn_worker_restarts_total": 0.0})
SCENARIOS = [
    HEALTHY,
    scenario("leak", leak=40 * MIB / 3600),
    scenario("dbcreep", db_creep=90 / 3600),
    scenario("slow", p99=0.31 * 1.3),
    scenario("errors", spike=(240.0, 0.08), status_class=True),
    scenario("missing", histogram="http_server_request_duration_seconds"),
    scenario("idle", rps=0.0),
    scenario("wrongpy", python=("3.12.1", "3.11.7")),
    scenario("fresh", started=12 * 60.0),
]
BY_NAMESPACE = {s.namespace: s for s in SCENARIOS}
assert max(t.started for s in SCENARIOS for t in (s.blue, s.green)) <= DURATION

DEFAULT_CHECKS: list[dict[str, Any]] = [
    {"name": "p99-latency", "template": "latency", "quantile": 0.99, "maxRatioToBlue": 1.10, "window": "30m"},
    {"name": "errors", "template": "error-rate", "max": 0.01, "minRequests": 200},
    {"name": "memory", "template": "memory", "maxRatioToBlue": 1.30, "maxSlopeOverBlue": "20Mi/h"},
    {"name": "db-connections", "template": "db-connections", "max": 80, "maxSlopeOverBlue": "20/h"},
    {"name": "python", "template": "python-version"},
]


def manifest(s: Scenario, checks: list[dict[str, Any]] | None = None, address: str | None = None) -> dict[str, Any]:
    analysis: dict[str, Any] = {"checks": checks or DEFAULT_CHECKS}
    if address:
        analysis["prometheus"] = {"address": address}
    return {
        "apiVersion": "greenlane.dev/v1alpha1",
        "kind": "BlueGreenRollout",
        "metadata": {"name": s.blue.deployment, "namespace": s.namespace},
        "spec": {
            "blue": {"deployment": s.blue.deployment, "expectPython": "3.11"},
            "green": {"deployment": s.green.deployment, "expectPython": "3.12"},
            "trafficRouting": {"replicas": {}},
            "steps": [{"weight": 25, "pause": "5m"}, {"weight": 100, "pause": "10m"}],
            "analysis": analysis,
        },
    }
