"""The operator's small HTTP endpoints: liveness, readiness and Prometheus metrics.

Liveness fails when the control loop stops making progress (a stuck watch or worker), readiness
until the first full list of rollouts has been processed; standby replicas are live and ready.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

Probe = Callable[[], tuple[bool, str]]


def parse_addr(addr: str, flag: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``:PORT`` → (host, port); ValueError names the flag."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{flag}: expected HOST:PORT or :PORT (got {addr!r})")
    return (host.strip("[]") or "0.0.0.0"), int(port)


class Endpoints:
    def __init__(self, liveness: Probe, readiness: Probe, registry: CollectorRegistry | None = None) -> None:
        self.liveness = liveness
        self.readiness = readiness
        self.registry = registry


def serve(addr: tuple[str, int], endpoints: Endpoints) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; the caller shuts the returned server down."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._probe(endpoints.liveness)
            elif path == "/readyz":
                self._probe(endpoints.readiness)
            elif path == "/metrics" and endpoints.registry is not None:
                self._send(200, generate_latest(endpoints.registry), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b"not found\n")

        def _probe(self, probe: Probe) -> None:
            ok, detail = probe()
            self._send(200 if ok else 503, (detail or ("ok" if ok else "not ok")).encode() + b"\n")

        def _send(self, code: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(addr, Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="greenlane-http", daemon=True).start()
    return server
