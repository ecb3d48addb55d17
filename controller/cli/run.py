"""``greenlane run``: the operator process (in-cluster config unless --kubeconfig is given)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping
from types import FrameType
from typing import TextIO, cast

import structlog

from controller.clock import SystemClock
from controller.kube.config import KubeConfigError, api_client
from controller.kube.http import parse_addr
from controller.kube.manager import Manager, ManagerConfig
from controller.kube.prometheus_pool import allowed_origin, origin
from controller.model.notify import SEVERITIES, SinkType
from controller.model.quantities import parse_duration
from controller.notify import Sink


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("run", help="run the operator", description="Reconcile BlueGreenRollouts.")
    parser.add_argument(
        "--kubeconfig", default=argparse.SUPPRESS, help="kubeconfig path (default: in-cluster configuration)"
    )
    parser.add_argument("--context", default=argparse.SUPPRESS, help="kubeconfig context (with --kubeconfig)")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n", "--namespace", action="append", dest="namespaces", metavar="NS", help="watch this namespace (repeatable)"
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (default)")
    parser.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="hold a Lease so that only one replica writes (default: on)",
    )
    parser.add_argument(
        "--lease-namespace",
        default=os.environ.get("POD_NAMESPACE"),
        help="namespace of the leader Lease (default: $POD_NAMESPACE, else default)",
    )
    parser.add_argument("--metrics-addr", default=":8080", help="HOST:PORT for /metrics (default :8080)")
    parser.add_argument("--health-addr", default=":8081", help="HOST:PORT for /healthz and /readyz (default :8081)")
    parser.add_argument("--log-format", choices=("json", "console"), default="json")
    parser.add_argument(
        "--prometheus-url", help="Prometheus for rollouts that name none (its origin is always allowed)"
    )
    parser.add_argument(
        "--prometheus-allowed-origin",
        action="append",
        default=[],
        dest="prometheus_allowed_origins",
        metavar="ORIGIN",
        help="scheme://host[:port] a rollout's spec.analysis.prometheus.address may point at (repeatable); "
        "default: only the origin of --prometheus-url",
    )
    parser.add_argument("--workers", type=int, default=4, help="concurrent reconciles (default 4)")
    parser.add_argument(
        "--finalizer-timeout",
        type=_seconds,
        default=300.0,
        metavar="DURATION",
        help="how long a deleted rollout waits for green to reach 0%% before it is let go anyway (default 5m)",
    )
    notify = parser.add_argument_group(
        "notifications for every rollout (URLs are secrets: prefer the environment variables, set from a Secret)"
    )
    for sink, (flag, env) in SINK_FLAGS.items():
        notify.add_argument(flag, default=os.environ.get(env), metavar="URL", help=f"{sink} webhook (default: ${env})")
    notify.add_argument(
        "--notify-severity",
        choices=SEVERITIES,
        default=os.environ.get("GREENLANE_NOTIFY_SEVERITY", "warning"),
        help="least severity sent to the operator-wide webhooks (default: warning)",
    )
    parser.set_defaults(handler=run)


def _seconds(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a duration such as 30s or 5m (got {text!r})") from exc


SINK_FLAGS = {
    "slack": ("--slack-webhook-url", "GREENLANE_SLACK_WEBHOOK_URL"),
    "teams": ("--teams-webhook-url", "GREENLANE_TEAMS_WEBHOOK_URL"),
    "webhook": ("--webhook-url", "GREENLANE_WEBHOOK_URL"),
}


def notify_sinks(args: argparse.Namespace) -> tuple[Sink, ...]:
    """Operator-wide destinations from flags or environment; a URL that is not http(s) is a usage error."""
    sinks = []
    for sink, (flag, _) in SINK_FLAGS.items():
        url = getattr(args, flag.lstrip("-").replace("-", "_"))
        if not url:
            continue
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"{flag}: expected an http(s) URL")
        sinks.append(Sink(cast(SinkType, sink), url, severity=args.notify_severity))
    return tuple(sinks)


def console_colours(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Colour only for a human at a terminal: never into files or pipes, never with NO_COLOR or TERM=dumb."""
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def configure_logging(fmt: str, stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=console_colours(stream, os.environ))
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(stream),
    )


def _prometheus_origins(url: str | None, allowed: list[str]) -> tuple[str, ...]:
    """Check the flags up front: a typo must stop the operator, not make every rollout Invalid."""
    if url:
        try:
            origin(url)
        except ValueError as exc:
            raise ValueError(f"--prometheus-url: {exc}") from None
    out = []
    for text in allowed:
        try:
            out.append(allowed_origin(text))
        except ValueError as exc:
            raise ValueError(f"--prometheus-allowed-origin: {exc}") from None
    return tuple(out)


def run(args: argparse.Namespace) -> int:
    try:
        metrics_addr = parse_addr(args.metrics_addr, "--metrics-addr")
        health_addr = parse_addr(args.health_addr, "--health-addr")
        sinks = notify_sinks(args)
        allowed = _prometheus_origins(args.prometheus_url, args.prometheus_allowed_origins)
        api = api_client(getattr(args, "kubeconfig", None), getattr(args, "context", None))
    except (ValueError, KubeConfigError) as exc:
        print(f"greenlane run: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.log_format)
    config = ManagerConfig(
        namespaces=_namespaces(args),
        leader_elect=args.leader_elect,
        lease_namespace=args.lease_namespace or "default",
        metrics_addr=metrics_addr,
        health_addr=health_addr,
        prometheus_url=args.prometheus_url,
        prometheus_allowed_origins=allowed,
        workers=max(1, args.workers),
        finalizer_timeout=args.finalizer_timeout,
        notify_sinks=sinks,
    )
    manager = Manager(api, config, SystemClock())

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        manager.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    manager.run()
    return 0


def _namespaces(args: argparse.Namespace) -> tuple[str, ...] | None:
    """``run -n a -n b``, or a global ``-n a`` given before the subcommand; None watches every namespace."""
    if args.namespaces:
        return tuple(args.namespaces)
    single = getattr(args, "namespace", None)
    return (single,) if single and not args.all_namespaces else None
