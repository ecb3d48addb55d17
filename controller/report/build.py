"""Build a :class:`Report` from a metric source and the description of one rollout run.

The only entry point that queries: everything after it (HTML, PNG, JSON, Markdown) renders the result.
``SourceUnavailable`` propagates: a report without its metrics would be a page of dashes, so the caller
says "Prometheus unreachable" instead.
"""

from __future__ import annotations

from controller.analysis.measure import TrackRef
from controller.analysis.promql import default_pods_regex, pods_regex
from controller.analysis.source import MetricSource
from controller.analysis.versions import python_versions
from controller.report import queries as q
from controller.report.checks import check_chart
from controller.report.headline import headline_rows
from controller.report.model import Report, RolloutRun, Track
from controller.report.summary import summarize
from controller.report.timeline import step_spans


class ReportError(ValueError):
    """The run cannot be reported: an empty window, a bad pod regex. The message names the value."""


def _pods(run: RolloutRun, track: Track) -> str:
    given = run.pods.get(track)
    deployment = (run.spec.green if track == "green" else run.spec.blue).deployment
    return pods_regex(given) if given else default_pods_regex(deployment)


def _versions(source: MetricSource, run: RolloutRun, refs: dict[Track, TrackRef]) -> dict[Track, dict[str, str]]:
    """Python per pod as the run recorded it, else as ``python_info`` reported it during the window."""
    out: dict[Track, dict[str, str]] = {}
    for track, ref in refs.items():
        known = dict(run.python_versions.get(track, {}))
        for at in (run.end, run.judged_from):
            if known:
                break
            known = python_versions(source, run.namespace, ref.pods, at)
        out[track] = known
    return out


def build_report(source: MetricSource, run: RolloutRun, now: float) -> Report:
    if not run.end > run.start:
        raise ReportError(f"empty report window: from {run.start} to {run.end}; --to must be after --from")
    spec = run.spec
    refs: dict[Track, TrackRef] = {
        "green": TrackRef(run.namespace, spec.green.deployment, _pods(run, "green"), spec.green.container),
        "blue": TrackRef(run.namespace, spec.blue.deployment, _pods(run, "blue"), spec.blue.container),
    }
    tracks = {t: q.TrackQuery(r.namespace, r.deployment, r.pods) for t, r in refs.items()}
    rows, notes = headline_rows(source, run, tracks)
    charts = tuple(check_chart(source, run, refs, check, notes) for check in spec.analysis.checks)
    steps = tuple(step_spans(run))
    versions = _versions(source, run, refs)
    summary = summarize(run, rows, steps, versions)
    if run.source_note:
        notes.insert(0, run.source_note)
    prometheus = getattr(source, "url", "")
    return Report(run, now, tuple(rows), charts, steps, summary, tuple(notes), versions, str(prometheus))
