"""``greenlane report`` from the user's side: a rollout in the (emulated) cluster, its Events, a real Prometheus.

The healthy rollout's Prometheus also holds the operator's own series (weight and verdict history); the
leaking one's does not, so its report falls back to the Events and the status, and says so.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from controller.cli import main
from tests.analysis.traces import ANCHOR, MIB
from tests.kube.harness import RunningEmulator
from tests.operator.procs import write_kubeconfig
from tests.report.conftest import (
    FULL_AT,
    PROMOTED_AT,
    TRAFFIC_AT,
    event,
    iso,
    promoted_status,
    rolled_back_status,
    rollout_object,
)

pytestmark = pytest.mark.prometheus


def seed(kube: RunningEmulator, namespace: str, address: str | None, status: dict[str, Any]) -> None:
    kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, "namespaces")
    kube.seed(rollout_object(namespace, address, status), "bluegreenrollouts")


def report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kube: RunningEmulator, *args: str
) -> tuple[int, str, str]:
    kubeconfig = write_kubeconfig(kube.url, tmp_path / "kubeconfig")
    code = main(["report", *args, "--kubeconfig", str(kubeconfig)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class Links(HTMLParser):
    """Every URL-bearing attribute of the page (src, href, srcset, action...)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "srcset", "action", "poster", "data")]


def test_report_of_a_promoted_rollout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kube: RunningEmulator, report_prometheus: str
) -> None:
    seed(kube, "shop", report_prometheus, promoted_status())
    kube.seed(event("shop", "checkout", "WeightSet", "Green at 25% verified on the router, step 1/2", TRAFFIC_AT))
    kube.seed(event("shop", "checkout", "Paused", "Paused by alice at step 1/2 (25%)", TRAFFIC_AT + 200))
    html, data = tmp_path / "out" / "report.html", tmp_path / "report.json"
    code, out, err = report(
        tmp_path,
        capsys,
        kube,
        "checkout",
        "-n",
        "shop",
        "-o",
        str(html),
        "--json",
        str(data),
        "--png",
        str(tmp_path / "png"),
        "--markdown",
        str(tmp_path / "report.md"),
    )
    assert code == 0, err
    assert "checkout (shop): Promoted after 2 of 2 steps" in out and f"report: {html}" in out
    page = html.read_text()
    links = Links()
    links.feed(page)
    assert links.urls and all(u.startswith("data:image/svg+xml;base64,") for u in links.urls), links.urls
    assert "default-src 'none'" in page and "<script" not in page
    body = json.loads(data.read_text())
    assert body["window"]["to"] == pytest.approx(PROMOTED_AT)  # promotedAt ends the window
    assert body["window"]["comparedFrom"] == pytest.approx(TRAFFIC_AT)
    assert [(s["weight"], s["outcome"]) for s in body["steps"]] == [(25, "completed"), (100, "promoted")]
    assert body["steps"][0]["bakedSeconds"] == pytest.approx(FULL_AT - TRAFFIC_AT, abs=16)  # operator's 15s samples
    verdicts = {c["name"]: c["verdicts"] for c in body["checks"]}
    assert verdicts["memory"][-1]["verdict"] == "Pass" and len(verdicts["memory"]) > 50  # history from the metrics
    assert any("alice" in e["message"] for e in body["events"]), "commands are marked with their user"
    assert body["pythonVersions"]["green"] and set(body["pythonVersions"]["green"].values()) == {"3.12.1"}
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == sorted(
        ["weights.png"] + [f"check-{c}.png" for c in verdicts]
    )
    assert (tmp_path / "report.md").read_text().startswith("### Migration report: shop/checkout")


def test_report_of_a_rollback_falls_back_to_events_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kube: RunningEmulator, report_prometheus: str
) -> None:
    seed(kube, "leak", report_prometheus, rolled_back_status())
    kube.seed(event("leak", "leak", "WeightSet", "Green at 25% verified on the router, step 1/2 (25%)", TRAFFIC_AT))
    kube.seed(
        event("leak", "leak", "RollingBack", "Setting green to 0% (was 25%): memory slope", ANCHOR - 120, "Warning")
    )
    data = tmp_path / "leak.json"
    code, out, err = report(
        tmp_path, capsys, kube, "leak", "-n", "leak", "-o", str(tmp_path / "leak.html"), "--json", str(data)
    )
    assert code == 0, err
    body = json.loads(data.read_text())
    assert any("greenlane_check_verdict" in n for n in body["notes"])
    assert [(s["weight"], s["outcome"]) for s in body["steps"]] == [(25, "rolled back")]
    trend = next(r for r in body["headline"] if r["key"] == "memory_trend")
    leak_per_hour = trend["change"]["value"] * 3600 / MIB
    assert 25 < leak_per_hour < 60, leak_per_hour  # the traces leak 40 MiB/h over blue
    assert "growing" in out


def test_backtest_window_from_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kube: RunningEmulator, report_prometheus: str
) -> None:
    seed(kube, "shop", report_prometheus, promoted_status())
    data = tmp_path / "b.json"
    code, _, err = report(
        tmp_path,
        capsys,
        kube,
        "checkout",
        "-n",
        "shop",
        "--from",
        iso(FULL_AT),
        "--to",
        str(PROMOTED_AT - 300),
        "-o",
        str(tmp_path / "b.html"),
        "--json",
        str(data),
    )
    assert code == 0, err
    window = json.loads(data.read_text())["window"]
    assert (window["from"], window["to"]) == (pytest.approx(FULL_AT), pytest.approx(PROMOTED_AT - 300))


@pytest.mark.parametrize(
    ("args", "status", "expected", "code"),
    [
        (["missing", "-n", "shop"], None, r"rollout shop/missing not found", 1),
        (["checkout", "-n", "shop", "--from", "yesterday"], {}, r"invalid time 'yesterday'", 2),
        (["checkout", "-n", "shop", "--from", "2000", "--to", "1000"], {}, r"empty report window", 2),
        (["checkout", "-n", "shop", "--prometheus", "http://127.0.0.1:9"], "promoted", r"cannot connect", 1),
    ],
)
def test_errors_are_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kube: RunningEmulator,
    report_prometheus: str,
    args: list[str],
    status: dict[str, Any] | str | None,
    expected: str,
    code: int,
) -> None:
    if isinstance(status, dict) or status == "promoted":
        seed(kube, "shop", report_prometheus, status if isinstance(status, dict) else promoted_status())
    else:
        kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}, "namespaces")
    got, out, err = report(tmp_path, capsys, kube, *args, "-o", str(tmp_path / "x.html"))
    assert got == code, (out, err)
    assert re.search(expected, err), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.html").exists()


def test_an_unwritable_output_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kube: RunningEmulator, report_prometheus: str
) -> None:
    seed(kube, "shop", report_prometheus, promoted_status())
    code, _, err = report(tmp_path, capsys, kube, "checkout", "-n", "shop", "-o", str(tmp_path))
    assert code == 1 and err.startswith("greenlane report: cannot write the report") and err.count("\n") == 1, err
