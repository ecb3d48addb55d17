"""Following a rollout over time: ``get -w`` (live or change-only lines) and ``status`` (an exit code).

Both poll the rollout (a GET every ``interval``, with its Events) rather than holding a watch open: a
poll survives API server restarts and proxies that cut long requests, costs one request per couple of
seconds, and gives the live view a steady clock for its bake timer. After the first successful read,
an unreachable server is retried for up to ``outage_budget`` seconds before the command gives up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live

from controller.cli import exits
from controller.cli.cluster import Cluster, ClusterError, get_rollout, rollout_events
from controller.cli.view import Snapshot, state_line
from controller.model.quantities import format_duration, parse_duration
from controller.model.status import TERMINAL_PHASES

Json = dict[str, Any]
FAILED_PHASES = {"RolledBack": "rolled back", "Aborted": "aborted", "Invalid": "invalid"}


@dataclass
class Poller:
    cluster: Cluster
    namespace: str
    name: str
    interval: float = 2.0
    outage_budget: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _read_once: bool = False

    def fetch(self, deadline: float | None = None) -> Json:
        """The rollout; transient unavailability is retried within the budget (and the deadline)."""
        since: float | None = None
        while True:
            try:
                obj = get_rollout(self.cluster, self.namespace, self.name)
                self._read_once = True
                return obj
            except ClusterError as exc:
                if exc.exit_code != exits.UNAVAILABLE or not self._read_once:
                    raise
                since = self.monotonic() if since is None else since
                limit = since + self.outage_budget
                if self.monotonic() >= (limit if deadline is None else min(limit, deadline)):
                    raise
            self.sleep(self.interval)

    def snapshot(self) -> Snapshot:
        obj = self.fetch()
        return Snapshot.from_object(obj, rollout_events(self.cluster, self.namespace, self.name), self.now())

    def wait(self, deadline: float | None = None) -> None:
        pause = self.interval if deadline is None else min(self.interval, max(0.0, deadline - self.monotonic()))
        self.sleep(pause)

    def stream_objects(self, emit: Callable[[Json], None]) -> int:
        """``get -w -o json|yaml|name``: the object each time it changes, until a terminal phase."""
        last = None
        while True:
            obj = self.fetch()
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if version != last or last is None:
                emit(obj)
                last = version
            if (obj.get("status") or {}).get("phase") in TERMINAL_PHASES:
                return exits.OK
            self.wait()


def watch_live(poller: Poller, out: Console, render: Callable[[Snapshot], RenderableType]) -> int:
    """Redraw one screen in place (rich Live) until the rollout reaches a terminal phase."""
    snapshot = poller.snapshot()
    with Live(render(snapshot), console=out, auto_refresh=False, transient=False) as live:
        while not snapshot.terminal:
            poller.wait()
            snapshot = poller.snapshot()
            live.update(render(snapshot), refresh=True)
    return exits.OK


def watch_plain(
    poller: Poller,
    emit: Callable[[str], None],
    change_lines: Callable[[Snapshot | None, Snapshot], list[str]],
) -> int:
    """A line per change (a pipe, a log file, ``TERM=dumb``), until the rollout reaches a terminal phase."""
    previous: Snapshot | None = None
    while True:
        snapshot = poller.snapshot()
        for line in change_lines(previous, snapshot):
            emit(f"{snapshot.now.astimezone():%H:%M:%S} {line}")
        if snapshot.terminal:
            return exits.OK
        previous = snapshot
        poller.wait()


def parse_timeout(text: str) -> float | None:
    """Seconds from ``90``, ``30s``, ``10m``, ``1h30m``; None for ``0`` (no limit)."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = parse_duration(text)
    if seconds < 0:
        raise ValueError(f"must not be negative, got {text!r}")
    return seconds or None


def verdict(obj: Json) -> tuple[int, str] | None:
    """(exit code, reason) once the rollout is decided; None while it is still going (or status is stale)."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    key = f"{meta.get('namespace')}/{meta.get('name')}"
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if generation is not None and observed is not None and int(observed) < int(generation):
        return None  # the operator has not looked at the latest spec yet
    phase, message = status.get("phase"), status.get("message") or ""
    if phase == "Promoted":
        return exits.OK, f"rollout {key} promoted: green serves 100%" + (f" ({message})" if message else "")
    if phase in FAILED_PHASES:
        return exits.FAILED, f"rollout {key} {FAILED_PHASES[phase]}: {message or phase}"
    return None


def status_verdict(poller: Poller, timeout: float | None, progress: Callable[[str], None]) -> tuple[int, str]:
    """Wait for :func:`verdict` or the timeout; report each change of state through ``progress``."""
    deadline = None if timeout is None else poller.monotonic() + timeout
    shown = None
    while True:
        obj = poller.fetch(deadline)
        decided = verdict(obj)
        if decided is not None:
            return decided
        line = state_line(Snapshot.from_object(obj, [], poller.now()))
        if line != shown:
            progress(f"waiting: {line}")
            shown = line
        if deadline is not None and poller.monotonic() >= deadline:
            assert timeout is not None
            return exits.TIMEOUT, f"timed out after {format_duration(timeout)}: {line}"
        poller.wait(deadline)
