"""The Grafana dashboard tells the truth: every query parses (promtool), uses only metrics the operator
exports, and, run against a real Prometheus holding an hour of the operator's own exposition, shows the
first rollback, levels and trends apart in their units, and the verdict of every check."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from controller.kube.metrics import OperatorMetrics
from controller.model.status import CheckStatus, RollbackRecord, RolloutStatus, TrackValues
from tests.analysis.prometheus_server import backfill, require, running
from tests.analysis.traces import Writer
from tests.ship.k8s_tools import REPO
from tests.ship.render import run

DASHBOARD = REPO / "config" / "grafana" / "greenlane-rollouts.json"
VARIABLES = {"$namespace": ".*", "$rollout": ".*", "$check": ".*", "$__range": "1h", "$__rate_interval": "5m"}
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
STEP = 30
MINUTES = 60
ROLLBACK_AT = 40  # minutes: the rollout's first rollback


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panels() -> list[dict[str, Any]]:
    return [p for p in load()["panels"] if p["type"] != "row"]


def substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    found = re.fullmatch(r"label_values\((.*),\s*\w+\)", expr.strip(), re.S)
    return found.group(1) if found else expr


def expressions() -> dict[str, str]:
    data = load()
    out = {f"{p['title']}/{t['refId']}": t["expr"] for p in panels() for t in p["targets"]}
    out.update({f"annotation {a['name']}": a["expr"] for a in data["annotations"]["list"]})
    out.update(
        {f"variable {v['name']}": v["query"]["query"] for v in data["templating"]["list"] if v["type"] == "query"}
    )
    return {k: substitute(v) for k, v in out.items()}


def test_every_expression_parses_with_promtool(tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:expr_{i}", "expr": e} for i, e in enumerate(expressions().values())],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    out = run([require("promtool"), "check", "rules", str(path)])
    assert f"SUCCESS: {len(expressions())} rules found" in out


def test_panels_have_units_and_verdicts_have_colours() -> None:
    for panel in panels():
        if panel["type"] in ("timeseries", "stat"):
            assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']} has no unit"
    verdicts = next(p for p in panels() if p["title"] == "Verdicts")
    (mapping,) = verdicts["fieldConfig"]["defaults"]["mappings"]
    shown = {v["text"]: v["color"] for v in mapping["options"].values()}
    assert shown == {"Pass": "green", "Inconclusive": "yellow", "Fail": "red"}
    exprs = " ".join(expressions().values())
    assert "greenlane_check_value" not in exprs, "level and slope are separate series"
    assert "greenlane_rollout_step" in exprs


def history() -> str:
    """An hour of what /metrics showed: a rollout baking at step 2, then its first rollback (memory leak)."""
    metrics, writer = OperatorMetrics(), Writer()
    for i in range(MINUTES * 60 // STEP + 1):
        now = T0 + timedelta(seconds=i * STEP)
        metrics.set_leader(True)
        metrics.observe_status("shop", "checkout", _status(now))
        for family in text_string_to_metric_families(metrics.exposition().decode()):
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    writer.add(sample.name, dict(sample.labels), now.timestamp(), sample.value)
    return writer.text()


def _status(now: datetime) -> RolloutStatus:
    minutes = (now - T0).total_seconds() / 60
    leaking = min(minutes, ROLLBACK_AT) * 60 * 500.0
    memory = CheckStatus(
        name="memory",
        verdict="Fail" if minutes >= ROLLBACK_AT - 2 else "Pass",
        green=500.0,
        blue=0.0,
        unit="bytes",
        measure="slope",
        level=TrackValues(green=70_000_000.0 + leaking, blue=40_000_000.0),
        slope=TrackValues(green=500.0, blue=0.0),
        threshold="slope <= blue +1.0 MiB/h",
    )
    latency = CheckStatus(name="p99-latency", verdict="Pass", green=0.21, blue=0.2, unit="seconds")
    errors = CheckStatus(name="errors", verdict="Pass", green=0.002, unit="ratio", level=TrackValues(green=0.002))
    connections = CheckStatus(
        name="db-connections",
        verdict="Inconclusive",
        unit="count",
        measure="slope",
        level=TrackValues(green=12.0, blue=11.0),
        slope=TrackValues(green=0.001, blue=0.001),
    )
    base = RolloutStatus(
        phase="Progressing",
        current_step=1,
        weight=25,
        step_started_at=T0,
        checks=[latency, errors, memory, connections],
    )
    if minutes < ROLLBACK_AT:
        return base
    done = T0 + timedelta(minutes=ROLLBACK_AT)
    record = RollbackRecord(reason="AnalysisFailed", check="memory", weight=25, at=done, completed_at=done)
    return base.model_copy(update={"phase": "RolledBack", "weight": 0, "rollback": record})


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("dashboard-prometheus")
    backfill(history(), root / "data")
    with running(root / "data") as url:
        yield url


def query(url: str, expr: str) -> list[dict[str, Any]]:
    at = (T0 + timedelta(minutes=MINUTES)).timestamp()
    answer = requests.get(f"{url}/api/v1/query", params={"query": expr, "time": str(at)}, timeout=30).json()
    assert answer["status"] == "success", (expr, answer)
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def panel_values(url: str, title: str) -> dict[str, float]:
    panel = next(p for p in panels() if p["title"] == title)
    out: dict[str, float] = {}
    for target in panel["targets"]:
        for series in query(url, substitute(target["expr"])):
            out[json.dumps(series["metric"], sort_keys=True)] = float(series["value"][1])
    return out


@pytest.mark.prometheus
def test_every_panel_shows_data_from_the_operators_exposition(prometheus: str) -> None:
    quiet = {"Errors", "Reconcile duration"}  # nothing failed and nothing reconciled in this history
    for panel in panels():
        if panel["title"] in quiet:
            continue
        assert panel_values(prometheus, panel["title"]), f"panel {panel['title']!r} shows nothing"


@pytest.mark.prometheus
def test_the_first_rollback_and_values_in_their_units(prometheus: str) -> None:
    (rollbacks,) = panel_values(prometheus, "Rollbacks in range").values()
    assert rollbacks >= 0.9, "the rollout's first rollback counts"
    (phase,) = panel_values(prometheus, "Phase").values()
    assert phase == 5, "RolledBack's code in the value mapping"
    panel = next(p for p in panels() if p["title"] == "Phase")
    assert panel["fieldConfig"]["defaults"]["mappings"][0]["options"]["5"]["text"] == "RolledBack"
    memory = panel_values(prometheus, "Memory: level")
    assert {json.loads(k)["track"] for k in memory} == {"green", "blue"}
    assert all(3e7 < v < 2e8 for v in memory.values()), "bytes, not bytes per second"
    trend = panel_values(prometheus, "Memory trend (per hour)")
    green = next(v for k, v in trend.items() if json.loads(k)["track"] == "green")
    assert green == pytest.approx(500.0 * 3600), "per hour"
    verdicts = {json.loads(k)["check"]: v for k, v in panel_values(prometheus, "Verdicts").items()}
    assert verdicts == {"memory": 3, "p99-latency": 1, "errors": 1, "db-connections": 2}
    (step,) = panel_values(prometheus, "Step").values()
    assert step == 2, "1-based"
    annotation = load()["annotations"]["list"][0]
    rollback_at = (T0 + timedelta(minutes=ROLLBACK_AT + 1)).timestamp()
    answer = requests.get(
        f"{prometheus}/api/v1/query",
        params={"query": substitute(annotation["expr"]), "time": str(rollback_at)},
        timeout=30,
    ).json()
    (marker,) = answer["data"]["result"]
    assert marker["metric"]["reason"] == "AnalysisFailed" and marker["metric"]["check"] == "memory"
