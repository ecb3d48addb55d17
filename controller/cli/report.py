"""``greenlane report NAME``: the migration report of a rollout, from the cluster and its Prometheus.

Reads the BlueGreenRollout and its Events, takes the window from the status timestamps (or ``--from``/
``--to`` for a backtest), queries the rollout's Prometheus (with the credentials its spec names, as the
operator does) and writes one self-contained HTML file, optionally PNGs, JSON and Markdown.
Exit 0 when written, 1 when the cluster or Prometheus cannot be read, 2 for bad input.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import tempfile
import time
from pathlib import Path

from kubernetes import client as k8s

from controller.analysis import PrometheusSource, SourceUnavailable, UnsafeValue
from controller.cli.analyze import UsageError, parse_time
from controller.cli.cluster import ClusterError, get_rollout, rollout_events
from controller.cli.common import add_cluster_flags, session
from controller.kube.credentials import CredentialError, prometheus_credentials
from controller.model.spec import RolloutSpec
from controller.report import ReportError, build_report, write_html, write_json, write_markdown, write_pngs
from controller.report.cluster import run_from_cluster

USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the migration report of a rollout: green vs blue side by side, charts, steps, verdicts",
        description="Build the migration report of one rollout from its status, events and Prometheus: one "
        "self-contained HTML file (no network needed to open it), optionally PNGs, JSON and Markdown.",
    )
    parser.add_argument("name")
    add_cluster_flags(parser, all_namespaces=False)
    parser.add_argument("--from", dest="start", metavar="TIME", help="window start, RFC 3339 or unix seconds")
    parser.add_argument("--to", dest="end", metavar="TIME", help="window end (default: promotion, rollback or now)")
    parser.add_argument("-o", "--output", metavar="FILE.html", help="default: greenlane-report-<ns>-<name>.html")
    parser.add_argument("--png", metavar="DIR", help="also write every chart as a PNG into DIR")
    parser.add_argument("--json", metavar="FILE", help="also write the report's figures as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="also write the summary and tables as Markdown")
    parser.add_argument("--prometheus", metavar="URL", help="default: spec.analysis.prometheus.address")
    parser.set_defaults(handler=run)


def _source(args: argparse.Namespace, api: k8s.ApiClient, namespace: str, spec: RolloutSpec) -> PrometheusSource:
    config = spec.analysis.prometheus
    url = args.prometheus or config.address
    if not url:
        raise UsageError(
            "the rollout names no Prometheus (spec.analysis.prometheus.address; the operator's --prometheus-url "
            "default is not visible here): give --prometheus URL"
        )
    creds = prometheus_credentials(api, namespace, config)  # only Secrets that opted in, checked values
    ca_file = None
    if creds.ca_pem:
        handle, ca_file = tempfile.mkstemp(prefix="greenlane-report-ca-", suffix=".pem")
        with os.fdopen(handle, "w") as out:
            out.write(creds.ca_pem)
        atexit.register(lambda: Path(ca_file).unlink(missing_ok=True))
    return PrometheusSource(
        url,
        timeout=config.timeout,
        headers=dict(config.headers),
        bearer_token=creds.bearer_token,
        basic_auth=creds.basic_auth,
        ca_file=ca_file,
        insecure_skip_verify=config.insecure_skip_verify,
    )


def _write(args: argparse.Namespace) -> list[Path]:
    start = parse_time(args.start) if args.start else None
    end = parse_time(args.end) if args.end else None
    with session(args) as cluster:
        namespace = cluster.namespace
        obj = get_rollout(cluster, namespace, args.name)
        events = rollout_events(cluster, namespace, args.name)
        spec = RolloutSpec.model_validate(obj.get("spec") or {})
        source = _source(args, cluster.api, namespace, spec)
    try:
        now = time.time()
        run = run_from_cluster(obj, events, source, now, start, end)
        report = build_report(source, run, now)
    finally:
        source.close()
    html = Path(args.output or f"greenlane-report-{namespace}-{args.name}.html")
    written = [write_html(report, html)]
    if args.json:
        written.append(write_json(report, Path(args.json)))
    if args.markdown:
        written.append(write_markdown(report, Path(args.markdown)))
    if args.png:
        written += write_pngs(report, Path(args.png))
    for line in report.summary:
        print(line)
    return written


def run(args: argparse.Namespace) -> int:
    try:
        written = _write(args)
    except (UsageError, UnsafeValue, ReportError, ValueError) as exc:
        return _fail(str(exc), USAGE)
    except ClusterError as exc:
        return _fail(str(exc), exc.exit_code)
    except (CredentialError, SourceUnavailable) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write the report: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
    print("report: " + ", ".join(str(p) for p in written))
    return 0


def _fail(message: str, code: int = 1) -> int:
    print(f"greenlane report: {message.splitlines()[0] if message else 'failed'}", file=sys.stderr)
    return code
