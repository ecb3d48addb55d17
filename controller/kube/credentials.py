"""Prometheus credentials from Secrets in the rollout's namespace, only from Secrets that opt in.

The operator may read Secrets in every namespace it watches; a rollout author may not. Without an opt-in,
naming any Secret key in ``bearerTokenSecret`` would make the operator read it for them and send it over
HTTP. So a Secret is used only when it carries the label ``greenlane.dev/prometheus-credentials: "true"``,
which whoever created it (and may read it anyway) set on purpose. Values are read at each reconcile
(rotations apply without a restart) and checked before use: text, fit for an HTTP header, a CA that
parses. Every problem names the field, the Secret and the key — never the value.
"""

from __future__ import annotations

import base64
import binascii
import ssl
from dataclasses import dataclass

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.model.spec import PrometheusConfig, SecretKeyRef

FIELD = "spec.analysis.prometheus"
OPT_IN_LABEL = "greenlane.dev/prometheus-credentials"
OPT_IN_VALUE = "true"


class CredentialError(Exception):
    """A referenced Secret or key is missing or unusable: a spec problem, reported with the field and Secret."""


@dataclass(frozen=True)
class Credentials:
    bearer_token: str | None = None
    basic_auth: tuple[str, str] | None = None
    ca_pem: str | None = None


def prometheus_credentials(api: k8s.ApiClient, namespace: str, prom: PrometheusConfig) -> Credentials:
    """Everything ``prom`` names, read and checked; raises CredentialError naming what is wrong."""
    token = _key(api, namespace, prom.bearer_token_secret, f"{FIELD}.bearerTokenSecret")
    if token is not None and prom.bearer_token_secret is not None:
        token = token.strip()
        _header_safe(token, prom.bearer_token_secret, namespace, f"{FIELD}.bearerTokenSecret")
    basic = None
    if prom.basic_auth_secret is not None:
        where, name = f"{FIELD}.basicAuthSecret", prom.basic_auth_secret.name
        user_ref, password_ref = SecretKeyRef(name=name, key="username"), SecretKeyRef(name=name, key="password")
        user, password = _key(api, namespace, user_ref, where) or "", _key(api, namespace, password_ref, where) or ""
        if ":" in user:
            raise CredentialError(f"{where}: Secret {namespace}/{name} key 'username' may not contain ':'")
        _header_safe(user, user_ref, namespace, where)
        _header_safe(password, password_ref, namespace, where)
        basic = (user, password)
    ca = _key(api, namespace, prom.ca_secret, f"{FIELD}.caSecret")
    if ca is not None and prom.ca_secret is not None:
        _check_ca(ca, prom.ca_secret, namespace)
    return Credentials(token, basic, ca)


def _key(api: k8s.ApiClient, namespace: str, ref: SecretKeyRef | None, field: str) -> str | None:
    if ref is None:
        return None
    where = f"{field}: Secret {namespace}/{ref.name}"
    try:
        secret = k8s.CoreV1Api(api).read_namespaced_secret(ref.name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            raise CredentialError(f"{where} not found") from None
        raise
    labels = (secret.metadata.labels if secret.metadata else None) or {}
    if labels.get(OPT_IN_LABEL) != OPT_IN_VALUE:
        raise CredentialError(
            f'{where} is not labelled {OPT_IN_LABEL}: "{OPT_IN_VALUE}"; label it to let greenlane send it to Prometheus'
        )
    data = secret.data or {}
    if ref.key not in data:
        raise CredentialError(f"{where} has no key {ref.key!r}")
    try:
        return base64.b64decode(data[ref.key], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise CredentialError(f"{where} key {ref.key!r} is not UTF-8 text") from None


def _header_char(c: str) -> bool:
    return c == "\t" or " " <= c <= "~" or "\xa0" <= c <= "\xff"


def _header_safe(value: str, ref: SecretKeyRef, namespace: str, field: str) -> None:
    """A value with CR, LF or other control characters would split the HTTP request (and the error that
    ``requests`` raises for it quotes the value); HTTP headers and basic auth are sent Latin-1 encoded."""
    if not all(map(_header_char, value)):
        raise CredentialError(
            f"{field}: Secret {namespace}/{ref.name} key {ref.key!r} holds characters an HTTP header cannot "
            "carry (control characters, line breaks, or beyond Latin-1)"
        )


def _check_ca(pem: str, ref: SecretKeyRef, namespace: str) -> None:
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise CredentialError(
            f"{FIELD}.caSecret: Secret {namespace}/{ref.name} key {ref.key!r} is not a PEM CA bundle ({reason})"
        ) from None
