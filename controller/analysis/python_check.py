"""The ``python-version`` check: every green pod reports ``green.expectPython``; failures name the pods."""

from __future__ import annotations

from collections.abc import Callable

from controller.analysis.measure import TrackRef
from controller.analysis.source import MetricSource
from controller.analysis.templates import template_for
from controller.analysis.versions import matches, python_versions
from controller.core.results import FAIL, INCONCLUSIVE, PASS, CheckResult
from controller.model.spec import Check

MAX_NAMED_PODS = 5


def judge_python_version(
    check: Check,
    *,
    source: MetricSource,
    green: TrackRef,
    expected: str | None,
    at: float,
    serving: Callable[[], tuple[bool, str]],
) -> CheckResult:
    """Fail naming off-version pods; missing ``python_info`` is a Fail only while green serves traffic."""
    name = check.name
    if expected is None:
        return CheckResult(name, FAIL, f"{name}: green.expectPython is not set", threshold="expectPython")
    versions = python_versions(source, green.namespace, green.pods, at)
    threshold = f"every pod on {expected}"
    if not versions:
        is_serving, evidence = serving()
        inputs = ", ".join(template_for("python-version", None).inputs)
        if is_serving:
            return CheckResult(
                name,
                FAIL,
                f"{name}: the python-version template found no series for green pods "
                f"{green.pods!r} although {evidence}; it reads {inputs}",
                threshold=threshold,
            )
        return CheckResult(
            name,
            INCONCLUSIVE,
            f"{name}: no python_info series for green and green has no traffic ({evidence})",
            threshold=threshold,
        )
    wrong = {pod: v for pod, v in versions.items() if not matches(v, expected)}
    if wrong:
        named = ", ".join(f"{pod} ({v})" for pod, v in list(wrong.items())[:MAX_NAMED_PODS])
        more = f" and {len(wrong) - MAX_NAMED_PODS} more" if len(wrong) > MAX_NAMED_PODS else ""
        message = f"{name}: {len(wrong)} of {len(versions)} green pods not on Python {expected}: {named}{more}"
        return CheckResult(name, FAIL, message, green=float(len(wrong)), threshold=threshold, samples=len(versions))
    seen = ", ".join(sorted(set(versions.values())))
    return CheckResult(
        name,
        PASS,
        f"{name}: all {len(versions)} green pods on Python {expected} ({seen})",
        green=0.0,
        threshold=threshold,
        samples=len(versions),
    )
