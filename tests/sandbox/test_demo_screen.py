"""What ``greenlane demo`` shows, without servers: the summary, the live and plain displays, the texts for
missing values, where log lines go, and the load's counts."""

from __future__ import annotations

import http.server
import io
import itertools
import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from rich.console import Console

from controller.cli import main
from controller.cli.demo import LiveDisplay, PlainDisplay, _sandbox_logs, load_line, show, summary
from controller.cli.view import Snapshot, check_values
from controller.model.spec import RolloutSpec
from controller.model.status import CheckStatus, RolloutStatus, TrackValues
from controller.sandbox.demo import DemoResult, load_figures
from controller.sandbox.display import (
    ABSOLUTE_LIMIT,
    NO_DATA_YET,
    NO_TREND_YET,
    PROMETHEUS_DOWN,
    EventRecord,
    Frame,
    shown,
)
from controller.sandbox.loadgen import DEPLOYMENT_HEADER, LoadGenerator, LoadStats
from controller.sandbox.logsink import LogSink
from controller.sandbox.scenarios import build_spec
from tests.cli.helpers import screen
from tests.sandbox.helpers import wait_until

ROUTER = {"socket": "/tmp/x.sock", "backend": "b", "blueServer": "blue", "greenServer": "green"}
SPEC = build_spec(ROUTER)
MIB = 2**20
VERSIONS = ("3.12.1", "3.11.7")
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
BARE_DASH = re.compile(r"(^|\s)-(\s|$)")
REPRS = ("LoadStats(", "Counter(", "CheckStatus(", "TrackValues(")


def check(name: str, verdict: str = "Pass", **values: Any) -> dict[str, Any]:
    return {"name": name, "verdict": verdict, "threshold": values.pop("threshold", ""), "message": "", **values}


def pair(green: float | None, blue: float | None) -> dict[str, float | None]:
    return {"green": green, "blue": blue}


HEALTHY_CHECKS = [
    check("latency", green=0.006, blue=0.005, unit="seconds", level=pair(0.006, 0.005), threshold="<= 2.00x blue"),
    check("error-rate", green=0.0, unit="ratio", level=pair(0.0, 0.001), threshold="<= 5%"),
    check(
        "memory",
        green=68.6 * MIB,
        blue=38.3 * MIB,
        unit="bytes",
        level=pair(68.6 * MIB, 38.3 * MIB),
        slope=pair(0.0, 0.0),
        threshold="<= 3.00x blue",
    ),
    check("db-connections", green=0.0, blue=0.0, unit="count", measure="slope", level=pair(2, 2), slope=pair(0, 0)),
    check("python-version", green=0.0, samples=1, threshold="every pod on 3.12"),
]
AT_100 = [  # at 100% blue serves nothing: the traffic checks cannot compare, the summary keeps the last values
    check("latency", "Inconclusive"),
    check("error-rate", "Inconclusive"),
    *HEALTHY_CHECKS[2:],
]
LOAD = {
    "requests": 2311,
    "errors": 10,
    "seconds": 115.55,
    "not_sent": 0,
    "blue": {"requests": 2100, "errors": 0},
    "green": {"requests": 211, "errors": 10},
    "unanswered": {"requests": 0, "errors": 0},
}


def result(**changes: Any) -> DemoResult:
    base = DemoResult(
        "healthy",
        "promoted",
        None,
        "Promoted: green at 100% verified",
        VERSIONS[1],
        VERSIONS[0],
        weights=[(1.0, 0), (10.0, 10), (40.0, 25), (70.0, 50), (100.0, 100)],
        evaluations=[{"at": 50.0, "step": 1, "weight": 25, "checks": HEALTHY_CHECKS}, {"at": 110.0, "checks": AT_100}],
        started_at=0.0,
        finished_at=125.0,
        sandbox_startup_s=1.9,
        spec=SPEC.to_wire(),
        report="build/report/demo-healthy.html",
        headline="3.12 vs 3.11: p50 -3.1% [-9.0%, +2.8%], p99 +0.4% [-8.0%, +9.9%], memory +79.1% (flat).",
        load=LOAD,
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def rendered(parts: list[Any]) -> list[str]:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    for part in parts:
        show(console, part)
    return [line.rstrip() for line in console.file.getvalue().splitlines()]  # type: ignore[attr-defined]


def test_healthy_summary_is_one_screen_in_units_with_blue_everywhere_and_the_report_last() -> None:
    lines = rendered(summary(result()))
    text = "\n".join(lines)
    assert len(lines) <= 20, text
    assert lines[1] == "outcome: promoted: green checkout-py312 on Python 3.12.1 serves 100%, after 4 steps"
    assert lines[2].startswith("3.12 vs 3.11: p50 -3.1%"), "the report's headline, as the report has it"
    assert lines[-1] == "report: build/report/demo-healthy.html"
    assert re.search(r"^CHECK\s+VERDICT\s+GREEN \(3\.12\.1\)\s+BLUE \(3\.11\.7\)\s+THRESHOLD$", text, re.M), text
    assert re.search(r"^latency\s+Pass\s+6ms\s+5ms\s+<= 2\.00x blue$", text, re.M), "last values that compared"
    assert re.search(r"^error-rate\s+Pass\s+0%\s+0\.1%\s+<= 5%$", text, re.M), "blue's level, not a dash"
    assert re.search(r"^memory\s+Pass\s+68\.6 MiB\s+38\.3 MiB\s+<= 3\.00x blue$", text, re.M), text
    assert re.search(r"^\s+\+0 B/h\s+\+0 B/h$", text, re.M), "the trend under the level"
    assert re.search(r"^python-version\s+Pass\s+3\.12\.1\s+3\.11\.7\s+every pod on 3\.12$", text, re.M), text
    assert "load: 2,311 requests at 20.0 req/s, 0.43% errors (blue 0.00% of 2,100, green 4.7% of 211)" in lines
    assert "time: 2m5s to the outcome, after a 1.9s sandbox start-up" in lines
    assert not any(BARE_DASH.search(line) or any(r in line for r in REPRS) for line in lines), text
    assert "fault to rollback" not in text


def test_rollback_summary_names_the_failing_check_with_both_tracks_and_the_fault_timing() -> None:
    failing = check(
        "memory",
        "Fail",
        green=524288.0,
        blue=0.0,
        unit="bytes",
        measure="slope",
        level=pair(56.6 * MIB, 40.0 * MIB),
        slope=pair(524288.0, 0.0),
        threshold="slope <= blue +300.0 MiB/h",
    )
    rolled = result(
        scenario="memory-leak",
        outcome="rolled_back",
        failed_check="memory",
        reason="Rolled back at 10%: memory slope +1.8 GiB/h vs blue +0 B/h",
        weights=[(1.0, 0), (10.0, 10), (73.0, 0)],
        evaluations=[{"at": 70.0, "checks": [*HEALTHY_CHECKS[:2], failing]}],
        fault_started_at=10.2,
        rolled_back_at=73.0,
        report=None,
        report_error="Prometheus at http://127.0.0.1:9 did not answer",
    )
    lines = rendered(summary(rolled))
    assert lines[1] == (
        "outcome: rolled back at 10%: memory failed, green 56.6 MiB +1.8 GiB/h, blue 40.0 MiB +0 B/h, "
        "threshold slope <= blue +300.0 MiB/h"
    )
    assert "fault to rollback: 62.8s" in lines
    assert lines[-1] == "report: not written (Prometheus at http://127.0.0.1:9 did not answer)"
    assert not any(BARE_DASH.search(line) for line in lines), "\n".join(lines)


def test_a_run_held_before_any_traffic_still_summarises() -> None:
    held = result(
        scenario="wrong-python",
        outcome="paused",
        reason="held in Pending: green pods run Python 3.11.7, expected 3.12",
        evaluations=[],
        weights=[(1.0, 0)],
        load={**LOAD, "green": {"requests": 0, "errors": 0}, "not_sent": 3, "unanswered": {"requests": 2}},
        headline=None,
    )
    lines = rendered(summary(held))
    assert "checks: none evaluated, green never took traffic" in lines and not any("CHECK" in x for x in lines)
    assert lines[1] == "outcome: held: in Pending: green pods run Python 3.11.7, expected 3.12"
    load = next(line for line in lines if line.startswith("load: "))
    assert "green served none" in load and "2 answered by no app" in load and "3 not sent" in load
    assert lines[-1].startswith("report: ")


def test_load_line_needs_requests() -> None:
    assert load_line({}) is None
    assert load_line({"requests": 5, "errors": 0, "seconds": 0}) == (
        "load: 5 requests, 0.00% errors (blue served none, green served none)"
    )


def status_check(**fields: Any) -> CheckStatus:
    return CheckStatus.model_validate({"name": "memory", "verdict": "Pass", "unit": "bytes", **fields})


def cells(spec: RolloutSpec, checks: list[CheckStatus]) -> list[tuple[str, str]]:
    shown_checks, texts = shown(spec, checks, VERSIONS)
    snap = Snapshot.from_models("sandbox", "checkout", spec, RolloutStatus(checks=shown_checks), NOW, value_text=texts)
    return [check_values(snap, c) for c in snap.status.checks]


def test_missing_values_say_why() -> None:
    wire = SPEC.to_wire()
    for c in wire["analysis"]["checks"]:
        if c["name"] == "error-rate":
            del c["maxIncreaseOverBlue"]  # an absolute limit only: analysis measures no blue
    absolute = RolloutSpec.model_validate(wire)
    error_rate = CheckStatus(name="error-rate", verdict="Pass", green=0.01, unit="ratio")
    assert cells(absolute, [error_rate]) == [("1%", ABSOLUTE_LIMIT)]
    waiting = status_check(verdict="Inconclusive")
    assert cells(SPEC, [waiting]) == [(NO_DATA_YET, NO_DATA_YET)]
    outage = status_check(verdict="Inconclusive", outage=True)
    assert cells(SPEC, [outage]) == [(PROMETHEUS_DOWN, PROMETHEUS_DOWN)]
    trend = status_check(verdict="Inconclusive", level=TrackValues(green=40 * MIB, blue=38 * MIB), slope=TrackValues())
    assert cells(SPEC, [trend]) == [(f"40.0 MiB\n{NO_TREND_YET}", f"38.0 MiB\n{NO_TREND_YET}")]
    python = CheckStatus(name="python-version", verdict="Pass", green=0.0)
    assert cells(SPEC, [python]) == [VERSIONS]
    not_reported = CheckStatus(name="python-version", verdict="Inconclusive")
    assert cells(SPEC, [not_reported]) == [(NO_DATA_YET, NO_DATA_YET)]


@pytest.mark.parametrize("name", ["latency", "memory", "db-connections", "python-version", "custom"])
def test_no_combination_of_missing_values_shows_a_bare_dash(name: str) -> None:
    """Every track's level, slope and deciding value present or missing, every verdict, with or without outage."""
    for present in itertools.product([False, True], repeat=6):
        g, b, lg, lb, sg, sb = (1.5 if p else None for p in present)
        for verdict, outage in (("Pass", False), ("Fail", False), ("Inconclusive", False), ("Inconclusive", True)):
            c = CheckStatus.model_validate(
                {
                    "name": name,
                    "verdict": verdict,
                    "green": g,
                    "blue": b,
                    "outage": outage,
                    "level": None if lg is None and lb is None else {"green": lg, "blue": lb},
                    "slope": None if sg is None and sb is None else {"green": sg, "blue": sb},
                }
            )
            for cell in cells(SPEC, [c])[0]:
                assert cell and all(part.strip() not in ("", "-") for part in cell.split("\n")), (c, cell)


def frame(events: tuple[EventRecord, ...] = (), weight: int = 10, now: datetime = NOW) -> Frame:
    checks, texts = shown(SPEC, [CheckStatus.model_validate(c) for c in HEALTHY_CHECKS], VERSIONS)
    status = RolloutStatus(phase="Progressing", weight=weight, checks=checks)
    return Frame("sandbox", "checkout", SPEC, status, now, events, texts)


EVENT = EventRecord(NOW.timestamp(), "Normal", "WeightSet", "Green at 10% verified on the router")


def test_plain_display_prints_only_changes_each_with_its_time() -> None:
    lines: list[str] = []
    plain = PlainDisplay(lines.append)
    plain.update(frame())
    plain.update(frame(now=NOW + timedelta(seconds=5)))
    assert len(lines) == 1, "nothing changed but the clock"
    plain.update(frame((EVENT,), weight=25))
    assert len(lines) == 3 and "event Normal WeightSet" in lines[1] and "green 25%" in lines[2]
    assert all(re.match(r"\d\d:\d\d:\d\d ", line) for line in lines)
    assert "python-version ok 3.12.1/3.11.7" in lines[2] and "memory ok 68.6 MiB/38.3 MiB" in lines[2]


def test_live_display_redraws_in_place_with_events_above_and_gives_way_at_the_end() -> None:
    out = Console(file=io.StringIO(), force_terminal=True, width=160, height=60, color_system=None)
    live = LiveDisplay(out)
    live.note("sandbox ready")
    live.update(frame())
    live.update(frame((EVENT,), weight=25))
    live.update(frame((EVENT,), weight=50))
    during = out.file.getvalue()  # type: ignore[attr-defined]
    live.close()
    raw = out.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b[1A" in during and "\x1b[2K" in during
    shown_lines = screen(during, 160)
    headers = [i for i, line in enumerate(shown_lines) if line.startswith("Rollout")]
    assert len(headers) == 1, "\n".join(shown_lines)
    events = [i for i, line in enumerate(shown_lines) if "event Normal WeightSet" in line]
    assert len(events) == 1 and events[0] < headers[0], "the event once, above the screen"
    assert "green 50% / blue 50%" in shown_lines[headers[0] + 3]
    assert any(re.search(r"python-version\s+Pass\s+3\.12\.1\s+3\.11\.7", line) for line in shown_lines)
    final = screen(raw, 160)
    assert not any(line.startswith("Rollout") for line in final) and any("sandbox ready" in line for line in final)


def test_log_sink_holds_lines_until_the_state_dir_exists(tmp_path: Path) -> None:
    sink = LogSink(limit=3)
    for n in range(5):
        sink.write(f"line {n}\n")
    assert sink.held == "line 2\nline 3\nline 4\n", "only the most recent lines while detached"
    path = sink.attach(tmp_path / "logs")
    sink.write("after\n")
    sink.flush()
    assert path.read_text() == "line 2\nline 3\nline 4\nafter\n" and sink.held == ""
    sink.detach()
    sink.write("gone\n")
    assert path.read_text().endswith("after\n") and sink.held == "gone\n"


def test_sandbox_log_lines_stay_off_the_terminal_unless_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    before = structlog.get_config()
    with _sandbox_logs(verbose=False) as sink:
        structlog.get_logger("controller.sandbox.processes").info("started", process="haproxy", pid=4242)
    assert sink is not None and "started" in sink.held and "pid=4242" in sink.held
    assert capsys.readouterr() == ("", ""), "nothing on stdout or stderr"
    with _sandbox_logs(verbose=True) as none:
        structlog.get_logger("controller.sandbox.processes").info("stopped", process="haproxy", pid=4242)
    assert none is None and "pid=4242" in capsys.readouterr().err
    assert structlog.get_config() == before, "the caller's logging is restored"


def test_demo_help_offers_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "--verbose" in capsys.readouterr().out


def test_result_round_trips_through_its_json() -> None:
    original = result(outages=[(5.0, 20.0), (30.0, None)])
    again = DemoResult.from_json(original.to_json())
    assert again == original
    assert DemoResult.from_json({**original.to_json(), "from_a_newer_demo": 1}) == original


def test_load_figures_count_per_track() -> None:
    stats = LoadStats(
        sent=12,
        dropped=1,
        by_deployment=Counter({"checkout": 8, "checkout-py312": 3, "none": 1}),
        errors_by_deployment=Counter({"checkout-py312": 2, "none": 1}),
        seconds=0.6,
    )
    figures = load_figures(stats, "checkout", "checkout-py312")
    totals = {k: v for k, v in figures.items() if not isinstance(v, dict)}
    assert totals == {"requests": 12, "errors": 3, "seconds": 0.6, "not_sent": 1}
    per_track = {k: (v["requests"], v["errors"]) for k, v in figures.items() if isinstance(v, dict)}
    assert per_track == {"blue": (8, 0), "green": (3, 2), "unanswered": (1, 1)}


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Every other request fails with 503, as ``checkout-py312``."""

    count = 0

    def do_GET(self) -> None:
        _Flaky.count += 1
        self.send_response(503 if _Flaky.count % 2 else 200)
        self.send_header(DEPLOYMENT_HEADER, "checkout-py312")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def flaky_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_load_generator_attributes_errors_to_the_app_that_sent_them(flaky_server: int) -> None:
    load = LoadGenerator("127.0.0.1", flaky_server, rps=50)
    load.start()
    try:
        stats = wait_until(load.stats, lambda s: s.sent >= 10, timeout_s=30, what="10 requests answered")
    finally:
        load.stop()
    answered = stats.by_deployment["checkout-py312"]
    assert stats.errors_by_deployment["checkout-py312"] == stats.by_status[503] and 0 < stats.by_status[503] < answered
    assert stats.errors == stats.by_status[503] + stats.by_status[0] and stats.seconds > 0


def test_verbose_log_lines_print_above_the_live_view() -> None:
    out = Console(file=io.StringIO(), force_terminal=True, width=160, height=60, color_system=None)
    live = LiveDisplay(out)
    with _sandbox_logs(verbose=True):
        live.update(frame())
        structlog.get_logger("controller.sandbox.processes").info("stopped", process="haproxy", pid=4242)
        live.update(frame(weight=25))
        during = screen(out.file.getvalue(), 160)  # type: ignore[attr-defined]
        live.close()
    logged = [i for i, line in enumerate(during) if "pid=4242" in line]
    headers = [i for i, line in enumerate(during) if line.startswith("Rollout")]
    assert len(logged) == 1 and len(headers) == 1 and logged[0] < headers[0], "\n".join(during)
