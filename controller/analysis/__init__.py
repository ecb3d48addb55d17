"""Analysis: builtin templates, safe PromQL rendering, per-check judgement (levels, ratios, slopes), sources.

Public API (what the core's callers use)::

    evaluate_rollout(spec, status, source, namespace=..., now=..., blue_pods=..., green_pods=...)
        -> list[CheckResult]   (the operator's, demo's and analyze's one judging path)
    evaluate(spec, source, namespace=..., at=..., blue_pods=..., green_pods=..., judging=...)
    python_versions(source, namespace, pods_regex, at) -> dict[pod, version]
    latest_pod_start(source, namespace, pods_regex, at) -> float | None
    default_pods_regex(deployment, pod_template_hash=None) -> str
    PrometheusSource(url, timeout=..., headers=..., bearer_token=..., basic_auth=..., ca_file=...)
"""

from controller.analysis.evaluate import evaluate, evaluate_rollout
from controller.analysis.prometheus import PrometheusSource
from controller.analysis.promql import UnsafeValue, default_pods_regex
from controller.analysis.source import MetricSource, QueryRejected, Series, SourceUnavailable
from controller.analysis.versions import latest_pod_start, python_versions

__all__ = [
    "MetricSource",
    "PrometheusSource",
    "QueryRejected",
    "Series",
    "SourceUnavailable",
    "UnsafeValue",
    "default_pods_regex",
    "evaluate",
    "evaluate_rollout",
    "latest_pod_start",
    "python_versions",
]
