"""The whole local platform as one object: what ``greenlane demo`` and the e2e tests stand on.

Start-up order follows dependencies (PostgreSQL, then exporter and apps, then HAProxy and
Prometheus, then load); shutdown is the reverse, so nothing logs spurious errors about a peer that
vanished first. Every child is stopped by PID on success, error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import atexit
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Literal, TypeVar

import structlog

from controller.routing.haproxy import HaproxyRouter
from controller.sandbox.app.faults import FaultSettings
from controller.sandbox.binaries import find_server_binaries
from controller.sandbox.loadgen import LoadGenerator
from controller.sandbox.processes import free_ports
from controller.sandbox.pythons import Interpreter, find_python
from controller.sandbox.servers.apps import AppProcess, install_app, pod_name
from controller.sandbox.servers.haproxy import BACKEND, BLUE_SERVER, GREEN_SERVER, HaproxyServer
from controller.sandbox.servers.postgres import PostgresExporter, PostgresServer
from controller.sandbox.servers.prometheus import PrometheusServer, ScrapeTarget
from controller.sandbox.venvs import AppVenv, ensure_venv

log = structlog.get_logger(__name__)

Track = Literal["blue", "green"]
T = TypeVar("T")
Speed = Literal["fast", "realistic"]
SCRAPE_INTERVAL_S: dict[Speed, float] = {"fast": 1.0, "realistic": 15.0}


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a demo run may vary; the defaults are the documented demo."""

    blue_python: str | Path | None = None  # explicit interpreter; else python3.11 from PATH or pyenv
    green_python: str | Path | None = None
    blue_expect: str = "3.11"
    green_expect: str = "3.12"
    namespace: str = "sandbox"
    blue_deployment: str = "checkout"
    green_deployment: str = "checkout-py312"  # prefix-collides with blue on purpose
    speed: Speed = "fast"
    load_rps: float = 20.0
    green_percent: int = 0
    blue_faults: FaultSettings = field(default_factory=FaultSettings)
    green_faults: FaultSettings = field(default_factory=FaultSettings)
    state_dir: Path | None = None  # default: a fresh temp dir, removed on stop unless keep
    cache_dir: Path | None = None  # venv cache; default ~/.cache/greenlane/venvs
    keep: bool = False
    startup_timeout_s: float = 60.0


@dataclass(frozen=True)
class TrackInfo:
    """One track as the rollout sees it: names, the pod label, and the Python it really runs."""

    track: Track
    namespace: str
    deployment: str
    pod: str
    python_version: str
    interpreter: Path
    venv_python: Path
    url: str

    @property
    def admin_url(self) -> str:
        return f"{self.url}/admin/faults"


def _need(value: T | None, what: str) -> T:
    if value is None:
        raise RuntimeError(f"sandbox not started (or already stopped): no {what}")
    return value


class Sandbox:
    """Use as ``with Sandbox(SandboxConfig()) as sb:``; attributes are valid once started."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.scrape_interval_s = SCRAPE_INTERVAL_S[self.config.speed]
        self.startup_seconds = 0.0
        self._stack: list[tuple[str, Callable[[], None]]] = []
        self._apps: dict[Track, AppProcess] = {}
        self._tracks: dict[Track, TrackInfo] = {}
        self._venvs: dict[Track, AppVenv] = {}
        self._prometheus: PrometheusServer | None = None
        self._haproxy: HaproxyServer | None = None
        self._exporter: PostgresExporter | None = None
        self._postgres: PostgresServer | None = None
        self._load: LoadGenerator | None = None
        self._state_dir: Path | None = None
        self._owns_state_dir = False
        self._old_handlers: dict[int, Any] = {}

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> Sandbox:
        """Idempotent, so ``with Sandbox(...).start() as sb`` does not start a second platform."""
        if self._state_dir is not None:
            return self
        started = time.monotonic()
        self._install_signal_handlers()
        atexit.register(self.stop)
        try:
            self._start_all()
        except BaseException:
            log.error("sandbox start failed, stopping what was started", state_dir=str(self._state_dir))
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        log.info(
            "sandbox ready",
            seconds=round(self.startup_seconds, 1),
            prometheus=self.prometheus_url,
            haproxy=self.haproxy_url,
            state_dir=str(self.state_dir),
        )
        return self

    def stop(self) -> None:
        """Idempotent; stops children newest first, then removes temporary state unless ``keep``."""
        while self._stack:
            name, stop = self._stack.pop()
            try:
                stop()
            except Exception as exc:  # keep stopping the others: a leaked server is worse
                log.error("stop failed", component=name, error=str(exc))
        atexit.unregister(self.stop)
        self._restore_signal_handlers()
        state, self._state_dir = self._state_dir, None
        if state is not None and self._owns_state_dir and not self.config.keep:
            shutil.rmtree(state, ignore_errors=True)
        elif state is not None:
            log.info("sandbox state kept", state_dir=str(state))

    def _install_signal_handlers(self) -> None:
        """SIGTERM/SIGHUP become SystemExit so ``with`` blocks unwind and children are stopped."""
        if threading.current_thread() is not threading.main_thread():
            return

        def raise_exit(signum: int, _frame: FrameType | None) -> None:
            raise SystemExit(128 + signum)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, raise_exit)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)
        self._old_handlers.clear()

    def _push(self, name: str, stop: Callable[[], None]) -> None:
        self._stack.append((name, stop))

    # ---- start-up ---------------------------------------------------------------------------
    def _make_state_dir(self) -> Path:
        if self.config.state_dir is not None:
            path = self.config.state_dir
            path.mkdir(parents=True, exist_ok=True)
        else:
            path = Path(tempfile.mkdtemp(prefix="greenlane-sandbox-"))
            self._owns_state_dir = True
            path.chmod(0o711)  # PostgreSQL's unprivileged account must traverse it to its data dir
        return path

    def _start_all(self) -> None:
        cfg = self.config
        bins = find_server_binaries()
        interpreters: dict[Track, Interpreter] = {
            "blue": find_python(cfg.blue_expect, cfg.blue_python),
            "green": find_python(cfg.green_expect, cfg.green_python),
        }
        state = self._state_dir = self._make_state_dir()
        logs = state / "logs"
        pg_port, exp_port, prom_port, fe_port, blue_port, green_port = free_ports(6)
        pg = self._postgres = PostgresServer(bins, data_dir=state / "pgdata", log_dir=logs, port=pg_port)
        with ThreadPoolExecutor(max_workers=3) as pool:  # venv checks overlap with initdb
            venv_futures = {t: pool.submit(ensure_venv, i, cfg.cache_dir) for t, i in interpreters.items()}
            self._push("postgres", pg.stop)
            pg.start()
            pg.wait_ready(cfg.startup_timeout_s)
            self._venvs = {t: f.result() for t, f in venv_futures.items()}
        self._start_apps(interpreters, state, pg.dsn, {"blue": blue_port, "green": green_port})
        exporter = self._exporter = PostgresExporter(bins, dsn=pg.dsn, log_dir=logs, port=exp_port)
        haproxy = self._haproxy = HaproxyServer(
            bins,
            state_dir=state,
            log_dir=logs,
            frontend_port=fe_port,
            blue_port=blue_port,
            green_port=green_port,
            green_percent=cfg.green_percent,
        )
        prom = self._prometheus = PrometheusServer(
            bins,
            state_dir=state,
            log_dir=logs,
            port=prom_port,
            targets=self._scrape_targets(exp_port),
            scrape_interval_s=self.scrape_interval_s,
        )
        exporter.start()
        self._push("postgres-exporter", exporter.process.stop)
        for app in self._apps.values():
            app.wait_ready(cfg.startup_timeout_s)
        # HAProxy only after the apps listen: a server that fails its first check starts DOWN and
        # would skew the first seconds of traffic towards the other track.
        for name, server in (("haproxy", haproxy), ("prometheus", prom)):
            server.start()
            self._push(name, server.process.stop)
        for waitable in (exporter, haproxy, prom):
            waitable.wait_ready(cfg.startup_timeout_s)
        load = self._load = LoadGenerator("127.0.0.1", fe_port, cfg.load_rps)
        load.start()
        self._push("load generator", load.stop)

    def _start_apps(
        self, interpreters: dict[Track, Interpreter], state: Path, dsn: str, ports: dict[Track, int]
    ) -> None:
        cfg = self.config
        pythonpath = install_app(state / "app")
        specs: tuple[tuple[Track, str, FaultSettings], ...] = (
            ("blue", cfg.blue_deployment, cfg.blue_faults),
            ("green", cfg.green_deployment, cfg.green_faults),
        )
        for track, deployment, faults in specs:
            venv = self._venvs[track]
            app = AppProcess(
                python=venv.python,
                pythonpath=pythonpath,
                deployment=deployment,
                pod=pod_name(deployment),
                port=ports[track],
                dsn=dsn,
                faults=faults,
                log_dir=state / "logs",
            )
            app.start()
            self._push(f"app {deployment}", app.process.stop)
            self._apps[track] = app
            self._tracks[track] = TrackInfo(
                track=track,
                namespace=cfg.namespace,
                deployment=deployment,
                pod=app.pod,
                python_version=venv.version,
                interpreter=interpreters[track].path,
                venv_python=venv.python,
                url=app.url,
            )

    def _scrape_targets(self, exporter_port: int) -> list[ScrapeTarget]:
        targets = [
            ScrapeTarget(
                job="sandbox-apps",
                address=f"127.0.0.1:{self._apps[t].port}",
                labels={
                    "namespace": info.namespace,
                    "pod": info.pod,
                    "deployment": info.deployment,
                    "container": "app",
                    "track": t,
                },
            )
            for t, info in self._tracks.items()
        ]
        targets.append(
            ScrapeTarget(
                job="postgres-exporter",
                address=f"127.0.0.1:{exporter_port}",
                labels={
                    "namespace": self.config.namespace,
                    "pod": "postgres-exporter-0",
                    "container": "exporter",
                },
            )
        )
        return targets

    # ---- what the demo and tests use --------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return _need(self._state_dir, "state dir")

    @property
    def prometheus_url(self) -> str:
        return _need(self._prometheus, "Prometheus").url

    @property
    def prometheus_running(self) -> bool:
        return self._prometheus is not None and self._prometheus.process.running()

    @property
    def haproxy_socket(self) -> Path:
        return _need(self._haproxy, "HAProxy").socket_path

    @property
    def haproxy_url(self) -> str:
        return _need(self._haproxy, "HAProxy").url

    @property
    def postgres_dsn(self) -> str:
        return _need(self._postgres, "PostgreSQL").dsn

    @property
    def exporter_url(self) -> str:
        return _need(self._exporter, "postgres_exporter").url

    @property
    def load(self) -> LoadGenerator:
        return _need(self._load, "load generator")

    @property
    def blue(self) -> TrackInfo:
        return self.track("blue")

    @property
    def green(self) -> TrackInfo:
        return self.track("green")

    def track(self, track: Track) -> TrackInfo:
        return _need(self._tracks.get(track), f"{track} track")

    def app_pid(self, track: Track) -> int | None:
        app = self._apps.get(track)
        return app.process.pid if app else None

    def router(self) -> HaproxyRouter:
        """The router the demo drives, exactly as a rollout's ``haproxy`` block would configure it."""
        return HaproxyRouter(self.haproxy_socket, BACKEND, BLUE_SERVER, GREEN_SERVER)

    def router_spec(self) -> dict[str, str]:
        """The ``spec.trafficRouting.haproxy`` block for this sandbox."""
        return {
            "socket": str(self.haproxy_socket),
            "backend": BACKEND,
            "blueServer": BLUE_SERVER,
            "greenServer": GREEN_SERVER,
        }

    def stop_prometheus(self) -> None:
        """Start of an outage: Prometheus goes away, its data stays for the restart."""
        _need(self._prometheus, "Prometheus").stop()

    def start_prometheus(self, wait: bool = True) -> None:
        prom: PrometheusServer = _need(self._prometheus, "Prometheus")
        prom.start()
        if wait:
            prom.wait_ready(self.config.startup_timeout_s)

    @contextmanager
    def prometheus_outage(self) -> Iterator[None]:
        """``with sb.prometheus_outage(): ...`` — Prometheus is down inside the block, back after it."""
        self.stop_prometheus()
        try:
            yield
        finally:
            self.start_prometheus()

    def set_faults(self, faults: FaultSettings, track: Track = "green") -> dict[str, Any]:
        return _need(self._apps.get(track), f"{track} app").set_faults(faults)

    def activate_faults(self, track: Track = "green") -> float:
        """Faults configured without ``fault_after_s`` bite from now; returns the unix time."""
        return _need(self._apps.get(track), f"{track} app").activate_faults()

    def fault_state(self, track: Track = "green") -> dict[str, Any]:
        return _need(self._apps.get(track), f"{track} app").fault_state()
