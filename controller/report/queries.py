"""The PromQL the report runs, per track, with every substituted value validated by ``analysis.promql``.

The headline reads whole-window counters (histogram buckets, requests, errors) at the window's end, and
gauges (memory, connections, CPU, throughput) as range queries; each figure has a list of alternatives
tried in order, because clusters differ (cAdvisor or not, postgres_exporter or pool gauges).
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.analysis.promql import dns_label, format_window, render, string_literal_body
from controller.analysis.templates import POSTGRES_CONNECTIONS_METRIC

SEL = 'namespace="{{ namespace }}",pod=~"{{ pods }}"'
CONTAINERS = 'container!="",container!="POD"'
MIN_RATE_WINDOW = 60.0
MAX_POINTS = 400

BUCKETS = f"sum by (le) (increase(http_request_duration_seconds_bucket{{{SEL}}}[{{{{ window }}}}]))"
REQUESTS = (
    f"sum(increase(http_requests_total{{{SEL}}}[{{{{ window }}}}]))"
    f" or sum(increase(http_request_duration_seconds_count{{{SEL}}}[{{{{ window }}}}]))"
)
ERRORS = f'sum(increase(http_requests_total{{{SEL},status=~"5..|5xx"}}[{{{{ window }}}}])) or vector(0)'
THROUGHPUT = (
    f"avg(sum by (pod) (rate(http_requests_total{{{SEL}}}[{{{{ rate }}}}])))",
    f"avg(sum by (pod) (rate(http_request_duration_seconds_count{{{SEL}}}[{{{{ rate }}}}])))",
)
MEMORY = {
    "container": f"avg(sum by (pod) (container_memory_working_set_bytes{{{SEL},{CONTAINERS}}}))",
    "process": f"avg(sum by (pod) (process_resident_memory_bytes{{{SEL}}}))",
}
CONNECTIONS = {
    "server": f'sum({POSTGRES_CONNECTIONS_METRIC}{{application_name="{{{{ deployment }}}}"}})',
    "pool": f"sum(db_client_connections_usage{{{SEL}}})",
}
CPU = (
    f"avg(sum by (pod) (rate(container_cpu_usage_seconds_total{{{SEL},{CONTAINERS}}}[{{{{ rate }}}}])))",
    f"avg(sum by (pod) (rate(process_cpu_seconds_total{{{SEL}}}[{{{{ rate }}}}])))",
)
LATENCY_QUANTILE = (
    "histogram_quantile({{ quantile }}, sum by (le) "
    f"(rate(http_request_duration_seconds_bucket{{{SEL}}}[{{{{ window }}}}])))"
)
"""The latency check's quantile over its window, as a line in time (the check itself judges bucket counts)."""
ERROR_RATE = f"({ERRORS}) / sum(increase(http_requests_total{{{SEL}}}[{{{{ window }}}}]))"
"""The error-rate check's ratio over its window, as a line in time."""
PODS_REPORTING = f"count(python_info{{{SEL}}})"
OPERATOR_WEIGHT = 'greenlane_rollout_green_weight_percent{namespace="{{ namespace }}",rollout="{{ rollout }}"}'
OPERATOR_VERDICT = 'greenlane_check_verdict{namespace="{{ namespace }}",rollout="{{ rollout }}"} == 1'


@dataclass(frozen=True)
class TrackQuery:
    """One track as the report's queries see it."""

    namespace: str
    deployment: str
    pods: str

    def values(self, window: float, rate: float = MIN_RATE_WINDOW) -> dict[str, str]:
        return {
            "namespace": dns_label(self.namespace, "namespace"),
            "deployment": dns_label(self.deployment, "deployment"),
            "pods": string_literal_body(self.pods),
            "window": format_window(window),
            "rate": format_window(rate),
        }

    def render(self, query: str, window: float, rate: float = MIN_RATE_WINDOW) -> str:
        return render(query, self.values(window, rate))


def range_step(start: float, end: float) -> float:
    """At most ``MAX_POINTS`` points per series, never finer than one second."""
    return float(max(1, -(-int(end - start) // MAX_POINTS)))


def rate_window(step: float) -> float:
    """A rate over at least a minute (four 15 s scrapes) and four steps, so every point sees several samples."""
    return max(MIN_RATE_WINDOW, 4 * step)


def operator_query(query: str, namespace: str, rollout: str) -> str:
    return render(query, {"namespace": dns_label(namespace, "namespace"), "rollout": string_literal_body(rollout)})
