"""The report opened in real headless Chromium: nothing requested, every chart drawn, both tracks numbered.

The first test proves the recorders catch a page that does reach out (a check that cannot fail is no
check); the second opens a report built from the backfilled Prometheus. The real sandbox rollouts are
opened the same way in ``tests/e2e/test_demo.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.report import build_report, write_html
from controller.report.cluster import run_from_cluster
from controller.report.html import CSP
from tests.analysis.traces import ANCHOR
from tests.conftest import REPO
from tests.report.browser import assert_report_is_sound, leaks, open_report
from tests.report.conftest import promoted_status, rollout_object

pytestmark = [pytest.mark.servers, pytest.mark.prometheus]
ARTIFACTS = REPO / "build" / "artifacts"


def test_the_recorders_catch_a_page_that_reaches_out(tmp_path: Path) -> None:
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!DOCTYPE html><html><head><link rel="stylesheet" href="https://cdn.example.net/x.css"></head><body>'
        '<img src="http://203.0.113.7/pixel.png"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        "</body></html>"
    )
    facts, urls, proxied = open_report(page)
    caught = leaks(urls, proxied, page)
    assert any("cdn.example.net" in u for u in caught) and any("203.0.113.7" in u for u in caught), caught
    assert facts["charts"] == []


def test_a_report_opens_offline_and_draws(tmp_path: Path, source: Any, report_prometheus: str) -> None:
    obj = rollout_object("shop", report_prometheus, promoted_status())
    run = run_from_cluster(obj, [], source, now=ANCHOR)
    page = write_html(build_report(source, run, ANCHOR), tmp_path / "report.html")
    assert f'content="{CSP}"' in page.read_text()
    facts, urls, proxied = open_report(page, ARTIFACTS / "report-synthetic.png")
    assert_report_is_sound(facts, urls, proxied, page)
    assert {c["check"] for c in facts["charts"]} == {
        "weights",
        "p99-latency",
        "errors",
        "memory",
        "db-connections",
        "python",
    }
    assert "3.12 vs 3.11" in facts["summary"]
    assert (ARTIFACTS / "report-synthetic.png").stat().st_size > 50_000
