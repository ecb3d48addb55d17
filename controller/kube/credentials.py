"""Prometheus credentials from Secrets in the rollout's namespace.

Secrets are read at each reconcile (rotations apply without a restart); a CA bundle is written once per
content hash under the temp directory (an emptyDir in the chart, since the root filesystem is read-only).
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.model.spec import PrometheusConfig, SecretKeyRef

FIELD = "spec.analysis.prometheus"


class CredentialError(Exception):
    """A referenced Secret or key is missing: a spec problem, reported with the field that names it."""


@dataclass(frozen=True)
class Credentials:
    bearer_token: str | None = None
    basic_auth: tuple[str, str] | None = None
    ca_file: str | None = None


def prometheus_credentials(
    api: k8s.ApiClient, namespace: str, prom: PrometheusConfig, ca_dir: Path | None = None
) -> Credentials:
    token = _key(api, namespace, prom.bearer_token_secret, f"{FIELD}.bearerTokenSecret")
    basic = None
    if prom.basic_auth_secret is not None:
        name = prom.basic_auth_secret.name
        where = f"{FIELD}.basicAuthSecret"
        basic = (
            _key(api, namespace, SecretKeyRef(name=name, key="username"), where) or "",
            _key(api, namespace, SecretKeyRef(name=name, key="password"), where) or "",
        )
    ca = _key(api, namespace, prom.ca_secret, f"{FIELD}.caSecret")
    return Credentials(token.strip() if token else None, basic, _ca_file(ca, ca_dir) if ca else None)


def _key(api: k8s.ApiClient, namespace: str, ref: SecretKeyRef | None, field: str) -> str | None:
    if ref is None:
        return None
    try:
        secret = k8s.CoreV1Api(api).read_namespaced_secret(ref.name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            raise CredentialError(f"{field}: Secret {namespace}/{ref.name} not found") from exc
        raise
    data = secret.data or {}
    if ref.key not in data:
        raise CredentialError(f"{field}: Secret {namespace}/{ref.name} has no key {ref.key!r}")
    return base64.b64decode(data[ref.key]).decode()


def _ca_file(pem: str, ca_dir: Path | None) -> str:
    directory = ca_dir or Path(tempfile.gettempdir()) / "greenlane-ca"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem"
    if not path.exists():
        partial = path.with_suffix(".tmp")
        partial.write_text(pem)
        partial.replace(path)
    return str(path)
