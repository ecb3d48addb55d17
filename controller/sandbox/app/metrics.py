"""The series the builtin analysis templates read (DESIGN §2.3), on prometheus_client's default registry.

The default registry matters: it carries ``process_resident_memory_bytes`` and ``python_info``, the
latter being how preflight proves green really runs 3.12.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

# Fine below 100 ms: the sandbox's requests take a few ms and a +20 ms regression must be visible.
LATENCY_BUCKETS = (
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.025,
    0.03,
    0.04,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
)

REQUEST_DURATION = Histogram(
    "http_request_duration_seconds", "Time spent serving an application request.", buckets=LATENCY_BUCKETS
)
REQUESTS = Counter("http_requests_total", "Application requests served, by HTTP status code.", ["status"])
POOL_USAGE = Gauge(
    "db_client_connections_usage",
    "Database connections held by the app (OpenTelemetry semantic convention name).",
    ["pool_name", "state"],
)


def track_pool(pool_name: str, used: Callable[[], float], idle: Callable[[], float]) -> None:
    """Reads the pool on every scrape, so the gauge can never go stale."""
    POOL_USAGE.labels(pool_name=pool_name, state="used").set_function(used)
    POOL_USAGE.labels(pool_name=pool_name, state="idle").set_function(idle)
