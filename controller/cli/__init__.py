"""The ``greenlane`` command line (also installed as ``kubectl-greenlane``, a kubectl plugin).

Each subcommand lives in its own module with a ``register(subparsers)`` function; this module only
wires them together and turns unexpected user-facing failures into a one-line message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from controller import __version__
from controller.cli import analyze, crd, demo, oncall, plan, report, run, templates, validate

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
COMMANDS: tuple[Register, ...] = (
    validate.register,
    plan.register,
    analyze.register,
    templates.register,
    crd.register,
    oncall.register,
    run.register,
    demo.register,
    report.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="greenlane",
        description="Weighted blue/green rollouts between two live Deployments, judged against blue.",
    )
    parser.add_argument("--version", action="version", version=f"greenlane {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
