"""``greenlane version`` and ``greenlane completion bash|zsh|fish``."""

from __future__ import annotations

import argparse
import json
import platform
from importlib import metadata

import yaml
from argcomplete.shell_integration import shellcode

from controller import __version__

SHELLS = ("bash", "zsh", "fish")
EXECUTABLES = ("greenlane", "kubectl-greenlane")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    version = subparsers.add_parser("version", help="print the client version", description="Print the version.")
    version.add_argument("-o", "--output", choices=("json", "yaml", "short"), help="json, yaml or short")
    version.set_defaults(handler=run_version)
    completion = subparsers.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script. bash: source <(greenlane completion bash); "
        "zsh: source <(greenlane completion zsh); fish: greenlane completion fish | source",
    )
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(handler=run_completion)


def versions() -> dict[str, str]:
    return {
        "greenlane": __version__,
        "python": platform.python_version(),
        "kubernetesClient": metadata.version("kubernetes"),
    }


def run_version(args: argparse.Namespace) -> int:
    info = versions()
    if args.output == "json":
        print(json.dumps(info, indent=2))
    elif args.output == "yaml":
        print(yaml.safe_dump(info, sort_keys=False).rstrip("\n"))
    elif args.output == "short":
        print(info["greenlane"])
    else:
        print(
            f"{args.prog} {info['greenlane']} (Python {info['python']}, kubernetes client {info['kubernetesClient']})"
        )
    return 0


def run_completion(args: argparse.Namespace) -> int:
    print(shellcode(list(EXECUTABLES), shell=args.shell))
    return 0
