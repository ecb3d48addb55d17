"""``greenlane validate``: check manifests offline, one line per resource or per problem."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from controller.model.limits import MAX_INPUT_BYTES
from controller.model.load import Loaded, Problem, parse_documents


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check BlueGreenRollout manifests without a cluster",
        description="Validate BlueGreenRollout manifests (multi-document YAML; '-' reads stdin). "
        "Exit 0 when every resource is valid, 1 when any problem is found.",
    )
    add_file_arguments(parser)
    parser.set_defaults(handler=run)


def add_file_arguments(parser: argparse.ArgumentParser) -> None:
    """``FILE …`` and ``-f FILE`` (repeatable, ``-`` for stdin), as kubectl users expect."""
    parser.add_argument("files", nargs="*", metavar="FILE", help="manifest files (same as -f)")
    parser.add_argument("-f", "--filename", action="append", default=[], metavar="FILE", dest="filenames")


def file_names(args: argparse.Namespace, command: str) -> list[str] | None:
    """The files given, or None after printing a usage hint when there are none."""
    names: list[str] = [*args.filenames, *args.files]
    if not names:
        print(f"greenlane {command}: give at least one file (-f FILE, or - for stdin)", file=sys.stderr)
        return None
    return names


def read_sources(names: Iterable[str]) -> Iterable[tuple[str, str | Problem]]:
    """Yield (name, text) per input, or (name, Problem) when it cannot be read or is too large to read."""
    for name in names:
        label = "<stdin>" if name == "-" else name
        try:
            if name == "-":
                text = sys.stdin.read(MAX_INPUT_BYTES + 1)
            else:
                with open(name, encoding="utf-8") as handle:
                    text = handle.read(MAX_INPUT_BYTES + 1)  # characters: never more than 4x this in memory
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            yield label, Problem(label, 0, "", f"cannot read: {reason}")
            continue
        if len(text) > MAX_INPUT_BYTES:
            limit = MAX_INPUT_BYTES // 2**20
            problem = f"larger than {limit} MiB; greenlane reads at most that at once (an object is at most 1.5 MiB)"
            yield label, Problem(label, 0, "", problem)
            continue
        yield label, text


def load_all(names: Iterable[str]) -> tuple[list[Loaded], list[Problem]]:
    loaded: list[Loaded] = []
    problems: list[Problem] = []
    for name, content in read_sources(names):
        if isinstance(content, Problem):
            problems.append(content)
            continue
        ok, bad = parse_documents(content, name)
        loaded.extend(ok)
        problems.extend(bad)
    return loaded, problems


def run(args: argparse.Namespace) -> int:
    names = file_names(args, "validate")
    if names is None:
        return 2
    loaded, problems = load_all(names)
    for item in loaded:
        spec = item.rollout.spec
        weights = "/".join(str(s.weight) for s in spec.steps)
        print(
            f"{item.source}:{item.document} {item.rollout.key}: valid "
            f"({spec.traffic_routing.kind}, steps {weights}, {len(spec.analysis.checks)} checks)"
        )
    for problem in problems:
        print(problem, file=sys.stderr if loaded else sys.stdout)
    return 1 if problems else 0
