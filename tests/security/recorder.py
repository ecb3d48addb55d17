"""A loopback HTTP server that records every request and counts open connections: a stand-in for a
tenant's own "Prometheus", a redirecting one, or an allowed one whose sessions must be closed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EMPTY_VECTOR = {"status": "success", "data": {"resultType": "vector", "result": []}}


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Recorder:
    """``status``/``body``/``location`` shape every answer; ``seen`` is every request received."""

    status: int = 200
    body: bytes = json.dumps(EMPTY_VECTOR).encode()
    location: str | None = None
    seen: list[Seen] = field(default_factory=list)
    open_connections: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.seen.append(Seen(handler.command, handler.path, dict(handler.headers.items())))

    def connections(self, delta: int) -> None:
        with self._lock:
            self.open_connections += delta

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> int:
        """Open connections once they settle at ``count`` (closing is seen by the server thread a moment later)."""
        deadline = time.monotonic() + timeout
        while self.open_connections != count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.open_connections


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a pooled session holds its connection open

        def setup(self) -> None:
            super().setup()
            recorder.connections(+1)

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                recorder.connections(-1)

        def do_GET(self) -> None:
            recorder.record(self)
            self.send_response(recorder.status)
            if recorder.location is not None:
                self.send_header("Location", recorder.location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(recorder.body)))
            self.end_headers()
            self.wfile.write(recorder.body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextmanager
def recording(**answer: object) -> Iterator[Recorder]:
    recorder = Recorder(**answer)  # type: ignore[arg-type]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    server.daemon_threads = True
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="recorder", daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
