"""The page itself, on a source with nothing in it and text that tries to be markup."""

from __future__ import annotations

import json
import math
from pathlib import Path

from controller.analysis.source import Series
from controller.report import build_report, write_html, write_json
from controller.report.html import render_html
from controller.report.model import EvaluatedCheck, Evaluation, Event, RolloutRun
from controller.report.stats import histogram_quantile
from controller.sandbox.scenarios import build_spec

SPEC = build_spec({"socket": "/tmp/x.sock", "backend": "b", "blueServer": "blue", "greenServer": "green"})
HOSTILE = '<script>alert(1)</script><img src="http://evil.example/x">'


class EmptySource:
    """A Prometheus that knows no series at all."""

    url = "http://prometheus.invalid:9090"

    def instant(self, query: str, at: float) -> list[Series]:
        return []

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        return []


def run() -> RolloutRun:
    checks = (EvaluatedCheck("memory", "Fail", 1e-3, 0.0, "slope <= blue +300.0 MiB/h", HOSTILE),)
    return RolloutRun(
        "checkout",
        "sandbox",
        SPEC,
        1000.0,
        1300.0,
        "RolledBack",
        message=HOSTILE,
        traffic_start=1060.0,
        weights=((1060.0, 10), (1250.0, 0)),
        evaluations=(Evaluation(1200.0, checks),),
        events=(Event(1250.0, "RollingBack", HOSTILE, "Warning"),),
    )


def test_missing_series_are_named_not_shown_as_zero() -> None:
    report = build_report(EmptySource(), run(), 1400.0)
    assert report.headline == ()
    assert any("http_request_duration_seconds_bucket" in n for n in report.notes)
    assert any("process_resident_memory_bytes" in n for n in report.notes)  # the spec's memory source comes first
    page = render_html(report)
    assert "No figures" in page and "no data in this window" not in page  # the charts are images, text is in them
    assert "<script" not in page and 'src="http' not in page
    assert "&lt;script&gt;" in page


def test_json_is_strict_and_html_is_written_atomically(tmp_path: Path) -> None:
    out = tmp_path
    report = build_report(EmptySource(), run(), 1400.0)
    body = json.loads(write_json(report, out / "r.json").read_text())
    assert body["rollout"]["phase"] == "RolledBack" and body["steps"][0]["outcome"] == "rolled back"
    assert body["checks"][2]["verdicts"] == [{"at": 1200.0, "verdict": "Fail"}]
    write_html(report, out / "r.html")
    assert sorted(p.name for p in out.iterdir()) == ["r.html", "r.json"], "no temporary files left behind"


def test_a_histogram_without_finite_buckets_has_no_quantile() -> None:
    assert histogram_quantile(0.5, [(math.inf, 10.0)]).value is None
