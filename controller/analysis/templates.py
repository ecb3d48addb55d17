"""The builtin templates: plain PromQL over the metric conventions of DESIGN.md §2.3.

Each template is data, not code, so ``greenlane templates`` can print exactly what runs and which input
series it needs. Traffic templates read counts, so that their intervals come from how many requests were
seen: latency the histogram's buckets (``buckets``), error-rate the 5xx and all requests (``errors`` over
``requests``). Gauge templates (memory, db-connections) read raw samples of a range selector, from which
the level (window average) and the robust trend are computed with their errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from controller.analysis.units import BYTES, COUNT, NUMBER, RATIO, SECONDS, Unit

Aggregation = Literal["per-pod", "total"]
_SEL = 'namespace="{{ namespace }}",pod=~"{{ pods }}"'
MINUTE = 60.0
TRAFFIC_DEFAULT_WINDOW = 5 * MINUTE
"""The recent window of traffic checks (they also judge everything since their step began)."""
POSTGRES_CONNECTIONS_METRIC = "greenlane_pg_connections_count"
"""Series of ``config/prometheus/postgres-exporter-queries.yaml``: open connections per application_name."""


@dataclass(frozen=True)
class Template:
    """One builtin template for one ``source``.

    ``buckets`` is the per-``le`` request count of a histogram over the window; ``errors`` and ``requests``
    count failed and all requests; ``level`` is an instant query giving one value per track; ``raw`` is a
    range selector whose raw samples give the level and the slope (gauge templates); ``aggregation`` says
    how series combine into the track's value: the mean pod (``per-pod``) or the track's total (``total``).
    """

    name: str
    source: str | None
    unit: Unit
    default_window: float
    inputs: tuple[str, ...]
    description: str
    level: str | None = None
    buckets: str | None = None
    errors: str | None = None
    requests: str | None = None
    raw: str | None = None
    aggregation: Aggregation = "total"
    default_min_requests: int = 0

    @property
    def traffic(self) -> bool:
        return self.buckets is not None or self.requests is not None

    @property
    def key(self) -> str:
        return self.name if self.source is None else f"{self.name} (source: {self.source})"


TRAFFIC_PROBE = (
    f"sum(increase(http_requests_total{{{_SEL}}}[{{{{ window }}}}]))"
    f" or sum(increase(http_request_duration_seconds_count{{{_SEL}}}[{{{{ window }}}}]))"
)
"""Requests a track served in the window; decides whether missing series mean 'no traffic' or 'wrong template'."""

_LATENCY = Template(
    name="latency",
    source=None,
    unit=SECONDS,
    default_window=TRAFFIC_DEFAULT_WINDOW,
    inputs=("http_request_duration_seconds_bucket{namespace,pod,le}", "http_request_duration_seconds_count"),
    description="quantile (default 0.99) of request duration over the window, from the histogram's bucket "
    "counts (interval: order statistics, interpolation error counted)",
    buckets=f"sum by (le) (increase(http_request_duration_seconds_bucket{{{_SEL}}}[{{{{ window }}}}]))",
)
_ERRORS = f'http_requests_total{{{_SEL},status=~"5..|5xx"}}'
_ERROR_RATE = Template(
    name="error-rate",
    source=None,
    unit=RATIO,
    default_window=TRAFFIC_DEFAULT_WINDOW,
    inputs=('http_requests_total{namespace,pod,status} (status "503" or class "5xx")',),
    description="share of requests answered 5xx over the window (interval: Wilson, Newcombe against blue)",
    errors=f"sum(increase({_ERRORS}[{{{{ window }}}}])) or vector(0)",
    requests=f"sum(increase(http_requests_total{{{_SEL}}}[{{{{ window }}}}]))",
)
_MEMORY_CONTAINER = Template(
    name="memory",
    source="container",
    unit=BYTES,
    default_window=30 * MINUTE,
    inputs=("container_memory_working_set_bytes{namespace,pod,container} (cAdvisor)",),
    description="working set of the mean pod (sum of its containers), window average and trend",
    raw=f'container_memory_working_set_bytes{{{_SEL},container=~"{{{{ container }}}}",container!="POD"}}'
    "[{{ window }}]",
    aggregation="per-pod",
)
_MEMORY_PROCESS = Template(
    name="memory",
    source="process",
    unit=BYTES,
    default_window=30 * MINUTE,
    inputs=("process_resident_memory_bytes{namespace,pod} (prometheus_client default)",),
    description="resident memory of the mean pod, window average and trend",
    raw=f"process_resident_memory_bytes{{{_SEL}}}[{{{{ window }}}}]",
    aggregation="per-pod",
)
_DB_SERVER = Template(
    name="db-connections",
    source="server",
    unit=COUNT,
    default_window=30 * MINUTE,
    inputs=(
        f"{POSTGRES_CONNECTIONS_METRIC}{{application_name}} (postgres_exporter with "
        "config/prometheus/postgres-exporter-queries.yaml; application_name = deployment name)",
    ),
    description="open PostgreSQL connections of the whole track, window average and trend",
    raw=f'{POSTGRES_CONNECTIONS_METRIC}{{application_name="{{{{ deployment }}}}"}}[{{{{ window }}}}]',
    aggregation="total",
)
_DB_POOL = Template(
    name="db-connections",
    source="pool",
    unit=COUNT,
    default_window=30 * MINUTE,
    inputs=("db_client_connections_usage{namespace,pod,state} (OpenTelemetry semantic conventions)",),
    description="connections held by the client pools of the whole track (all states), window average and trend",
    raw=f"db_client_connections_usage{{{_SEL}}}[{{{{ window }}}}]",
    aggregation="total",
)
PYTHON_VERSION_QUERY = f"python_info{{{_SEL}}}"
_PYTHON = Template(
    name="python-version",
    source=None,
    unit=NUMBER,
    default_window=5 * MINUTE,
    inputs=("python_info{namespace,pod,version,major,minor} (prometheus_client default)",),
    description="every green pod reports green.expectPython (3.12 matches 3.12.x)",
    level=PYTHON_VERSION_QUERY,
)

DEFAULT_SOURCE: dict[str, str | None] = {
    "latency": None,
    "error-rate": None,
    "memory": "container",
    "db-connections": "server",
    "python-version": None,
}
BUILTIN: dict[tuple[str, str | None], Template] = {
    (t.name, t.source): t
    for t in (_LATENCY, _ERROR_RATE, _MEMORY_CONTAINER, _MEMORY_PROCESS, _DB_SERVER, _DB_POOL, _PYTHON)
}
CUSTOM_DEFAULT_WINDOW = 5 * MINUTE
SLOPE_DEFAULT_WINDOW = 30 * MINUTE


def template_for(name: str, source: str | None) -> Template:
    """The builtin for a check's ``template``/``source``; KeyError for names the model let through by mistake."""
    return BUILTIN[(name, source or DEFAULT_SOURCE[name])]
