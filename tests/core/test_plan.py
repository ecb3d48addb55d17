"""``greenlane plan``: the figures for the samples, worked out by hand below each test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.cli import main
from controller.core.plan import plan
from tests.conftest import REPO
from tests.core.builders import make_spec

SAMPLES = REPO / "config" / "samples"


def _plan_json(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["plan", "--json", "-f", str(path)]) == 0
    [rollout] = json.loads(capsys.readouterr().out)
    assert isinstance(rollout, dict)
    return rollout


def test_checkout_sample(capsys: pytest.CaptureFixture[str]) -> None:
    # interval 30s, requiredPasses 2 (default) -> 60s of passes; warm-up 60s means the first counted
    # evaluation is at 60s, the second at 90s: every pause (2m, 5m, 10m, 30m) is longer, so pauses rule.
    got = _plan_json(SAMPLES / "checkout-gateway-api.yaml", capsys)
    assert [s["completesAtSeconds"] for s in got["steps"]] == [120, 420, 1020, 2820]  # type: ignore[attr-defined]
    assert got["promotionAtSeconds"] == 2820  # 47m
    assert got["blueScaledDownAtSeconds"] == 2820 + 3600
    # failureLimit 2: 5m window + 30s lag + 2 x 30s = 6m30s; errors is critical: 5m + 30s + 30s = 6m;
    # memory and db-connections: 30m + 30s + 2 x 30s = 31m30s; python (instant): 30s + 60s.
    worst = {c["name"]: c["worstCaseSeconds"] for c in got["checks"]}  # type: ignore[attr-defined]
    assert worst == {
        "p99-latency": 390,
        "errors": 360,
        "memory": 1890,
        "db-connections": 1890,
        "worker-restarts": 390,
        "python": 90,
    }
    assert got["worstCaseDetectionSeconds"] == 1890


def test_celery_sample(capsys: pytest.CaptureFixture[str]) -> None:
    # interval 1m, requiredPasses 3, warm-up 2m (task-failures is a level check): first counted evaluation
    # at 2m, third at 4m < 10m pause. Steps 10m, 20m, 1h -> 10m, 30m, 1h30m; blue 2h later.
    got = _plan_json(SAMPLES / "celery-worker-replicas.yaml", capsys)
    assert [s["completesAtSeconds"] for s in got["steps"]] == [600, 1800, 5400]  # type: ignore[attr-defined]
    assert got["blueScaledDownAtSeconds"] == 5400 + 7200
    # failureLimit 3: task-failures 10m + 30s + 3m = 13m30s; memory/db 45m + 30s + 3m = 48m30s.
    worst = {c["name"]: c["worstCaseSeconds"] for c in got["checks"]}  # type: ignore[attr-defined]
    assert worst == {"task-failures": 810, "memory": 2910, "db-connections": 2910, "python": 210}


def test_reviews_sample_with_a_manual_gate(capsys: pytest.CaptureFixture[str]) -> None:
    # Step 1: warm-up 90s -> counted evaluations at 90s and 120s, pause 5m rules. Step 2 is manual: promote
    # plus 2 passes (60s) -> 6m at the earliest. Step 3: 30m -> 36m. Blue after the default 1h.
    got = _plan_json(SAMPLES / "reviews-istio.yaml", capsys)
    steps = got["steps"]
    assert [s["completesAtSeconds"] for s in steps] == [300, 360, 2160]  # type: ignore[attr-defined]
    assert [s["limitedBy"] for s in steps] == ["pause", "promote", "pause"]  # type: ignore[attr-defined]
    assert got["manualGates"] == 1
    assert got["blueScaledDownAtSeconds"] == 2160 + 3600
    assert got["worstCaseDetectionSeconds"] == 1890


def test_text_output_for_every_sample(capsys: pytest.CaptureFixture[str], samples: list[Path]) -> None:
    assert main(["plan", *map(str, samples)]) == 0
    out = capsys.readouterr().out
    assert "shop/checkout" in out and "billing/invoice-worker" in out and "catalog/reviews" in out
    assert "promotion: earliest 47m after preflight" in out
    assert "blue scaled down: 1h47m (scaleDownBlueAfter 1h)" in out
    assert "sustained breach -> rollback, worst case: 31m30s (memory)" in out
    assert "promotion: earliest 36m + 1 manual gate(s) after preflight" in out
    assert "     2     50%  manual   1m       6m+        promote" in out
    assert "sustained breach -> rollback, worst case: 48m30s (memory)" in out


def test_warmup_can_outlast_a_short_first_pause() -> None:
    # pause 30s, warm-up 2m, interval 30s, 2 passes: counted evaluations at 2m and 2m30s.
    spec = make_spec(warmup="2m", steps=[{"weight": 10, "pause": "30s"}, {"weight": 100, "pause": "1m"}])
    timeline = plan(spec)
    assert [(s.bake, s.limited_by) for s in timeline.steps] == [(150.0, "warm-up"), (60.0, "pause")]


def test_required_passes_can_outlast_the_pause() -> None:
    spec = make_spec(requiredPasses=4, steps=[{"weight": 10, "pause": "1m"}, {"weight": 100, "pause": "0s"}])
    assert [(s.bake, s.limited_by) for s in plan(spec).steps] == [(120.0, "passes"), (120.0, "passes")]


def test_bad_input_is_a_problem_line_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text((SAMPLES / "checkout-gateway-api.yaml").read_text().replace("weight: 25", "weight: 2"))
    assert main(["plan", "-f", str(path)]) == 1
    captured = capsys.readouterr()
    number = next(n for n, line in enumerate(path.read_text().splitlines(), 1) if "weight: 2," in line)
    problem = "spec.steps[1].weight: weights must not decrease (previous step has 5) (got 2)"
    assert f"{path}:{number} {problem}" in captured.err
    assert "Traceback" not in captured.out + captured.err
    missing = main(["plan", str(tmp_path / "nope.yaml")])
    assert missing == 1
    assert "cannot read" in capsys.readouterr().err


def test_no_files_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan"]) == 2
    assert "give at least one file" in capsys.readouterr().err
