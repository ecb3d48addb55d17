"""``greenlane validate``: check manifests offline, one line per resource or per problem.

Files, directories (``-R`` recursively) and stdin; every line names ``file:line`` of the field at fault.
Other kinds in the same files (the Deployments and Services a rollout needs) are noted and skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator

from controller.model.limits import MAX_INPUT_BYTES
from controller.model.load import Loaded, Parsed, Problem, parse_manifests

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check BlueGreenRollout manifests without a cluster",
        description="Validate BlueGreenRollout manifests: files, directories (-R: recursively) or '-' for stdin; "
        "other kinds are noted and skipped. Exit 0 when every rollout is valid, 1 when any problem is found.",
    )
    add_file_arguments(parser)
    parser.set_defaults(handler=run)


def add_file_arguments(parser: argparse.ArgumentParser) -> None:
    """``FILE …`` and ``-f FILE`` (repeatable, ``-`` for stdin), as kubectl users expect."""
    parser.add_argument("files", nargs="*", metavar="FILE", help="manifest files (same as -f)")
    parser.add_argument("-f", "--filename", action="append", default=[], metavar="FILE", dest="filenames")
    parser.add_argument(
        "-R", "--recursive", action="store_true", help="read directories given with -f recursively, like kubectl"
    )


def file_names(args: argparse.Namespace, command: str) -> list[str] | None:
    """The files given, or None after printing a usage hint when there are none."""
    names: list[str] = [*args.filenames, *args.files]
    if not names:
        print(f"greenlane {command}: give at least one file (-f FILE, or - for stdin)", file=sys.stderr)
        return None
    return names


def expand(names: Iterable[str], recursive: bool = False) -> Iterator[str | Problem]:
    """Files as given; directories become their manifest files (sorted), all the way down with ``recursive``."""
    for name in names:
        if name == "-" or not os.path.isdir(name):
            yield name
            continue
        found = sorted(_manifests(name, recursive))
        if not found:
            depth = "" if recursive else " (use -R for subdirectories)"
            yield Problem(name, 0, "", f"directory holds no {', '.join(MANIFEST_SUFFIXES)} files{depth}")
        yield from found


def _manifests(directory: str, recursive: bool) -> Iterator[str]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        yield from (os.path.join(root, f) for f in files if f.endswith(MANIFEST_SUFFIXES))


def read_sources(names: Iterable[str | Problem]) -> Iterable[tuple[str, str | Problem]]:
    """Yield (name, text) per input, or (name, Problem) when it cannot be read or is too large to read."""
    for name in names:
        if isinstance(name, Problem):
            yield name.source, name
            continue
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


def load_manifests(names: Iterable[str], recursive: bool = False) -> Parsed:
    total = Parsed()
    for name, content in read_sources(expand(names, recursive)):
        if isinstance(content, Problem):
            total.problems.append(content)
            continue
        parsed = parse_manifests(content, name)
        total.loaded.extend(parsed.loaded)
        total.problems.extend(parsed.problems)
        total.skipped.extend(parsed.skipped)
    return total


def load_all(names: Iterable[str], recursive: bool = False) -> tuple[list[Loaded], list[Problem]]:
    parsed = load_manifests(names, recursive)
    return parsed.loaded, parsed.problems


def run(args: argparse.Namespace) -> int:
    names = file_names(args, "validate")
    if names is None:
        return 2
    parsed = load_manifests(names, args.recursive)
    for item in parsed.loaded:
        spec = item.rollout.spec
        weights = "/".join(str(s.weight) for s in spec.steps)
        print(
            f"{item.source}:{item.line} {item.rollout.key}: valid "
            f"({spec.traffic_routing.kind}, steps {weights}, {len(spec.analysis.checks)} checks)"
        )
    for note in parsed.skipped:
        print(note)
    for problem in parsed.problems:
        print(problem, file=sys.stderr if parsed.loaded else sys.stdout)
    return 1 if parsed.problems else 0
