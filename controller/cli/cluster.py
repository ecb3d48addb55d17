"""The CLI's conversation with the API server: reads, who am I, and the guarded command write.

Lives in the CLI, not in ``controller.kube``, because it runs with the invoking human's credentials:
the RBAC scan (tests/ship) attributes what is here to the user roles, never to the operator's
ServiceAccount. Every request has a timeout; every failure becomes a :class:`ClusterError` whose
message is one line naming the server and the cause, and whose ``exit_code`` says which kind it was.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.cli.exits import FAILED, UNAVAILABLE
from controller.kube.config import KubeConfigError, api_client, default_namespace
from controller.kube.rollouts import COMMAND_ANNOTATION, CommandRequest
from controller.model.resource import GROUP, KIND, PLURAL, VERSION

Json = dict[str, Any]
TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds for every request."""
RETRIES = 1
"""urllib3 retries per request: one more try on a dropped connection, then a clear error."""
ANNOTATION_POINTER = "/metadata/annotations/" + COMMAND_ANNOTATION.replace("~", "~0").replace("/", "~1")


class ClusterError(Exception):
    """A failed conversation with the API server, as one line for a human, and its exit code."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Identity:
    """Who the API server says we are; ``verified`` is False when it could not tell us."""

    user: str
    verified: bool
    note: str = ""


@dataclass
class Cluster:
    api: k8s.ApiClient
    server: str
    namespace: str
    """``-n``, else the kubeconfig context's namespace, else ``default``."""

    def close(self) -> None:
        self.api.close()


def connect(kubeconfig: str | None, context: str | None, namespace: str | None) -> Cluster:
    try:
        api = api_client(kubeconfig, context, retries=RETRIES)
    except KubeConfigError as exc:
        raise ClusterError(str(exc), UNAVAILABLE) from None
    server = str(api.configuration.host)
    return Cluster(api, server, namespace or default_namespace(kubeconfig, context))


# -- errors ----------------------------------------------------------------------------------------

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"\)]+)")


def network_cause(exc: BaseException) -> str:
    """``connection refused``, ``no answer within 30s``…: the cause without urllib3's wrapping."""
    reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason else exc
    text = str(reason)
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "cannot resolve the host name"
    found = _ERRNO.search(text)
    if found:  # before timeouts: urllib3's NewConnectionError (refused, unreachable) subclasses ConnectTimeoutError
        return found.group(1).strip().lower()
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return f"no connection within {TIMEOUT[0]:g}s"
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return f"no answer within {TIMEOUT[1]:g}s"
    if isinstance(reason, urllib3.exceptions.SSLError):
        return f"TLS error: {text.split(': ', 1)[-1]}"
    return text.split("\n", 1)[0][:200]


def api_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
        message = body.get("message") if isinstance(body, dict) else None
    except ValueError:
        message = None
    return str(message or exc.reason or "").split("\n", 1)[0][:300]


def describe(exc: BaseException, server: str, what: str) -> ClusterError:
    """One line for any failure of ``what`` (e.g. ``get rollout shop/checkout``) against ``server``."""
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        detail = api_message(exc)
        if status == 401:
            return ClusterError(f"{server} refused your credentials for {what} (401): {detail}; log in again")
        if status == 403:
            return ClusterError(f"forbidden: {what} on {server}: {detail}")
        if status >= 500 or status in (0, 429):
            return ClusterError(f"{server} failed to {what}: HTTP {status} {detail}", UNAVAILABLE)
        return ClusterError(f"{what} on {server}: HTTP {status} {detail}")
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        return ClusterError(f"cannot reach the API server {server} to {what}: {network_cause(exc)}", UNAVAILABLE)
    raise exc


def _call(cluster: Cluster, what: str, fn: Callable[[], Any], not_found: str | None = None) -> Any:
    try:
        return fn()
    except ApiException as exc:
        if exc.status == 404 and not_found:
            raise ClusterError(not_found) from None
        raise describe(exc, cluster.server, what) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise describe(exc, cluster.server, what) from None


# -- reads -----------------------------------------------------------------------------------------


def get_rollout(cluster: Cluster, namespace: str, name: str) -> Json:
    custom = k8s.CustomObjectsApi(cluster.api)
    hint = f"rollout {namespace}/{name} not found (is the CRD installed? try: greenlane list -A)"
    obj: Json = _call(
        cluster,
        f"get rollout {namespace}/{name}",
        lambda: custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, _request_timeout=TIMEOUT),
        not_found=hint,
    )
    return obj


def list_rollouts(cluster: Cluster, namespace: str | None, selector: str | None = None) -> list[Json]:
    custom = k8s.CustomObjectsApi(cluster.api)
    extra: dict[str, Any] = {"_request_timeout": TIMEOUT}
    if selector:
        extra["label_selector"] = selector

    def fetch() -> Json:
        if namespace is None:
            result: Json = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, **extra)
        else:
            result = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, **extra)
        return result

    where = "in all namespaces" if namespace is None else f"in {namespace}"
    crd_hint = f"no BlueGreenRollout API on {cluster.server}:"
    crd_hint += " is the CRD installed? (greenlane crd | kubectl apply -f -)"
    result: Json = _call(cluster, f"list rollouts {where}", fetch, not_found=crd_hint)
    return list(result.get("items") or [])


def rollout_events(cluster: Cluster, namespace: str, name: str) -> list[Json]:
    """The rollout's Events, oldest first; none (not an error) when they cannot be read."""
    core = k8s.CoreV1Api(cluster.api)
    try:
        result = core.list_namespaced_event(
            namespace,
            field_selector=f"involvedObject.name={name},involvedObject.kind={KIND}",
            _request_timeout=TIMEOUT,
        )
    except (ApiException, urllib3.exceptions.HTTPError, OSError):
        return []
    events = [cluster.api.sanitize_for_serialization(e) for e in result.items]
    mine = [e for e in events if (e.get("involvedObject") or {}).get("name") == name]
    return sorted(mine, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


def whoami(cluster: Cluster) -> Identity:
    """The user the API server authenticates us as (SelfSubjectReview), never a kubeconfig entry's name."""
    auth = k8s.AuthenticationV1Api(cluster.api)
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    try:
        review = auth.create_self_subject_review(body, _request_timeout=TIMEOUT)
    except ApiException as exc:
        if exc.status in (403, 404, 405):
            note = (
                f"{cluster.server} does not tell who you are (SelfSubjectReview authentication.k8s.io/v1 answered "
                f"HTTP {exc.status}; it needs Kubernetes 1.28+); the command records user 'unknown', "
                "the API server's audit log still has your identity"
            )
            return Identity("unknown", verified=False, note=note)
        raise describe(exc, cluster.server, "ask who you are (SelfSubjectReview)") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise describe(exc, cluster.server, "ask who you are (SelfSubjectReview)") from None
    data = cluster.api.sanitize_for_serialization(review)
    user = ((data.get("status") or {}).get("userInfo") or {}).get("username")
    if not user:
        return Identity("unknown", verified=False, note=f"{cluster.server} returned no user name")
    return Identity(str(user), verified=True)


# -- the command annotation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """A command the operator has not applied yet (its id is not ``status.lastCommand``)."""

    request: CommandRequest

    def describe(self) -> str:
        r = self.request
        return f"{r.command} ({r.id}) by {r.user or 'unknown'} at {r.at or '?'}"


def pending_command(obj: Json) -> Pending | None:
    request = CommandRequest.from_object(obj) or _any_command(obj)
    applied = (obj.get("status") or {}).get("lastCommand")
    if request is None or request.id == applied:
        return None
    return Pending(request)


def _any_command(obj: Json) -> CommandRequest | None:
    """A well-formed command this operator version does not know (e.g. ``promote-full``) is still pending."""
    raw = _annotation(obj)
    try:
        data = json.loads(raw or "null")
        return CommandRequest(str(data["id"]), str(data["command"]), str(data.get("user", "")), str(data.get("at", "")))
    except (ValueError, KeyError, TypeError):
        return None


def command_patch(obj: Json, request: CommandRequest) -> list[Json]:
    """JSON Patch writing ``request``, guarded by a ``test`` of the annotation as read (or its absence).

    The API server applies ``test`` with ``null`` to a missing member as a match, so a concurrent writer
    makes the whole patch fail (422) instead of one command silently replacing another.
    """
    annotations = (obj.get("metadata") or {}).get("annotations")
    value = request.to_annotation()
    if annotations is None:
        return [
            {"op": "test", "path": "/metadata/annotations", "value": None},
            {"op": "add", "path": "/metadata/annotations", "value": {COMMAND_ANNOTATION: value}},
        ]
    old = annotations.get(COMMAND_ANNOTATION)
    return [
        {"op": "test", "path": ANNOTATION_POINTER, "value": old},
        {"op": "add", "path": ANNOTATION_POINTER, "value": value},
    ]


@dataclass
class CommandWriter:
    """Write one command once the previous one is applied; bounded waits, injected time for tests."""

    cluster: Cluster
    pending_timeout: float = 30.0
    poll: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def send(self, namespace: str, name: str, verb: str, user: str) -> CommandRequest:
        deadline = self.monotonic() + self.pending_timeout
        rejected: tuple[str | None, str] | None = None
        while True:
            obj = get_rollout(self.cluster, namespace, name)
            pending = pending_command(obj)
            if pending is None:
                raw = _annotation(obj)
                if rejected is not None and rejected[0] == raw:  # not a race: the server refuses the patch
                    raise ClusterError(f"{self.cluster.server} rejected {verb} for {namespace}/{name}: {rejected[1]}")
                request = CommandRequest.new(verb, user, self.now())
                refusal = self._write(namespace, name, command_patch(obj, request))
                if refusal is None:
                    return request
                rejected = (raw, refusal)
            if self.monotonic() >= deadline:
                raise ClusterError(self._stuck(namespace, name, verb, pending))
            self.sleep(self.poll if pending else 0.05)

    def _stuck(self, namespace: str, name: str, verb: str, pending: Pending | None) -> str:
        if pending is None:
            waited = f"{self.pending_timeout:g}s"
            return f"{verb} not sent: the command annotation of {namespace}/{name} kept changing for {waited}"
        return (
            f"{verb} not sent: {pending.describe()} is still waiting for the operator after "
            f"{self.pending_timeout:g}s (status.lastCommand is not its id); is the operator running? "
            "Try again later or raise --pending-timeout"
        )

    def _write(self, namespace: str, name: str, ops: list[Json]) -> str | None:
        """None once written; the server's reason when the guard failed (another writer got there first)."""
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"
        api = self.cluster.api
        headers = {"Accept": "application/json", "Content-Type": "application/json-patch+json"}
        try:
            # rbac: greenlane.dev/bluegreenrollouts patch
            serialized = api.param_serialize(method="PATCH", resource_path=path, header_params=headers, body=ops)
            response = api.call_api(*serialized, _request_timeout=TIMEOUT)
            status, data = int(response.status), response.read() or b""
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise describe(exc, self.cluster.server, f"patch rollout {namespace}/{name}") from None
        if 200 <= status < 300:
            return None
        failure = ApiException(status=status, reason=getattr(response, "reason", ""))
        failure.body = data.decode(errors="replace")
        if status in (409, 422):
            return f"HTTP {status} {api_message(failure)}"
        if status == 404:
            raise ClusterError(f"rollout {namespace}/{name} not found")
        raise describe(failure, self.cluster.server, f"patch rollout {namespace}/{name}")


def _annotation(obj: Json) -> str | None:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(COMMAND_ANNOTATION)
    return None if value is None else str(value)
