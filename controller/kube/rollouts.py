"""Reading BlueGreenRollouts, writing their status, and parsing the control-command annotation.

The operator only reads the command annotation; writing it is the CLI's job (``controller/cli/oncall.py``),
done with the on-call human's credentials, so the operator's ServiceAccount needs no ``patch`` on rollouts.

Status goes through the status subresource with the object's resourceVersion, so a concurrent writer
makes the API server answer 409; we then refetch and write again (status is owned by the leader alone,
so re-applying our computed status onto the fresh object is correct).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random_exponential

from controller.model.command import MAX_LENGTH as COMMAND_MAX_LENGTH
from controller.model.resource import GROUP, PLURAL, VERSION

Json = dict[str, Any]
COMMAND_ANNOTATION = "greenlane.dev/command"
COMMANDS = ("promote", "abort", "retry", "pause", "resume")


def is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, ApiException) and exc.status == 409


class NotLeader(Exception):
    """Raised instead of writing when this replica no longer holds the lease."""


@dataclass(frozen=True)
class CommandRequest:
    """A control command as stored in the rollout's annotation: who asked for what, when."""

    id: str
    command: str
    user: str
    at: str

    @classmethod
    def new(cls, command: str, user: str, at: datetime) -> CommandRequest:
        return cls(id=uuid.uuid4().hex[:12], command=command, user=user, at=at.isoformat())

    def to_annotation(self) -> str:
        return json.dumps({"id": self.id, "command": self.command, "user": self.user, "at": self.at})

    @classmethod
    def from_object(cls, obj: Json) -> CommandRequest | None:
        """The pending command, or None when absent or unreadable (a bad annotation is not a crash)."""
        raw = (obj.get("metadata", {}).get("annotations") or {}).get(COMMAND_ANNOTATION)
        if not raw or len(raw) > COMMAND_MAX_LENGTH:  # a tenant's 256 KiB of "[[[[" is not parsed
            return None
        try:
            data = json.loads(raw)
            command = cls(
                id=str(data["id"]),
                command=str(data["command"]),
                user=str(data.get("user", "")),
                at=str(data.get("at", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None
        return command if command.command in COMMANDS else None


class RolloutClient:
    def __init__(self, api: k8s.ApiClient, may_write: Callable[[], bool] = lambda: True) -> None:
        self._api = k8s.CustomObjectsApi(api)
        self._may_write = may_write

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
