"""Detection bench: how small a leak, creep or slowdown the default windows catch, and how often healthy
green is failed. Run from the repository root: ``.venv/bin/python -m tests.bench.detection [SEEDS]``.

Every variant is its own namespace in one backfilled Prometheus; each is judged at the default window of
its template with the README's thresholds. Prints a table; asserts nothing (not a timed test).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.analysis import PrometheusSource, evaluate
from controller.model.resource import BlueGreenRollout
from tests.analysis.prometheus_server import backfill, running
from tests.analysis.scenarios import DEFAULT_CHECKS, blue, green, manifest
from tests.analysis.traces import ANCHOR, MIB, Scenario, render

LEAKS = (0, 5, 10, 15, 20, 25, 30, 40)  # MiB/h over blue
CREEPS = (0, 10, 15, 20, 25, 30, 40)  # connections/h
RATIOS = (1.0, 1.05, 1.10, 1.15, 1.20, 1.25, 1.30)
SWEEPS: dict[str, tuple[tuple[float, ...], str, Callable[[float], dict[str, Any]], dict[str, Any]]] = {
    "leak": (
        LEAKS,
        "MiB/h",
        lambda v: {"leak": v * MIB / 3600, "rps": 0.0},
        {"name": "memory", "template": "memory", "maxSlopeOverBlue": "20Mi/h"},
    ),
    "creep": (
        CREEPS,
        "/h",
        lambda v: {"db_creep": v / 3600, "rps": 0.0},
        {"name": "db-connections", "template": "db-connections", "maxSlopeOverBlue": "20/h"},
    ),
    "ratio": (
        RATIOS,
        "x",
        lambda v: {"p99": 0.31 * v, "memory": 200 * MIB},
        {"name": "p99-latency", "template": "latency", "maxRatioToBlue": 1.10},
    ),
}


def variant(kind: str, value: float, seed: int, green_kw: dict[str, Any]) -> Scenario:
    name = f"b-{kind}-{str(value).replace('.', 'p')}-s{seed}"
    blue_kw = {"rps": 0.0} if green_kw.get("rps") == 0.0 else {}
    return Scenario(name, blue(name, **blue_kw), green(name, **green_kw))


def main(seeds: int) -> None:
    plan = [(kind, v, s) for kind, (values, _, _, _) in SWEEPS.items() for v in values for s in range(seeds)]
    scenarios = [variant(kind, v, s, SWEEPS[kind][2](v)) for kind, v, s in plan]
    healthy = [Scenario(f"b-healthy-s{s}", blue(f"b-healthy-s{s}"), green(f"b-healthy-s{s}")) for s in range(seeds)]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        backfill(
            "".join(render([sc], seed=i + 1).removesuffix("# EOF\n") for i, sc in enumerate(scenarios + healthy))
            + "# EOF\n",
            data,
        )
        print(f"backfilled {len(scenarios) + len(healthy)} namespaces in {time.monotonic() - started:.0f}s")
        with running(data) as url:
            source = PrometheusSource(url)
            report_sweeps(source, plan, scenarios)
            report_healthy(source, healthy)


def verdict(source: PrometheusSource, sc: Scenario, checks: list[dict[str, Any]]) -> tuple[str, float]:
    """The verdict and the judged quantity: green-minus-blue slope per hour, or green/blue ratio."""
    rollout = BlueGreenRollout.model_validate(manifest(sc, checks))
    result = evaluate(rollout.spec, source, namespace=sc.namespace, at=ANCHOR)[0]
    g, b = result.green or 0.0, result.blue or 0.0
    measured = g / b if "Ratio" in str(checks[0]) and b else (g - b) * 3600
    return result.verdict, measured


def report_sweeps(source: PrometheusSource, plan: list[tuple[str, float, int]], scenarios: list[Scenario]) -> None:
    table: dict[tuple[str, float], list[str]] = {}
    measured: dict[tuple[str, float], list[float]] = {}
    for (kind, value, _), sc in zip(plan, scenarios, strict=True):
        outcome, amount = verdict(source, sc, [SWEEPS[kind][3]])
        table.setdefault((kind, value), []).append(outcome)
        measured.setdefault((kind, value), []).append(amount / (MIB if kind == "leak" else 1.0))
    for kind, (values, unit, _, check) in SWEEPS.items():
        print(f"\n{kind}: {check}")
        for value in values:
            got, seen = table[(kind, value)], measured[(kind, value)]
            print(
                f"  {value:>6g}{unit:<6} Fail {got.count('Fail')}/{len(got)}  Inconclusive "
                f"{got.count('Inconclusive')}  measured {min(seen):.2f}..{max(seen):.2f}"
            )


def report_healthy(source: PrometheusSource, healthy: list[Scenario]) -> None:
    fails: list[str] = []
    for sc in healthy:
        rollout = BlueGreenRollout.model_validate(manifest(sc, DEFAULT_CHECKS))
        for r in evaluate(rollout.spec, source, namespace=sc.namespace, at=ANCHOR):
            if r.verdict == "Fail":
                fails.append(f"{sc.namespace}: {r.message}")
    print(
        f"\nhealthy 3.12 green (memory +25%, flat), default checks: {len(fails)} false Fail "
        f"out of {len(healthy) * len(DEFAULT_CHECKS)} check evaluations"
    )
    for line in fails:
        print("  " + line)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
