"""``greenlane demo``: a blue/green rollout on a local sandbox (real Prometheus, HAProxy, PostgreSQL, Python 3.11/3.12).

Exit 0 when the demo ran to an outcome (promoted, rolled back, held), 1 when it could not run.
"""

from __future__ import annotations

import argparse
import sys

from controller.sandbox import FAULT_KNOBS, MissingDependencyError, SandboxError
from controller.sandbox.demo import run_demo
from controller.sandbox.scenarios import SCENARIOS

DEFAULT_REPORT_DIR = "build/report"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scenarios = "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values())
    parser = subparsers.add_parser(
        "demo",
        help="run a rollout against a local sandbox: real Prometheus, HAProxy, PostgreSQL, Python 3.11 vs 3.12",
        description="Start a local sandbox and drive a rollout through it with the operator's core. "
        f"Scenarios — {scenarios}.",
    )
    parser.add_argument("--scenario", default="healthy", choices=list(SCENARIOS), help="default: healthy")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"green fault overriding the scenario's; keys: {', '.join(FAULT_KNOBS)}",
    )
    parser.add_argument("--blue-python", metavar="PATH", help="blue's interpreter (default: python3.11)")
    parser.add_argument("--green-python", metavar="PATH", help="green's interpreter (default: python3.12)")
    parser.add_argument("--speed", choices=("fast", "realistic"), default="fast", help="default: fast (1s scrapes)")
    parser.add_argument("--json", metavar="PATH", help="write the outcome, weights and evaluations as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the sandbox's state directory (logs, data)")
    parser.add_argument(
        "--report",
        metavar="DIR",
        default=DEFAULT_REPORT_DIR,
        help=f"write the migration report (HTML, JSON, Markdown) here; default: {DEFAULT_REPORT_DIR}; '' for none",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        result = run_demo(
            args.scenario,
            fault_pairs=args.fault,
            blue_python=args.blue_python,
            green_python=args.green_python,
            speed=args.speed,
            keep=args.keep,
            out=lambda line: print(line, flush=True),
            report_dir=args.report or None,
        )
    except MissingDependencyError as exc:
        print(f"greenlane demo: {exc}", file=sys.stderr)
        return 1
    except (SandboxError, ValueError) as exc:
        print(f"greenlane demo: {exc}", file=sys.stderr)
        return 1
    if args.json:
        result.write(args.json)
    return 0
