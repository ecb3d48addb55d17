"""On-call commands: ``get``, ``list``, ``status`` and the control verbs ``promote abort retry pause resume``.

Control verbs write the ``greenlane.dev/command`` annotation (id, command, user, at): visible in the
audit log, needing only ``patch`` on ``bluegreenrollouts``. The user is who the API server says we are
(SelfSubjectReview). A verb is written only once the previous command was applied, through a JSON
Patch guarded by a ``test`` of the annotation, so two people acting at once never lose a command.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any

from controller.cli import exits
from controller.cli.cluster import (
    Cluster,
    ClusterError,
    CommandWriter,
    get_rollout,
    list_rollouts,
    rollout_events,
    whoami,
)
from controller.cli.common import add_cluster_flags, error, flag, one_line_failures, session
from controller.cli.output import LIST_FORMATS, OBJECT_FORMATS, console, format_objects, live_capable
from controller.cli.rollout_table import rollout_table
from controller.cli.view import Snapshot, change_lines, render
from controller.cli.watching import Poller, parse_timeout, status_verdict, watch_live, watch_plain
from controller.kube.rollouts import COMMANDS

Json = dict[str, Any]
HELP = {
    "promote": "lift the current step's pause (a manual gate or the rest of its bake); --full skips the rest",
    "abort": "roll back to blue now and stay Aborted",
    "retry": "start again from step 1 after a rollback, abort or pause",
    "pause": "hold the current weight until resume",
    "resume": "continue a paused rollout",
    "promote-full": "skip the remaining steps: green to 100% and promoted once the router reads it",
}


def _name_argument(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    action = parser.add_argument("name", nargs="?" if optional else None, metavar="NAME", help="the rollout")
    action.completer = complete_rollouts  # type: ignore[attr-defined]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    get = subparsers.add_parser(
        "get",
        help="show a rollout: phase, step, weights, checks green vs blue, events (-w: live until it ends)",
        description="Show one rollout (all of them without NAME). -w redraws in place on a terminal, prints a "
        "line per change when piped, and exits when the rollout is Promoted, RolledBack or Aborted.",
    )
    _name_argument(get, optional=True)
    add_cluster_flags(get)
    get.add_argument("-w", "--watch", action="store_true", help="follow changes until the rollout ends")
    get.add_argument("-o", "--output", choices=LIST_FORMATS, help="json, yaml, name (wide: for lists)")
    get.add_argument("-l", "--selector", help="label selector, when listing")
    get.add_argument("--interval", type=float, default=2.0, help=argparse.SUPPRESS)
    get.set_defaults(handler=run_get)

    lst = subparsers.add_parser("list", help="list rollouts", description="One line per rollout.")
    add_cluster_flags(lst)
    lst.add_argument("-l", "--selector", help="label selector, e.g. team=payments,tier!=batch")
    lst.add_argument("-o", "--output", choices=LIST_FORMATS, help="json, yaml, name or wide")
    lst.set_defaults(handler=run_list)

    status = subparsers.add_parser(
        "status",
        help="wait for a rollout to finish: exit 0 promoted, 1 rolled back/aborted/invalid, 2 timeout",
        description="Wait until the rollout is Promoted (exit 0), RolledBack, Aborted or Invalid (exit 1), or "
        "the timeout passes (exit 2); 3 when the API server cannot be reached. The reason is printed on one line.",
    )
    _name_argument(status)
    add_cluster_flags(status, all_namespaces=False)
    status.add_argument("--timeout", default="0", help="e.g. 30s, 10m, 1h (default 0: no limit)")
    status.add_argument("--interval", type=float, default=2.0, help=argparse.SUPPRESS)
    status.set_defaults(handler=run_status)

    for verb in COMMANDS:
        cmd = subparsers.add_parser(verb, help=HELP[verb], description=HELP[verb].capitalize() + ".")
        _name_argument(cmd)
        add_cluster_flags(cmd, all_namespaces=False)
        if verb == "promote":
            cmd.add_argument(
                "--full",
                action="store_true",
                help="skip every remaining step and go to 100%% (for when blue is the broken side)",
            )
        cmd.add_argument(
            "--wait", type=float, default=0, metavar="SECONDS", help="wait until the operator has applied the command"
        )
        cmd.add_argument(
            "--pending-timeout",
            type=float,
            default=30.0,
            metavar="SECONDS",
            help="how long to wait for a previous command to be applied before giving up (default 30)",
        )
        cmd.set_defaults(handler=run_command, verb=verb)


def complete_rollouts(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """Shell completion of rollout names (argcomplete); silent on any failure."""
    try:
        with session(parsed_args) as cluster:
            items = list_rollouts(cluster, cluster.namespace)
    except Exception:
        return []
    names = [str((o.get("metadata") or {}).get("name", "")) for o in items]
    return [n for n in names if n.startswith(prefix)]


# -- get / list ------------------------------------------------------------------------------------


@one_line_failures
def run_get(args: argparse.Namespace) -> int:
    if not args.name:
        return run_list(args)
    if args.output == "wide":
        args.output = None  # one rollout's view is already complete
    with session(args) as cluster:
        namespace = cluster.namespace
        if args.watch:
            return _watch(args, cluster, namespace)
        obj = get_rollout(cluster, namespace, args.name)
        if args.output in OBJECT_FORMATS:
            print(format_objects([obj], args.output, single=True))
            return exits.OK
        snapshot = Snapshot.from_object(obj, rollout_events(cluster, namespace, args.name), datetime.now(UTC))
        console().print(render(snapshot))
    return exits.OK


def _watch(args: argparse.Namespace, cluster: Cluster, namespace: str) -> int:
    poller = Poller(cluster, namespace, args.name, interval=max(0.05, args.interval))
    if args.output in OBJECT_FORMATS:
        return poller.stream_objects(lambda obj: print(format_objects([obj], args.output, single=True), flush=True))
    out = console()
    if live_capable(out):
        return watch_live(poller, out, render)
    return watch_plain(poller, lambda line: print(line, flush=True), change_lines)


@one_line_failures
def run_list(args: argparse.Namespace) -> int:
    with session(args) as cluster:
        everywhere = bool(flag(args, "all_namespaces", False))
        namespace = None if everywhere else cluster.namespace
        items = list_rollouts(cluster, namespace, flag(args, "selector"))
    if flag(args, "output") in OBJECT_FORMATS:
        if items or args.output != "name":
            print(format_objects(items, args.output, single=False))
        return exits.OK
    if not items:
        where = "" if everywhere else f" in {namespace} namespace"
        print(f"No rollouts found{where}.", file=sys.stderr)
        return exits.OK
    console().print(rollout_table(items, datetime.now(UTC), namespaces=everywhere, wide=args.output == "wide"))
    return exits.OK


# -- status ----------------------------------------------------------------------------------------


@one_line_failures
def run_status(args: argparse.Namespace) -> int:
    try:
        timeout = parse_timeout(args.timeout)
    except ValueError as exc:
        error(args, f"--timeout: {exc}")
        return exits.USAGE
    with session(args) as cluster:
        poller = Poller(cluster, cluster.namespace, args.name, interval=max(0.05, args.interval))
        code, line = status_verdict(poller, timeout, progress=lambda text: print(text, file=sys.stderr, flush=True))
    print(line, flush=True)
    return code


# -- control verbs ---------------------------------------------------------------------------------


@one_line_failures
def run_command(args: argparse.Namespace) -> int:
    verb = "promote-full" if args.verb == "promote" and args.full else args.verb
    with session(args) as cluster:
        namespace = cluster.namespace
        identity = whoami(cluster)
        if not identity.verified:
            error(args, f"warning: {identity.note}")
        writer = CommandWriter(cluster, pending_timeout=max(0.0, args.pending_timeout))
        request = writer.send(namespace, args.name, verb, identity.user)
        print(f"{verb} requested for {namespace}/{args.name} by {identity.user} (command id {request.id})", flush=True)
        if args.wait <= 0:
            return exits.OK
        return _await_applied(args, cluster, namespace, request.id)


def _await_applied(args: argparse.Namespace, cluster: Cluster, namespace: str, command_id: str) -> int:
    deadline = time.monotonic() + args.wait
    while True:
        status = get_rollout(cluster, namespace, args.name).get("status") or {}
        if status.get("lastCommand") == command_id:
            refusal = _refusal(cluster, namespace, args.name, command_id)
            if refusal:
                error(args, f"the operator ignored the command: {refusal}")
                return exits.FAILED
            print(f"applied: phase {status.get('phase')}, green {status.get('weight', 0)}%")
            return exits.OK
        if time.monotonic() >= deadline:
            raise ClusterError(f"the operator did not apply command {command_id} within {args.wait:g}s; is it running?")
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _refusal(cluster: Cluster, namespace: str, name: str, command_id: str) -> str | None:
    for event in rollout_events(cluster, namespace, name):
        if event.get("reason") == "CommandIgnored" and command_id in str(event.get("message", "")):
            return str(event.get("message"))
    return None
