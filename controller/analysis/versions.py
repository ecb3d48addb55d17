"""Which Python each pod runs, from the ``python_info`` series prometheus_client exports by default.

Used twice: by the core's preflight (every pod of a track on ``expectPython`` before traffic moves) and by
the ``python-version`` check, whose failure names the pods on the wrong interpreter (a stale virtualenv,
the wrong base image).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from controller.analysis.promql import dns_label, render, string_literal_body
from controller.analysis.source import MetricSource
from controller.analysis.templates import PYTHON_VERSION_QUERY

PROCESS_START_QUERY = 'max(process_start_time_seconds{namespace="{{ namespace }}",pod=~"{{ pods }}"})'


def python_versions(source: MetricSource, namespace: str, pods_regex: str, at: float) -> dict[str, str]:
    """``{pod: version}`` for every pod of a track reporting ``python_info``; several versions join with ','."""
    query = version_query(namespace, pods_regex)
    found: dict[str, set[str]] = defaultdict(set)
    for series in source.instant(query, at):
        pod = series.labels.get("pod")
        if pod:
            found[pod].add(_version(series.labels))
    return {pod: ",".join(sorted(versions)) for pod, versions in sorted(found.items())}


def version_query(namespace: str, pods_regex: str) -> str:
    """The ``python_info`` query of a track's pods (also what the batch is told to expect)."""
    return render(
        PYTHON_VERSION_QUERY, {"namespace": dns_label(namespace, "namespace"), "pods": string_literal_body(pods_regex)}
    )


def _version(labels: Mapping[str, str]) -> str:
    return labels.get("version") or f"{labels.get('major', '?')}.{labels.get('minor', '?')}"


def matches(version: str, expected: str) -> bool:
    """``3.12.4`` satisfies ``3.12``; ``3.1`` does not satisfy ``3.12`` nor ``3.12`` ``3.1``."""
    return all(v == expected or v.startswith(expected + ".") for v in version.split(","))


def latest_pod_start(source: MetricSource, namespace: str, pods_regex: str, at: float) -> float | None:
    """Start time of the newest pod of a track (``process_start_time_seconds``), to place its warm-up."""
    query = render(
        PROCESS_START_QUERY, {"namespace": dns_label(namespace, "namespace"), "pods": string_literal_body(pods_regex)}
    )
    result = source.instant(query, at)
    return result[0].value if result else None
