"""``greenlane run``: the operator process (in-cluster config unless --kubeconfig is given)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from types import FrameType

import structlog

from controller.clock import SystemClock
from controller.kube.config import KubeConfigError, api_client
from controller.kube.http import parse_addr
from controller.kube.manager import Manager, ManagerConfig
from controller.kube.prometheus_pool import allowed_origin, origin


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("run", help="run the operator", description="Reconcile BlueGreenRollouts.")
    parser.add_argument("--kubeconfig", help="kubeconfig path (default: in-cluster configuration)")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace", action="append", dest="namespaces", metavar="NS", help="watch this namespace (repeatable)"
    )
    scope.add_argument("--all-namespaces", action="store_true", help="watch every namespace (default)")
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
    parser.set_defaults(handler=run)


def configure_logging(fmt: str) -> None:
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
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
        allowed = _prometheus_origins(args.prometheus_url, args.prometheus_allowed_origins)
        api = api_client(args.kubeconfig)
    except (ValueError, KubeConfigError) as exc:
        print(f"greenlane run: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.log_format)
    config = ManagerConfig(
        namespaces=tuple(args.namespaces) if args.namespaces else None,
        leader_elect=args.leader_elect,
        lease_namespace=args.lease_namespace or "default",
        metrics_addr=metrics_addr,
        health_addr=health_addr,
        prometheus_url=args.prometheus_url,
        prometheus_allowed_origins=allowed,
        workers=max(1, args.workers),
    )
    manager = Manager(api, config, SystemClock())

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        manager.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    manager.run()
    return 0
