"""Reading a rollout's notification URL from a Secret that opted in.

Rollout authors are tenants: a rollout may name any Secret of its namespace, so the operator reads
only Secrets labelled ``greenlane.dev/notification-webhook: "true"``; anything else is refused with a
message saying which label is missing, and the Secret's other keys are never logged.
"""

from __future__ import annotations

import base64
import binascii

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.model.notify import WEBHOOK_SECRET_LABEL
from controller.notify import NotificationRefused

TIMEOUT = (5.0, 15.0)


def secret_url_reader(api: k8s.ApiClient) -> SecretUrlReader:
    return SecretUrlReader(api)


class SecretUrlReader:
    def __init__(self, api: k8s.ApiClient) -> None:
        self._core = k8s.CoreV1Api(api)

    def __call__(self, namespace: str, name: str, key: str) -> str:
        try:
            secret = self._core.read_namespaced_secret(name, namespace, _request_timeout=TIMEOUT)
        except ApiException as exc:
            if exc.status == 404:
                raise NotificationRefused(f"Secret {namespace}/{name} not found") from None
            raise NotificationRefused(f"Secret {namespace}/{name} unreadable: HTTP {exc.status}") from None
        labels = (secret.metadata.labels or {}) if secret.metadata else {}
        if labels.get(WEBHOOK_SECRET_LABEL) != "true":
            raise NotificationRefused(
                f'Secret {namespace}/{name} lacks the label {WEBHOOK_SECRET_LABEL}: "true"; not read'
            )
        raw = (secret.data or {}).get(key)
        if raw is None:
            raise NotificationRefused(f"Secret {namespace}/{name} has no key {key!r}")
        try:
            return base64.b64decode(raw).decode().strip()
        except (binascii.Error, UnicodeDecodeError):
            raise NotificationRefused(f"Secret {namespace}/{name} key {key!r} is not a UTF-8 URL") from None
