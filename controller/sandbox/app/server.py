"""HTTP front of the demo app: application traffic on ``/``, plus ``/metrics``, ``/healthz`` and the
fault admin endpoints (``GET|POST /admin/faults``, ``POST /admin/faults/activate``).

Only application traffic is measured, so scrapes and probes never dilute latency or error rates.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .chaos import Chaos
from .db import Database
from .faults import FaultSettings, FaultState
from .metrics import REQUEST_DURATION, REQUESTS, track_pool


class App:
    """Everything a request handler needs; one per process."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.deployment: str = args.deployment
        self.pod: str = args.pod or args.deployment
        self.base_latency_s = args.base_latency_ms / 1000.0
        self.db_query_ratio: float = args.db_query_ratio
        self.faults = FaultState(FaultSettings.from_pairs(args.fault))
        self.db = Database(args.dsn, args.deployment, pool_size=args.pool_size)
        self.chaos = Chaos(self.faults, self.db.connect_extra, max_leaked_connections=args.max_leaked_connections)
        # Startup memory is by definition paid at startup, whatever fault_after_s says.
        self.chaos.allocate_startup(self.faults.settings.startup_memory_mb)
        track_pool(
            args.deployment,
            used=lambda: self._pool_used() + self.chaos.leaked_connections,
            idle=lambda: self.db.stats()["available"],
        )

    def _pool_used(self) -> int:
        s = self.db.stats()
        return s["size"] - s["available"]

    def serve_request(self) -> tuple[int, dict[str, Any]]:
        """The application work: a little CPU-free waiting, sometimes a DB query, maybe a fault."""
        active = self.faults.active()
        delay = self.base_latency_s * random.uniform(0.5, 1.5)
        if active is not None:
            delay += active.extra_latency_ms / 1000.0
        time.sleep(delay)
        if random.random() < self.db_query_ratio:
            self.db.query()
        if active is not None and random.random() < active.error_rate:
            return 500, {"error": "injected fault", "deployment": self.deployment}
        return 200, {"deployment": self.deployment, "pod": self.pod, "python": platform.python_version()}

    def admin_state(self) -> dict[str, Any]:
        return {
            **self.faults.snapshot(),
            **self.chaos.stats(),
            "deployment": self.deployment,
            "pod": self.pod,
            "python": platform.python_version(),
            "pid": os.getpid(),
        }


class Handler(BaseHTTPRequestHandler):
    """Routes by path; every response is JSON except /metrics."""

    server: AppServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Access logs would drown the sandbox's log files; errors still reach stderr."""

    def do_GET(self) -> None:
        app = self.server.app
        if self.path == "/metrics":
            self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
        elif self.path == "/healthz":
            ready = app.db.ready()
            self._json(200 if ready else 503, {"ready": ready, "deployment": app.deployment})
        elif self.path == "/admin/faults":
            self._json(200, app.admin_state())
        else:
            self._application()

    def do_POST(self) -> None:
        app = self.server.app
        if self.path == "/admin/faults/activate":
            app.faults.activate()
            self._json(200, app.admin_state())
        elif self.path == "/admin/faults":
            try:
                length = int(self.headers.get("Content-Length", "0"))
                app.faults.configure(FaultSettings.from_mapping(json.loads(self.rfile.read(length) or b"{}")))
            except (ValueError, TypeError) as exc:
                self._json(400, {"error": str(exc)})
                return
            self._json(200, app.admin_state())
        else:
            self._json(404, {"error": f"no such endpoint {self.path}"})

    def _application(self) -> None:
        started = time.perf_counter()
        try:
            status, body = self.server.app.serve_request()
        except Exception as exc:  # a broken pool is a real 503 for the caller, and must be counted
            status, body = 503, {"error": f"{type(exc).__name__}: {exc}"}
        REQUEST_DURATION.observe(time.perf_counter() - started)
        REQUESTS.labels(status=str(status)).inc()
        self._json(status, body)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Greenlane-Deployment", self.server.app.deployment)
        self.end_headers()
        self.wfile.write(payload)


class AppServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        super().__init__(address, Handler)
        self.app = app

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up early (health checks, a stopped load generator) are not app errors."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description="greenlane demo app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(env("GREENLANE_APP_PORT", "8080")))
    p.add_argument("--deployment", default=env("GREENLANE_APP_DEPLOYMENT", "checkout"))
    p.add_argument("--pod", default=env("GREENLANE_APP_POD"))
    p.add_argument("--dsn", default=env("GREENLANE_APP_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--pool-size", type=int, default=4)
    p.add_argument("--base-latency-ms", type=float, default=3.0)
    p.add_argument("--db-query-ratio", type=float, default=0.25)
    p.add_argument("--max-leaked-connections", type=int, default=100)
    p.add_argument(
        "--fault",
        action="append",
        default=env("GREENLANE_APP_FAULTS", "").split(",") if env("GREENLANE_APP_FAULTS") else [],
        metavar="KEY=VALUE",
        help="repeatable fault knob",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    app = App(args)
    server = AppServer((args.host, args.port), app)
    stop = threading.Event()
    threading.Thread(target=app.chaos.run, args=(stop,), name="chaos", daemon=True).start()

    def shutdown(signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    print(
        f"{app.deployment} ({app.pod}) on Python {platform.python_version()} serving "
        f"http://{args.host}:{server.server_address[1]}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        app.chaos.close()
        app.db.close()
        server.server_close()
    return 0
