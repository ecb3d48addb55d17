"""What every Kubernetes-backed router shares: raw JSON access and conflict-safe updates.

Routers speak plain JSON through ``ApiClient`` rather than the typed ``CustomObjectsApi``: its
``patch_*`` always sends merge patch (which replaces whole lists such as ``spec.rules``) and the
typed models reject fields they do not know. Every write here is either a PUT carrying the
``metadata.resourceVersion`` that was read, or a JSON Patch guarded by a ``test`` op, so a concurrent
edit makes the apiserver answer 409 instead of silently losing someone's change; we then re-read and
retry a bounded number of times. The untyped client is touched only in ``KubeApi``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import tenacity
import urllib3

from controller.routing.base import RouterError, WeightMismatch

Json = dict[str, Any]


@dataclass(frozen=True)
class ObjectRef:
    """Where an object lives; ``str()`` is how errors name it (``HTTPRoute shop/checkout``)."""

    api_version: str
    plural: str
    kind: str
    namespace: str
    name: str

    @property
    def collection_path(self) -> str:
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        return f"{prefix}/namespaces/{self.namespace}/{self.plural}"

    def path(self, subresource: str | None = None) -> str:
        suffix = f"/{subresource}" if subresource else ""
        return f"{self.collection_path}/{self.name}{suffix}"

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class KubeApiError(RouterError):
    """The apiserver refused or failed a request; ``status`` 0 means no HTTP answer at all.

    Distinct from plain ``RouterError`` (missing or foreign object, a spec problem) because the
    caller may retry these later: ``transient`` tells which.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:
        return self.status in (0, 409, 429) or self.status >= 500


class ConflictError(KubeApiError):
    """409: someone else wrote the object since we read it."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often a conflicting write is re-read and retried, and the first backoff in seconds."""

    attempts: int = 5
    backoff: float = 0.05


DEFAULT_RETRY = RetryPolicy()


class KubeApi:
    """Raw JSON requests through the official client; the only untyped surface of the routers.

    The operator hands routers a subclass whose ``get`` answers from its informer cache (writes still go
    to the API server with their resourceVersion preconditions); see :func:`as_kube_api`.
    """

    def __init__(self, api_client: Any, timeout: float = 30.0) -> None:
        self._client = api_client
        self._timeout = timeout

    def request(
        self, method: str, path: str, what: str, body: Any = None, content_type: str = "application/json"
    ) -> Json | None:
        """Send one request; None on 404, the decoded object on 2xx, KubeApiError otherwise."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            serialized = self._client.param_serialize(
                method=method, resource_path=path, header_params=headers, body=body
            )
            response = self._client.call_api(*serialized, _request_timeout=self._timeout)
            data: bytes = response.read() or b""
            status: int = response.status
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # refused, reset, timed out, TLS
            raise KubeApiError(f"{method} {what}: no answer from the API server: {exc}", 0) from exc
        if status == 404:
            return None
        if not 200 <= status < 300:
            raise _api_error(method, what, status, data)
        return json.loads(data) if data else {}

    def get(self, ref: ObjectRef, subresource: str | None = None) -> Json | None:
        return self.request("GET", ref.path(subresource), str(ref))

    def replace(self, ref: ObjectRef, body: Json, subresource: str | None = None) -> Json:
        return self._must(self.request("PUT", ref.path(subresource), str(ref), body), ref)

    def create(self, ref: ObjectRef, body: Json) -> Json:
        return self._must(self.request("POST", ref.collection_path, str(ref), body), ref)

    def json_patch(self, ref: ObjectRef, ops: list[Json], subresource: str | None = None) -> Json:
        result = self.request("PATCH", ref.path(subresource), str(ref), ops, "application/json-patch+json")
        return self._must(result, ref)

    @staticmethod
    def _must(result: Json | None, ref: ObjectRef) -> Json:
        if result is None:
            raise RouterError(f"{ref} was deleted while being updated")
        return result


def as_kube_api(api: Any) -> KubeApi:
    """``api`` itself when it is already a :class:`KubeApi` (a cache-backed one, say), else one around the client."""
    return api if isinstance(api, KubeApi) else KubeApi(api)


def _api_error(method: str, what: str, status: int, data: bytes) -> KubeApiError:
    try:
        message = json.loads(data).get("message") or data.decode(errors="replace")
    except (ValueError, AttributeError):
        message = data.decode(errors="replace")
    cls = ConflictError if status == 409 else KubeApiError
    return cls(f"{method} {what}: HTTP {status}: {message}", status)


def fetch(api: KubeApi, ref: ObjectRef) -> Json:
    """The live object, or a RouterError naming it when it does not exist."""
    obj = api.get(ref)
    if obj is None:
        raise RouterError(f"{ref} not found")
    return obj


Mutation = Callable[[Json], Json | None]


def update(api: KubeApi, ref: ObjectRef, mutate: Mutation, retry: RetryPolicy) -> Json:
    """Read, mutate, PUT with the read resourceVersion; on 409 start over (bounded).

    ``mutate`` gets a private copy and returns the desired object, or None when nothing needs
    writing, which keeps a repeated ``set_weight`` from producing a write (and a watch event).
    """

    def attempt() -> Json:
        current = fetch(api, ref)
        desired = mutate(copy.deepcopy(current))
        if desired is None or desired == current:
            return current
        desired.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
        return api.replace(ref, desired)

    return conflict_retrying(retry)(attempt)


def conflict_retrying(retry: RetryPolicy) -> tenacity.Retrying:
    """Retry only on 409, with jittered exponential backoff, re-raising the last conflict."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(ConflictError),
        stop=tenacity.stop_after_attempt(max(1, retry.attempts)),
        wait=(tenacity.wait_exponential(multiplier=retry.backoff, max=2.0) + tenacity.wait_random(0, retry.backoff)),
        reraise=True,
    )


def percent(part: int | Fraction, whole: int | Fraction) -> int:
    """``part`` of ``whole`` in whole percent, half rounding up (no banker's rounding surprises)."""
    if whole <= 0:
        return 0
    share = Fraction(part) * 100 / Fraction(whole)
    return int(share + Fraction(1, 2))


def check_weight(green: int) -> int:
    """Reject weights outside 0..100 before anything is written."""
    if isinstance(green, bool) or not isinstance(green, int) or not 0 <= green <= 100:
        raise ValueError(f"green weight must be an integer percentage 0..100, got {green!r}")
    return green


def verified(what: str, wanted: int, effective: int) -> int:
    """The read-back check every router ends with."""
    if effective != wanted:
        raise WeightMismatch(
            f"{what}: wrote green {wanted}% but read back {effective}%; "
            "another writer or extra backends change the split"
        )
    return effective
