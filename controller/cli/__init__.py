"""The ``greenlane`` command line (also installed as ``kubectl-greenlane``, a kubectl plugin).

Each subcommand lives in its own module with a ``register(subparsers)`` function; this module wires
them together, accepts kubectl's global flags before the subcommand too, names itself
``kubectl greenlane`` when run as the plugin, offers shell completion (argcomplete) and turns
interrupts and closed pipes into quiet exits.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

import argcomplete

from controller import __version__
from controller.cli import analyze, crd, demo, meta, oncall, plan, report, run, templates, validate
from controller.cli.common import add_cluster_flags

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
COMMANDS: tuple[Register, ...] = (
    oncall.register,
    validate.register,
    plan.register,
    analyze.register,
    templates.register,
    crd.register,
    run.register,
    demo.register,
    report.register,
    meta.register,
)
PLUGIN = "kubectl-greenlane"


def program_name(argv0: str | None = None) -> str:
    """``kubectl greenlane`` when kubectl runs us as its plugin (``kubectl-greenlane``), else ``greenlane``."""
    name = os.path.basename(argv0 if argv0 is not None else sys.argv[0])
    return "kubectl greenlane" if name.startswith(PLUGIN) else "greenlane"


def build_parser(prog: str = "greenlane") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Weighted blue/green rollouts between two live Deployments, judged against blue.",
        epilog="Exit codes: 0 ok; 1 failed (not found, forbidden, rolled back...); 2 usage (status: timeout); "
        "3 API server unreachable. Completion: greenlane completion bash|zsh|fish.",
    )
    parser.add_argument("--version", action="version", version=f"{prog} {__version__}")
    add_cluster_flags(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(subparsers)
    parser.set_defaults(prog=prog)
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog or program_name())
    argcomplete.autocomplete(parser)  # returns at once unless the shell asks for completions
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
