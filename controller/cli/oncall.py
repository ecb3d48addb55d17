"""On-call commands: ``get``, ``list`` and the control verbs ``promote abort retry pause resume``.

Control verbs write a ``greenlane.dev/command`` annotation (who, what, when, id) on the rollout: any
change is visible in the audit log, needs only ``patch`` on ``bluegreenrollouts`` (RBAC-friendly),
and the controller records the id it applied in ``status.lastCommand`` plus an Event naming the user.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.cli.render import list_rows, rollout_view
from controller.kube.config import KubeConfigError, api_client, current_user, default_namespace
from controller.kube.rollouts import COMMAND_ANNOTATION, COMMANDS, CommandRequest, RolloutClient
from controller.model.resource import GROUP, KIND, PLURAL, VERSION

Json = dict[str, Any]
HELP = {
    "promote": "advance past a manual step (or the current step's remaining bake)",
    "abort": "roll back to blue now and stay Aborted",
    "retry": "start again from step 0 after a rollback, abort or pause",
    "pause": "hold the current weight until resume",
    "resume": "continue a paused rollout",
    "promote-full": "skip the remaining steps: green to 100% and promoted once the router reads it",
}


def _cluster_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="path to a kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    get = subparsers.add_parser("get", help="show a rollout: phase, step, weights, checks, events")
    get.add_argument("name")
    _cluster_args(get)
    get.add_argument("-w", "--watch", action="store_true", help="keep showing changes until Ctrl-C")
    get.add_argument("--interval", type=float, default=2.0, help=argparse.SUPPRESS)
    get.set_defaults(handler=run_get)
    lst = subparsers.add_parser("list", help="list rollouts")
    _cluster_args(lst)
    lst.add_argument("-A", "--all-namespaces", action="store_true")
    lst.set_defaults(handler=run_list)
    for verb in COMMANDS:
        cmd = subparsers.add_parser(verb, help=HELP[verb])
        cmd.add_argument("name")
        _cluster_args(cmd)
        cmd.add_argument(
            "--wait", type=float, default=0, metavar="SECONDS", help="wait until the controller has applied the command"
        )
        cmd.set_defaults(handler=run_command, verb=verb)


def _connect(args: argparse.Namespace) -> tuple[k8s.ApiClient, str]:
    api = api_client(args.kubeconfig, args.context)
    return api, args.namespace or default_namespace(args.kubeconfig, args.context)


def _events(api: k8s.ApiClient, namespace: str, obj: Json) -> list[Json]:
    name = obj["metadata"]["name"]
    try:
        result = k8s.CoreV1Api(api).list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={name},involvedObject.kind={KIND}"
        )
    except ApiException:
        return []
    events = [api.sanitize_for_serialization(e) for e in result.items]
    return [e for e in events if e.get("involvedObject", {}).get("name") == name]


def send_command(api: k8s.ApiClient, namespace: str, name: str, command: CommandRequest) -> Json:
    """Store a control command as an annotation: auditable (who, when) and RBAC-scoped to ``patch``.

    Lives here, not in ``controller.kube``: only humans (the rollout-operator role) patch rollouts.
    """
    patch = {"metadata": {"annotations": {COMMAND_ANNOTATION: command.to_annotation()}}}
    result: Json = k8s.CustomObjectsApi(api).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, patch
    )
    return result


def _fail(message: str) -> int:
    print(f"greenlane: {message}", file=sys.stderr)
    return 1


def run_get(args: argparse.Namespace) -> int:
    try:
        api, namespace = _connect(args)
        rollouts = RolloutClient(api)
        last = ""
        while True:
            obj = rollouts.get(namespace, args.name)
            view = rollout_view(obj, _events(api, namespace, obj), datetime.now(UTC))
            if view != last:
                if last:
                    print("\n" + "-" * 80)
                print(view, flush=True)
                last = view
            if not args.watch:
                return 0
            time.sleep(args.interval)
    except KubeConfigError as exc:
        return _fail(str(exc))
    except ApiException as exc:
        return _fail(_api_message(exc, namespace, args.name))


def run_list(args: argparse.Namespace) -> int:
    try:
        api, namespace = _connect(args)
        result = RolloutClient(api).list(None if args.all_namespaces else namespace)
    except KubeConfigError as exc:
        return _fail(str(exc))
    except ApiException as exc:
        return _fail(f"cannot list rollouts: HTTP {exc.status} {exc.reason}")
    items = result.get("items", [])
    if not items:
        print("No rollouts found." if args.all_namespaces else f"No rollouts found in namespace {namespace}.")
        return 0
    print("\n".join(list_rows(items)))
    return 0


def run_command(args: argparse.Namespace) -> int:
    namespace = args.namespace or "default"
    try:
        api, namespace = _connect(args)
        rollouts = RolloutClient(api)
        request = CommandRequest.new(args.verb, current_user(args.kubeconfig), datetime.now(UTC))
        send_command(api, namespace, args.name, request)
    except KubeConfigError as exc:
        return _fail(str(exc))
    except ApiException as exc:
        return _fail(_api_message(exc, namespace, args.name))
    print(f"{args.verb} requested for {namespace}/{args.name} (command id {request.id})")
    if args.wait <= 0:
        return 0
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        status = rollouts.get(namespace, args.name).get("status") or {}
        if status.get("lastCommand") == request.id:
            print(f"applied: phase {status.get('phase')}, green {status.get('weight', 0)}%")
            return 0
        time.sleep(1)
    return _fail(f"the controller did not apply command {request.id} within {args.wait:g}s; is it running?")


def _api_message(exc: ApiException, namespace: str, name: str) -> str:
    if exc.status == 404:
        return f"rollout {namespace}/{name} not found (is the CRD installed? try: greenlane list -A)"
    if exc.status == 403:
        return f"forbidden: your user may not read or patch bluegreenrollouts in {namespace}"
    return f"API error for {namespace}/{name}: HTTP {exc.status} {exc.reason}"
