"""What every cluster command shares: kubectl's global flags, the connection, and one-line failures.

Global flags (``--kubeconfig``, ``--context``, ``-n/--namespace``, ``-A``) are declared on the top-level
parser *and* on each cluster subcommand with ``default=SUPPRESS``, so ``greenlane -n shop get x`` and
``greenlane get x -n shop`` both work (and a subcommand's default never erases a value given before it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

from controller.cli.cluster import Cluster, ClusterError, connect


def add_cluster_flags(parser: argparse.ArgumentParser, *, all_namespaces: bool = True) -> None:
    group = parser.add_argument_group("cluster flags (also accepted before the command)")
    group.add_argument(
        "--kubeconfig", default=argparse.SUPPRESS, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    group.add_argument("--context", default=argparse.SUPPRESS, help="kubeconfig context (default: the current one)")
    group.add_argument("-n", "--namespace", default=argparse.SUPPRESS, help="namespace (default: the context's)")
    if all_namespaces:
        group.add_argument(
            "-A", "--all-namespaces", action="store_true", default=argparse.SUPPRESS, help="every namespace"
        )


def flag(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    return getattr(args, name, default)


def prog(args: argparse.Namespace) -> str:
    return str(flag(args, "prog", "greenlane"))


def error(args: argparse.Namespace, message: str) -> None:
    print(f"{prog(args)}: {message}", file=sys.stderr)


@contextmanager
def session(args: argparse.Namespace) -> Iterator[Cluster]:
    cluster = connect(flag(args, "kubeconfig"), flag(args, "context"), flag(args, "namespace"))
    try:
        yield cluster
    finally:
        cluster.close()


Handler = Callable[[argparse.Namespace], int]


def one_line_failures(handler: Handler) -> Handler:
    """Turn a :class:`ClusterError` into its one line on stderr and its exit code (never a traceback)."""

    @wraps(handler)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ClusterError as exc:
            error(args, str(exc))
            return exc.exit_code

    return wrapped
