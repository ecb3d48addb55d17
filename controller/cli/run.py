"""``greenlane run``: the operator process (in-cluster config unless --kubeconfig is given)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import replace
from types import FrameType
from typing import TextIO, cast

import structlog

from controller.clock import SystemClock
from controller.kube.config import KubeConfigError, api_client
from controller.kube.http import parse_addr
from controller.kube.manager import Manager, ManagerConfig
from controller.kube.memdebug import install as install_memory_snapshots
from controller.kube.prometheus_pool import allowed_origin, origin
from controller.kube.ratelimit import DEFAULT_BURST, DEFAULT_QPS, Limits
from controller.kube.reconciler import BatchSettings
from controller.kube.shards import MAX_SHARDS
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
    _scale_flags(parser)
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


# ---- fleet scale (issue 15): sharding, the API write budget, batched Prometheus, resync ---------------
def _scale_flags(parser: argparse.ArgumentParser) -> None:
    scale = parser.add_argument_group("fleet scale")
    scale.add_argument(
        "--shards",
        type=int,
        default=1,
        help=f"split rollouts into N shards, each with its own Lease, shared among the replicas (1..{MAX_SHARDS}; "
        "default 1: one leader)",
    )
    scale.add_argument(
        "--api-qps", type=float, default=DEFAULT_QPS, help=f"API writes per second (default {DEFAULT_QPS:g})"
    )
    scale.add_argument(
        "--api-burst", type=int, default=DEFAULT_BURST, help=f"API writes allowed in a burst (default {DEFAULT_BURST})"
    )
    scale.add_argument(
        "--resync",
        type=_seconds,
        default=600.0,
        metavar="DURATION",
        help="look at every rollout at least this often, from the cache, without API reads (default 10m)",
    )
    scale.add_argument(
        "--evaluation-round",
        type=_seconds,
        default=10.0,
        metavar="DURATION",
        help="rollouts evaluated within one round share one Prometheus query per template (default 10s; 0: off)",
    )
    scale.add_argument(
        "--prometheus-concurrency",
        type=int,
        default=4,
        help="grouped Prometheus queries in flight per endpoint (default 4)",
    )
    for flag, default, what in (
        ("--lease-duration", "15s", "how long a Lease is valid without renewal"),
        ("--renew-deadline", "10s", "a holder that cannot renew within this stops writing"),
        ("--retry-period", "2s", "how often Leases are renewed and candidates look"),
    ):
        scale.add_argument(
            flag, type=_seconds, default=parse_duration(default), metavar="DURATION", help=f"{what} (default {default})"
        )


def _scale_config(args: argparse.Namespace, base: ManagerConfig) -> ManagerConfig:
    """``base`` with the fleet-scale flags applied; ValueError names the flag."""
    if not 1 <= args.shards <= MAX_SHARDS:
        raise ValueError(f"--shards must be 1..{MAX_SHARDS} (got {args.shards})")
    if not args.retry_period < args.renew_deadline < args.lease_duration:
        raise ValueError(
            "--retry-period < --renew-deadline < --lease-duration is required "
            f"(got {args.retry_period:g}s, {args.renew_deadline:g}s, {args.lease_duration:g}s)"
        )
    if args.prometheus_concurrency < 1 or args.resync <= 0 or args.evaluation_round < 0:
        raise ValueError("--prometheus-concurrency >= 1, --resync > 0 and --evaluation-round >= 0 are required")
    return replace(
        base,
        shards=args.shards,
        limits=Limits(qps=args.api_qps, burst=args.api_burst),
        resync=args.resync,
        evaluation_round=args.evaluation_round,
        batching=(
            BatchSettings(concurrency=args.prometheus_concurrency, horizon=args.evaluation_round)
            if args.evaluation_round > 0
            else None
        ),
        lease_duration=args.lease_duration,
        renew_deadline=args.renew_deadline,
        retry_period=args.retry_period,
    )


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
        _scale_config(args, ManagerConfig())  # bad scale flags are refused before any connection
        api = api_client(getattr(args, "kubeconfig", None), getattr(args, "context", None))
    except (ValueError, KubeConfigError) as exc:
        print(f"greenlane run: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.log_format)
    base = ManagerConfig(
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
    manager = Manager(api, _scale_config(args, base), SystemClock())

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        manager.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    install_memory_snapshots()  # opt-in (GREENLANE_MEMORY_SNAPSHOTS): the soak bench's leak hunt
    manager.run()
    return 0


def _namespaces(args: argparse.Namespace) -> tuple[str, ...] | None:
    """``run -n a -n b``, or a global ``-n a`` given before the subcommand; None watches every namespace."""
    if args.namespaces:
        return tuple(args.namespaces)
    single = getattr(args, "namespace", None)
    return (single,) if single and not args.all_namespaces else None
