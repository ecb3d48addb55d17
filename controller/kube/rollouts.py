"""Reading BlueGreenRollouts, writing their status, and parsing the control-command annotation.

The operator only reads the command annotation; writing it is the CLI's job (``controller/cli/oncall.py``),
done with the on-call human's credentials, so the operator's ServiceAccount needs no ``patch`` on rollouts.

Status goes through the status subresource with the object's resourceVersion, so a concurrent writer
makes the API server answer 409; we then refetch and write again (status is owned by the leader alone,
so re-applying our computed status onto the fresh object is correct).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random_exponential

from controller.core.commands import COMMAND_KINDS, Command
from controller.engine.world import NotLeader
from controller.model.command import MAX_LENGTH as COMMAND_MAX_LENGTH
from controller.model.resource import API_VERSION, GROUP, KIND, PLURAL, VERSION
from controller.routing.kube_common import KubeApi, ObjectRef

Json = dict[str, Any]
COMMAND_ANNOTATION = "greenlane.dev/command"
COMMANDS = COMMAND_KINDS
FINALIZER = "greenlane.dev/traffic-to-blue"
SKIP_FINALIZER_ANNOTATION = "greenlane.dev/skip-finalizer"
MAX_COMMAND_BYTES = COMMAND_MAX_LENGTH


def is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, ApiException) and exc.status == 409


def commands_of(obj: Json) -> tuple[Command, ...]:
    """The command the object carries; one it cannot parse becomes kind ``invalid`` with the reason.

    An invalid command gets an id derived from the annotation's text, so it is reported (and consumed)
    exactly once and a new, different annotation is looked at afresh.
    """
    raw = (obj.get("metadata", {}).get("annotations") or {}).get(COMMAND_ANNOTATION)
    if not raw:
        return ()
    request, problem = CommandRequest.parse(raw)
    if request is None:
        digest = hashlib.sha256(raw.encode(errors="replace")).hexdigest()[:12]
        return (Command(id=f"invalid-{digest}", kind="invalid", problem=problem),)
    return (Command(id=request.id, kind=request.command, by=request.user),)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CommandRequest:
    """A control command as stored in the rollout's annotation: who asked for what, when."""

    id: str
    command: str
    user: str
    at: str

    @classmethod
    def new(cls, command: str, user: str, at: datetime) -> CommandRequest:
        stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # RFC 3339, as Kubernetes writes times
        return cls(id=uuid.uuid4().hex[:12], command=command, user=user, at=stamp)

    def to_annotation(self) -> str:
        """Compact JSON with keys in contract order: ``{"id":…,"command":…,"user":…,"at":…}``."""
        data = {"id": self.id, "command": self.command, "user": self.user, "at": self.at}
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)  # the policy compares raw usernames

    @classmethod
    def from_object(cls, obj: Json) -> CommandRequest | None:
        """The pending command, or None when absent or unreadable."""
        raw = (obj.get("metadata", {}).get("annotations") or {}).get(COMMAND_ANNOTATION)
        return cls.parse(raw)[0] if raw else None

    @classmethod
    def parse(cls, raw: str) -> tuple[CommandRequest | None, str]:
        """The command in an annotation value, or None and why it is not one."""
        if len(raw.encode(errors="replace")) > MAX_COMMAND_BYTES:
            return None, f"the annotation is larger than {MAX_COMMAND_BYTES} bytes"
        try:
            data = json.loads(raw, object_pairs_hook=_no_duplicate_keys)
        except ValueError as exc:
            return None, f"not valid JSON ({exc})"
        if not isinstance(data, dict):
            return None, "expected a JSON object with id, command, user, at"
        unknown = sorted(set(data) - {"id", "command", "user", "at"})
        if unknown:
            return None, f"unknown keys {unknown}"
        if not isinstance(data.get("id"), str) or not data["id"]:
            return None, "missing id"
        if data.get("command") not in COMMANDS:
            return None, f"unknown command {str(data.get('command'))[:40]!r}; known: {', '.join(COMMANDS)}"
        user, at = data.get("user", ""), data.get("at", "")
        if not isinstance(user, str) or not isinstance(at, str):
            return None, "user and at must be strings"
        return cls(id=data["id"][:64], command=data["command"], user=user[:256], at=at[:64]), ""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise ValueError(f"duplicate keys {duplicated}")
    return dict(pairs)


class RolloutClient:
    def __init__(self, api: k8s.ApiClient, may_write: Callable[[], bool] = lambda: True) -> None:
        self._api = k8s.CustomObjectsApi(api)
        self._raw_api = KubeApi(api)
        self._may_write = may_write

    def set_finalizer(self, obj: Json, present: bool) -> Json:
        """Add or remove our finalizer with a JSON Patch guarded by the object's resourceVersion.

        Merge patch would replace the whole list and drop other controllers' finalizers; the ``test`` op
        makes a concurrent change answer 409 (the next reconcile retries) instead of losing it.
        """
        if not self._may_write():
            raise NotLeader("not the leader; finalizer not changed")
        meta = obj["metadata"]
        current = list(meta.get("finalizers") or [])
        wanted = [*current, FINALIZER] if present else [f for f in current if f != FINALIZER]
        if wanted == current:
            return obj
        ref = ObjectRef(API_VERSION, PLURAL, KIND, meta["namespace"], meta["name"])
        ops: list[Json] = [{"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}]
        ops.append(
            {"op": "add" if "finalizers" not in meta else "replace", "path": "/metadata/finalizers", "value": wanted}
        )
        return self._raw_api.json_patch(ref, ops)

    def get(self, namespace: str, name: str) -> Json:
        obj: Json = self._api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        return obj

    def list(self, namespace: str | None) -> Json:
        if namespace is None:
            result: Json = self._api.list_cluster_custom_object(GROUP, VERSION, PLURAL)
        else:
            result = self._api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        return result

    def write_status(self, obj: Json, status: Json) -> Json:
        """Replace the status subresource, refetching and retrying on 409 Conflict."""
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        current = obj

        @retry(
            retry=retry_if_exception(is_conflict),
            stop=stop_after_attempt(5),
            wait=wait_random_exponential(multiplier=0.05, max=1),
            reraise=True,
        )
        def attempt() -> Json:
            nonlocal current
            if not self._may_write():
                raise NotLeader(f"not the leader; status of {namespace}/{name} not written")
            body = {**current, "status": status}
            try:
                written: Json = self._api.replace_namespaced_custom_object_status(
                    GROUP, VERSION, namespace, PLURAL, name, body
                )
            except ApiException as exc:
                if exc.status == 409:
                    current = self.get(namespace, name)
                raise
            return written

        return attempt()


def command_user(obj: Json, status: Any) -> str | None:
    """Who sent the command a decision just applied (its id is ``status.lastCommand``), if any."""
    request = CommandRequest.from_object(obj)
    return request.user if request is not None and request.id == status.last_command else None
