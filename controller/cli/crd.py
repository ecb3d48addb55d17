"""``greenlane crd``: print the CustomResourceDefinition generated from the models."""

from __future__ import annotations

import argparse
import sys

from controller.model.crd import crd_yaml


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "crd",
        help="print the BlueGreenRollout CRD",
        description="Print the CustomResourceDefinition (apply it with: greenlane crd | kubectl apply -f -).",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(crd_yaml())
    return 0
