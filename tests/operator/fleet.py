"""A fleet of simulated pods for operator end-to-end tests: Prometheus scrapes it for real.

Traffic follows the live HTTPRoute weights in the emulator, so green only serves requests once the
operator has moved weight to it; each track's latency, error rate and Python version are knobs.
Counters are computed from elapsed time at scrape time, which keeps them monotonic and deterministic.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _log_normal_shape(sigma: float = 0.5, points: int = 25) -> tuple[tuple[float, float], ...]:
    """Shares of requests at multiples of the track's base latency: a log-normal, so that quantiles fall
    inside buckets the way real latencies do (not on an edge, as a few point masses would put them)."""
    zs = [-3 + 6.5 * i / (points - 1) for i in range(points)]
    weights = [math.exp(-z * z / 2) for z in zs]
    total = sum(weights)
    return tuple((math.exp(sigma * z), w / total) for z, w in zip(zs, weights, strict=True))


SHAPE = _log_normal_shape()


@dataclass
class PodSim:
    namespace: str
    pod: str
    python: str
    latency: float = 0.02
    error_rate: float = 0.0
    requests: float = 0.0
    errors: float = 0.0
    buckets: list[float] = field(default_factory=lambda: [0.0] * len(BUCKETS))
    latency_sum: float = 0.0

    def serve(self, count: float) -> None:
        self.requests += count
        self.errors += count * self.error_rate
        for multiple, share in SHAPE:
            value = self.latency * multiple
            self.latency_sum += count * share * value
            for i, le in enumerate(BUCKETS):
                if value <= le:
                    self.buckets[i] += count * share

    def exposition(self) -> str:
        labels = f'namespace="{self.namespace}",pod="{self.pod}"'
        major, minor, patch = self.python.split(".")
        lines = [
            f'python_info{{{labels},implementation="CPython",major="{major}",minor="{minor}",'
            f'patchlevel="{patch}",version="{self.python}"}} 1',
            f'http_requests_total{{{labels},status="200"}} {self.requests - self.errors}',
            f'http_requests_total{{{labels},status="503"}} {self.errors}',
            f"process_resident_memory_bytes{{{labels}}} {64 * 2**20}",
        ]
        for le, count in zip(BUCKETS, self.buckets, strict=True):
            lines.append(f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {count}')
        lines.append(f'http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {self.requests}')
        lines.append(f"http_request_duration_seconds_count{{{labels}}} {self.requests}")
        lines.append(f"http_request_duration_seconds_sum{{{labels}}} {self.latency_sum}")
        return "\n".join(lines) + "\n"


@dataclass
class Service:
    """One blue/green pair whose split follows ``green_weight()`` (percent)."""

    blue: PodSim
    green: PodSim
    green_weight: Callable[[], int]


class Fleet:
    """Several blue/green pairs; serves ``/metrics`` on loopback for Prometheus to scrape."""

    def __init__(self, services: list[Service], rps: float = 40.0) -> None:
        self.services = services
        self._rps = rps
        self._lock = threading.Lock()
        self._last = time.monotonic()
        fleet = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = fleet.scrape().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, name="fleet", daemon=True).start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def scrape(self) -> str:
        with self._lock:
            now = time.monotonic()
            total = self._rps * (now - self._last)
            self._last = now
            out = []
            for service in self.services:
                try:
                    share = max(0, min(100, service.green_weight())) / 100
                except Exception:  # a scrape must never fail because the route is mid-edit
                    share = 0.0
                service.green.serve(total * share)
                service.blue.serve(total * (1 - share))
                out += [service.blue.exposition(), service.green.exposition()]
            return "".join(out)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
