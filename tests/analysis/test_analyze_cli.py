"""``greenlane analyze`` and ``greenlane templates`` from the user's side: exit codes, text and JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.analysis import PrometheusSource, evaluate
from controller.cli import main
from controller.core.judging import Judging
from controller.model.resource import BlueGreenRollout
from tests.analysis.scenarios import BY_NAMESPACE, manifest
from tests.analysis.traces import ANCHOR
from tests.conftest import REPO

pytestmark = pytest.mark.prometheus


def analyze(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], namespace: str, *extra: str, url: str | None = None
) -> tuple[int, str, str]:
    path = tmp_path / f"{namespace}.yaml"
    path.write_text(yaml.safe_dump(manifest(BY_NAMESPACE[namespace], address=url)))
    code = main(["analyze", "-f", str(path), "--at", str(ANCHOR), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def as_json(out: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(out)
    assert set(document) == {"verdict", "judgement", "at", "checks"}
    for check in document["checks"]:
        assert {"name", "verdict", "green", "blue", "threshold", "samples", "message"} <= set(check)
        assert {"blueSamples", "estimate", "low", "high", "confidence", "needs", "needsUnit", "baseline"} <= set(check)
    return document


@pytest.mark.parametrize(
    "case",
    [
        ("shop", 0, "Pass"),
        ("leak", 1, "Fail"),
        ("dbcreep", 1, "Fail"),
        ("slow", 1, "Fail"),
        ("errors", 1, "Fail"),
        ("missing", 1, "Fail"),
        ("wrongpy", 1, "Fail"),
        ("idle", 3, "Inconclusive"),
    ],
    ids=lambda c: c[0],
)
def test_exit_code_and_json_per_scenario(
    prometheus_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: tuple[str, int, str]
) -> None:
    namespace, code, verdict = case
    got, out, err = analyze(tmp_path, capsys, namespace, "--json", url=prometheus_url)
    assert got == code, out + err
    document = as_json(out)
    assert document["verdict"] == verdict
    assert document["at"] == ANCHOR
    assert [c["name"] for c in document["checks"]] == ["p99-latency", "errors", "memory", "db-connections", "python"]


def test_text_output_and_rfc3339_time(prometheus_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    at = datetime.fromtimestamp(ANCHOR, UTC).isoformat().replace("+00:00", "Z")
    path = tmp_path / "leak.yaml"
    path.write_text(yaml.safe_dump(manifest(BY_NAMESPACE["leak"])))
    code = main(["analyze", "-f", str(path), "--prometheus", prometheus_url, "--at", at])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL         memory slope +" in out
    assert out.strip().splitlines()[-1].startswith("verdict: Fail") and out.strip().endswith("(fail: memory)")


def test_sample_manifest_passes_against_healthy_traces(prometheus_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Thirty minutes into a step (``--step-started``) the sample's checks have the evidence to pass."""
    sample = REPO / "config" / "samples" / "checkout-gateway-api.yaml"
    args = ["--prometheus", prometheus_url, "--at", str(ANCHOR), "--step-started", str(ANCHOR - 1800), "--json"]
    code = main(["analyze", "-f", str(sample), *args])
    document = as_json(capsys.readouterr().out)
    assert code == 0, document
    assert {c["name"]: c["verdict"] for c in document["checks"]}["worker-restarts"] == "Pass"


def test_unreachable_prometheus_is_inconclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.analysis.prometheus_server import free_port

    code, out, _ = analyze(tmp_path, capsys, "shop", "--json", url=f"http://127.0.0.1:{free_port()}")
    document = as_json(out)
    assert code == 3 and document["verdict"] == "Inconclusive"
    assert all(c["outage"] for c in document["checks"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--at", "yesterday"], "invalid time"),
        (["--at", "2023-11-14T22:13:20"], "UTC offset"),
        (["--green-pods", "("], "does not compile"),
        (["--green-pods", ".*"], "matches (nearly) every pod"),
        (["--namespace", "Bad_NS"], "not a DNS-1123 label"),
        (["--header", "novalue"], "NAME=VALUE"),
    ],
)
def test_bad_input_exits_2_without_traceback(
    prometheus_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, out, err = analyze(tmp_path, capsys, "shop", *args, url=prometheus_url)
    assert code == 2
    assert needle in err and "Traceback" not in out + err


def test_missing_file_and_address_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "-f", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    code, _, err = analyze(tmp_path, capsys, "shop")
    assert code == 2 and "no Prometheus address" in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["analyze"])
    assert exc.value.code == 2


def test_templates_prints_promql_and_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["templates"]) == 0
    out = capsys.readouterr().out
    for needle in (
        "sum by (le) (increase(http_request_duration_seconds_bucket{",
        "http_requests_total{namespace,pod,status}",
        "container_memory_working_set_bytes",
        "process_resident_memory_bytes",
        'greenlane_pg_connections_count{application_name="{{ deployment }}"}',
        "db_client_connections_usage",
        "python_info{namespace,pod,version,major,minor}",
    ):
        assert needle in out
    assert main(["templates", "nosuch"]) == 2


def test_postgres_query_file_defines_the_series_the_template_reads() -> None:
    queries = yaml.safe_load((REPO / "config" / "prometheus" / "postgres-exporter-queries.yaml").read_text())
    ((namespace, spec),) = queries.items()
    metrics = {name: item["usage"] for entry in spec["metrics"] for name, item in entry.items()}
    assert f"{namespace}_count" == "greenlane_pg_connections_count"
    assert metrics == {"application_name": "LABEL", "count": "GAUGE"}
    assert "pg_stat_activity" in spec["query"] and "application_name" in spec["query"]


def _with_status(tmp_path: Path, namespace: str, status: dict[str, Any], url: str) -> Path:
    document = manifest(BY_NAMESPACE[namespace], address=url)
    document["status"] = status
    path = tmp_path / f"{namespace}-status.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def test_at_100_percent_relative_checks_use_the_stored_blue_baseline(
    prometheus_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """analyze with the rollout's status judges as the operator did: blue's window kept before the cutover."""
    rollout = BlueGreenRollout.model_validate(manifest(BY_NAMESPACE["shop"]))
    source = PrometheusSource(prometheus_url)
    before = ANCHOR - 1200
    kept = [
        r.baseline_candidate
        for r in evaluate(rollout.spec, source, namespace="shop", at=before, judging=Judging(green_weight=50))
        if r.baseline_candidate is not None
    ]
    assert {b.check for b in kept} == {"p99-latency", "errors", "memory", "db-connections"}
    status = {
        "phase": "Progressing",
        "currentStep": 1,
        "weight": 100,
        "stepStartedAt": _iso(ANCHOR - 1100),
        "trafficStartedAt": _iso(ANCHOR - 2400),
        "baselines": [b.to_wire() for b in kept],
    }
    path = _with_status(tmp_path, "shop", status, prometheus_url)
    assert main(["analyze", "-f", str(path), "--at", str(ANCHOR), "--json"]) == 0
    checks = {c["name"]: c for c in as_json(capsys.readouterr().out)["checks"]}
    latency = checks["p99-latency"]
    assert latency["baseline"].startswith("its ") and "at green 50%, before the cutover" in latency["baseline"]
    assert "blue from its" in latency["message"] and latency["verdict"] == "Pass"
    assert latency["blueSamples"] == round(kept[0].requests or 0)


def test_without_a_baseline_blue_at_zero_traffic_is_inconclusive_and_says_why(
    prometheus_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = {"phase": "Progressing", "currentStep": 1, "weight": 100, "stepStartedAt": _iso(ANCHOR - 1100)}
    path = _with_status(tmp_path, "idle", status, prometheus_url)
    assert main(["analyze", "-f", str(path), "--at", str(ANCHOR), "--json"]) in (1, 3)
    memory = {c["name"]: c for c in as_json(capsys.readouterr().out)["checks"]}["memory"]
    assert "no baseline was kept before the cutover" in memory["message"]


def test_during_warm_up_the_core_sets_level_checks_aside(
    prometheus_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = {
        "phase": "Progressing",
        "weight": 25,
        "stepStartedAt": _iso(ANCHOR - 1800),
        "trafficStartedAt": _iso(ANCHOR - 30),
    }
    path = _with_status(tmp_path, "slow", status, prometheus_url)
    assert main(["analyze", "-f", str(path), "--at", str(ANCHOR), "--json", "--warmup-until", str(ANCHOR - 1800)]) == 1
    assert as_json(capsys.readouterr().out)["judgement"] == "fail"  # flags override the status' warm-up
    assert main(["analyze", "-f", str(path), "--at", str(ANCHOR), "--json"]) == 3
    document = as_json(capsys.readouterr().out)
    assert document["judgement"] in ("warmup", "inconclusive")
