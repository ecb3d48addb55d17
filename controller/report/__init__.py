"""The migration report: green (3.12) against blue (3.11), measured side by side over a rollout.

Public API::

    build_report(source, run, now) -> Report          # queries the MetricSource (range queries)
    write_html(report, path); write_pngs(report, dir); write_json(report, path); write_markdown(report, path)
    RolloutRun(...)                                   # the rollout as it ran: spec, window, weights, evaluations
    run_from_cluster(obj, events, ...)               # a RolloutRun from a BlueGreenRollout and its Events
    write_demo_report(prometheus_url, result, out_dir) # what ``greenlane demo`` calls at its end

An adapter layer: it reads metrics through ``controller.analysis``'s MetricSource and writes files;
it never talks to the API server (the CLI hands it the rollout and its events).
"""

from controller.report.build import ReportError, build_report
from controller.report.model import EvaluatedCheck, Evaluation, Event, Report, RolloutRun
from controller.report.stats import Estimate
from controller.report.write import write_html, write_json, write_markdown, write_pngs

__all__ = [
    "Estimate",
    "EvaluatedCheck",
    "Evaluation",
    "Event",
    "Report",
    "ReportError",
    "RolloutRun",
    "build_report",
    "write_html",
    "write_json",
    "write_markdown",
    "write_pngs",
]
