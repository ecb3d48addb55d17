"""``greenlane demo``: a blue/green rollout on a local sandbox (real Prometheus, HAProxy, PostgreSQL, Python 3.11/3.12).

On a terminal the rollout is one screen redrawn in place, drawn by the renderer of ``greenlane get -w``, with
events and notes scrolling above it; in a pipe (or with ``TERM=dumb``) it is a line per change. The sandbox's
own log lines go to its state directory (``--keep`` keeps it) unless ``--verbose``. The run ends with a
one-screen summary whose comparison line is the migration report's headline, and the report's path last.

Exit 0 when the demo ran to an outcome (promoted, rolled back, held), 1 when it could not run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO, cast

import structlog
from rich.console import Console, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from controller.cli.output import console, live_capable
from controller.cli.run import configure_logging
from controller.cli.view import VERDICT_STYLE, EventRow, Snapshot, change_lines, check_values, event_line, render
from controller.model.quantities import format_duration
from controller.model.spec import RolloutSpec
from controller.model.status import CheckStatus, RolloutStatus
from controller.sandbox import FAULT_KNOBS, MissingDependencyError, SandboxError
from controller.sandbox.demo import DemoResult, run_demo
from controller.sandbox.display import Frame, known, shown
from controller.sandbox.logsink import LogSink
from controller.sandbox.scenarios import SCENARIOS
from controller.sandbox.world import ROLLOUT_NAME

DEFAULT_REPORT_DIR = "build/report"
OUTCOME = {"promoted": "promoted", "rolled_back": "rolled back", "paused": "held", "aborted": "aborted"}
OUTCOME_STYLE = {"promoted": "bold green", "rolled_back": "bold red", "paused": "bold yellow", "aborted": "bold red"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scenarios = "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values())
    parser = subparsers.add_parser(
        "demo",
        help="run a rollout against a local sandbox: real Prometheus, HAProxy, PostgreSQL, Python 3.11 vs 3.12",
        description="Start a local sandbox and drive a rollout through it with the operator's engine. "
        f"Scenarios — {scenarios}.",
    )
    parser.add_argument("--scenario", default="healthy", choices=list(SCENARIOS), help="default: healthy")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"green fault overriding the scenario's; keys: {', '.join(FAULT_KNOBS)}",
    )
    parser.add_argument("--blue-python", metavar="PATH", help="blue's interpreter (default: python3.11)")
    parser.add_argument("--green-python", metavar="PATH", help="green's interpreter (default: python3.12)")
    parser.add_argument("--speed", choices=("fast", "realistic"), default="fast", help="default: fast (1s scrapes)")
    parser.add_argument("--json", metavar="PATH", help="write the outcome, weights and evaluations as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the sandbox's state directory (logs, data)")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print the sandbox's own log lines (processes started and stopped); default: only in its "
        "state directory's logs/sandbox.log",
    )
    parser.add_argument(
        "--report",
        metavar="DIR",
        default=DEFAULT_REPORT_DIR,
        help=f"write the migration report (HTML, JSON, Markdown) here; default: {DEFAULT_REPORT_DIR}; '' for none",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    out = console()
    display = LiveDisplay(out) if live_capable(out) else PlainDisplay(lambda line: print(line, flush=True))
    try:
        with _sandbox_logs(args.verbose) as sink:
            result = run_demo(
                args.scenario,
                fault_pairs=args.fault,
                blue_python=args.blue_python,
                green_python=args.green_python,
                speed=args.speed,
                keep=args.keep,
                display=display,
                log_sink=sink,
                report_dir=args.report or None,
            )
    except (MissingDependencyError, SandboxError, ValueError) as exc:
        failed_to_run = isinstance(exc, SandboxError) and not isinstance(exc, MissingDependencyError)
        hint = "\n(--verbose shows the sandbox's own log lines)" if failed_to_run and not args.verbose else ""
        print(f"greenlane demo: {exc}{hint}", file=sys.stderr)
        return 1
    if args.json:
        result.write(args.json)
    for part in summary(result):
        show(out, part)
    return 0


def show(out: Console, part: RenderableType) -> None:
    """Print ``part``; into a pipe without the spaces a table pads its last column with."""
    if out.is_terminal:
        out.print(part)
        return
    with out.capture() as captured:
        out.print(part)
    out.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    out.file.flush()


# -- where log lines go ----------------------------------------------------------------------------


class _Stderr:
    """Whatever ``sys.stderr`` is at the moment of writing, so a live view can print log lines above itself."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


@contextmanager
def _sandbox_logs(verbose: bool) -> Iterator[LogSink | None]:
    """structlog to the terminal (``--verbose``) or to a :class:`LogSink`; the previous setup restored after."""
    saved = structlog.get_config()
    sink = None if verbose else LogSink()
    configure_logging("console", cast(TextIO, _Stderr() if sink is None else sink))
    try:
        yield sink
    finally:
        structlog.configure(**saved)


# -- while it runs ---------------------------------------------------------------------------------


def snapshot_of(frame: Frame) -> Snapshot:
    """The demo's frame as the Snapshot ``get -w`` draws."""
    events = (EventRow(e.type, e.reason, e.message, datetime.fromtimestamp(e.at, UTC)) for e in frame.events)
    return Snapshot.from_models(
        frame.namespace, frame.name, frame.spec, frame.status, frame.now, events, value_text=frame.value_text
    )


def _clock(at: datetime | None = None) -> str:
    return f"{(at or datetime.now(UTC)).astimezone():%H:%M:%S}"


class LiveDisplay:
    """A terminal: one screen redrawn in place (rich Live), events and notes printed above it as they happen.

    The screen is removed when the demo ends (transient), so the summary follows the events directly.
    """

    def __init__(self, out: Console) -> None:
        self.out = out
        self._live: Live | None = None
        self._shown = 0

    def note(self, text: str) -> None:
        self.out.print(Text(f"{_clock()} {text}", style="yellow" if text.startswith("!!") else ""))

    def update(self, frame: Frame) -> None:
        for event in frame.events[self._shown :]:
            row = EventRow(event.type, event.reason, event.message)
            line = f"{_clock(datetime.fromtimestamp(event.at, UTC))}{event_line(row)}"
            self.out.print(Text(line, style="yellow" if event.type == "Warning" else ""))
        self._shown = len(frame.events)
        screen = render(snapshot_of(frame))
        if self._live is None:
            self._live = Live(screen, console=self.out, auto_refresh=False, transient=True)
            self._live.start(refresh=True)
        else:
            self._live.update(screen, refresh=True)

    def close(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()


class PlainDisplay:
    """A pipe, a log file or ``TERM=dumb``: notes, and the lines of ``get -w`` for what changed, each timed."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self._previous: Snapshot | None = None

    def note(self, text: str) -> None:
        self.emit(f"{_clock()} {text}")

    def update(self, frame: Frame) -> None:
        snapshot = snapshot_of(frame)
        for line in change_lines(self._previous, snapshot):
            self.emit(f"{_clock(snapshot.now)} {line}")
        self._previous = snapshot

    def close(self) -> None:
        return None


# -- the summary -----------------------------------------------------------------------------------


def final_checks(result: DemoResult) -> list[CheckStatus]:
    """Each check's most recent evaluation that measured something (at 100% blue serves nothing to compare)."""
    latest: dict[str, CheckStatus] = {}
    for evaluation in result.evaluations:
        for raw in evaluation.get("checks", []):
            check = CheckStatus.model_validate(raw)
            if known(check, "green") or known(check, "blue") or check.name not in latest:
                latest[check.name] = check
    return list(latest.values())


def _snapshot(result: DemoResult, checks: list[CheckStatus]) -> Snapshot:
    spec = RolloutSpec.model_validate(result.spec)
    checks, texts = shown(spec, checks, (result.green_python, result.blue_python))
    status = RolloutStatus(checks=checks)
    return Snapshot.from_models("sandbox", ROLLOUT_NAME, spec, status, datetime.now(UTC), value_text=texts)


def _failing(result: DemoResult) -> CheckStatus | None:
    for evaluation in reversed(result.evaluations):
        for raw in evaluation.get("checks", []):
            if raw.get("name") == result.failed_check and raw.get("verdict") == "Fail":
                return CheckStatus.model_validate(raw)
    return None


def _rolled_back_at(result: DemoResult) -> int | None:
    up = [w for _, w in result.weights if w > 0]
    return up[-1] if up else None


def outcome_line(result: DemoResult) -> Text:
    """``outcome: rolled back at 10%: memory failed, green ..., blue ..., threshold ...`` (or why it promoted/held)."""
    text = Text("outcome: ")
    text.append(OUTCOME.get(result.outcome, result.outcome), style=OUTCOME_STYLE.get(result.outcome, ""))
    if result.outcome == "promoted":
        spec = RolloutSpec.model_validate(result.spec)
        steps = f"after {len(spec.steps)} steps"
        return text.append(f": green {spec.green.deployment} on Python {result.green_python} serves 100%, {steps}")
    failing = _failing(result) if result.outcome == "rolled_back" else None
    if failing is None:
        reason = result.reason.removeprefix("held ")  # "held: in Pending: ...", not "held: held in ..."
        return text.append(f": {reason}" if reason else "")
    snapshot = _snapshot(result, [failing])
    green, blue = (cell.replace("\n", " ") for cell in check_values(snapshot, snapshot.status.checks[0]))
    weight = _rolled_back_at(result)
    text.append(f" at {weight}%" if weight is not None else "")
    text.append(f": {failing.name} failed, green {green}, blue {blue}, threshold {failing.threshold or 'n/a'}")
    return text


def fault_line(result: DemoResult) -> str | None:
    if result.fault_started_at is None or result.rolled_back_at is None:
        return None
    return f"fault to rollback: {result.rolled_back_at - result.fault_started_at:.1f}s"


def checks_table(result: DemoResult, snapshot: Snapshot) -> RenderableType:
    """Every check as last measured: green and blue side by side, in their units, with the threshold."""
    if not snapshot.status.checks:
        never = all(w == 0 for _, w in result.weights)
        return Text("checks: none evaluated" + (", green never took traffic" if never else ""))
    table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style="bold")
    headers = ("CHECK", "VERDICT", f"GREEN ({result.green_python})", f"BLUE ({result.blue_python})", "THRESHOLD")
    for column in headers:
        table.add_column(column, justify="right" if column.startswith(("GREEN", "BLUE")) else "left")
    for check in snapshot.status.checks:
        green, blue = check_values(snapshot, check)
        verdict = Text(check.verdict, style=VERDICT_STYLE.get(check.verdict, ""))
        table.add_row(check.name, verdict, green, blue, check.threshold)
    return table


def _percent(part: int, whole: int) -> str:
    share = part / whole
    return f"{share * 100:.2f}%" if share < 0.01 else f"{share * 100:.1f}%"


def _share(name: str, counts: Mapping[str, Any]) -> str:
    requests, errors = int(counts.get("requests", 0)), int(counts.get("errors", 0))
    return f"{name} {_percent(errors, requests)} of {requests:,}" if requests else f"{name} served none"


def load_line(load: Mapping[str, Any]) -> str | None:
    """``load: 2,311 requests at 20.0 req/s, 0.43% errors (blue 0.00% of 2,100, green 4.74% of 211)``."""
    requests, seconds = int(load.get("requests", 0)), float(load.get("seconds", 0.0))
    if not requests:
        return None
    rate = f" at {requests / seconds:.1f} req/s" if seconds > 0 else ""
    errors = int(load.get("errors", 0))
    line = f"load: {requests:,} requests{rate}, {_percent(errors, requests)} errors"
    line += f" ({_share('blue', load.get('blue', {}))}, {_share('green', load.get('green', {}))})"
    unanswered = int(load.get("unanswered", {}).get("requests", 0))
    if unanswered:
        line += f", {unanswered:,} answered by no app"
    not_sent = int(load.get("not_sent", 0))
    return line + (f", {not_sent:,} not sent (too many in flight)" if not_sent else "")


def time_line(result: DemoResult) -> str:
    took = format_duration(max(0, round(result.finished_at - result.started_at)))
    return f"time: {took} to the outcome, after a {result.sandbox_startup_s:g}s sandbox start-up"


def report_line(result: DemoResult) -> Text:
    if result.report:
        return Text.assemble("report: ", (result.report, "bold"))
    why = result.report_error or "--report ''"
    return Text(f"report: not written ({why})")


def summary(result: DemoResult) -> list[RenderableType]:
    """One screen: the outcome, the report's 3.12 vs 3.11 headline, every check, the load; the report path last."""
    snapshot = _snapshot(result, final_checks(result))
    parts: list[RenderableType] = [Text(""), outcome_line(result)]
    parts += [Text(line) for line in (result.headline, fault_line(result)) if line]
    parts += [Text(""), checks_table(result, snapshot), Text("")]
    parts += [Text(line) for line in (load_line(result.load), time_line(result)) if line]
    if result.state_dir:
        parts.append(Text(f"logs: {result.state_dir}/logs (kept)"))
    parts.append(report_line(result))
    return parts
