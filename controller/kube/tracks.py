"""What the cluster says about a track: its Deployment's readiness and the current ReplicaSet's
``pod-template-hash``.

The hash gives exact pod selection (``checkout-<hash>-xxxxx`` never matches ``checkout-py312-…``) and
tells the core when green's pod template changed. :func:`track_info` reads it from plain API JSON, the
same whether the objects come from the informer cache or (without one) straight from the API server.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

REVISION = "deployment.kubernetes.io/revision"
Json = dict[str, Any]


@dataclass(frozen=True)
class TrackInfo:
    exists: bool
    desired: int = 0
    available: int = 0
    template_hash: str | None = None


def selector_labels(deployment: Json) -> dict[str, str]:
    return dict(((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})


def track_info(deployment: Json | None, replicasets: Iterable[Json]) -> TrackInfo:
    """The track as the Deployment (None: absent) and the ReplicaSets of its namespace describe it."""
    if deployment is None:
        return TrackInfo(exists=False)
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    replicas = spec.get("replicas")
    desired = int(replicas if isinstance(replicas, int) else 1)
    available = status.get("availableReplicas")
    return TrackInfo(
        exists=True,
        desired=desired,
        available=int(available if isinstance(available, int) else 0),
        template_hash=current_hash(deployment, replicasets),
    )


def read_track(api: k8s.ApiClient, namespace: str, deployment: str) -> TrackInfo:
    """Without a cache: the Deployment and its namespace's matching ReplicaSets, read from the API server."""
    dep = get_deployment(api, namespace, deployment)
    return track_info(dep, list_replicasets(api, namespace, dep) if dep is not None else [])


def get_deployment(api: k8s.ApiClient, namespace: str, name: str) -> Json | None:
    """The Deployment as API JSON, or None when it does not exist."""
    try:
        return _json(k8s.AppsV1Api(api).read_namespaced_deployment(name, namespace, _preload_content=False))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def owner_index(replicaset: Json) -> list[str]:
    """``namespace/deployment`` for each Deployment owning the ReplicaSet; ``namespace/`` when none does."""
    meta = replicaset.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    owners = [o for o in meta.get("ownerReferences") or [] if o.get("kind") == "Deployment"]
    return [f"{namespace}/{o.get('name')}" for o in owners] or [f"{namespace}/"]


def list_replicasets(api: k8s.ApiClient, namespace: str, deployment: Json) -> list[Json]:
    """The ReplicaSets matching a Deployment's selector (the server filters; the caller checks again)."""
    selector = ",".join(f"{k}={v}" for k, v in sorted(selector_labels(deployment).items()))
    answer = k8s.AppsV1Api(api).list_namespaced_replica_set(namespace, label_selector=selector, _preload_content=False)
    items: list[Json] = _json(answer).get("items") or []
    return items


def _json(response: Any) -> Json:
    data: Json = json.loads(response.data)
    return data


def _matches(labels: dict[str, str] | None, wanted: dict[str, str]) -> bool:
    """Client-side selector check as well: cheap, and correct against servers that ignore selectors."""
    return all((labels or {}).get(k) == v for k, v in wanted.items())


def _revision(obj: Json) -> str | None:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    return str(value) if value is not None else None


def current_hash(deployment: Json, replicasets: Iterable[Json]) -> str | None:
    """The pod-template-hash of the ReplicaSet at the Deployment's revision (else the newest one)."""
    meta = deployment.get("metadata") or {}
    match = selector_labels(deployment)
    sets = [rs for rs in replicasets if _matches((rs.get("metadata") or {}).get("labels"), match)]
    uid = meta.get("uid")
    owned = [
        rs for rs in sets if any(o.get("uid") == uid for o in (rs.get("metadata") or {}).get("ownerReferences") or [])
    ]
    candidates = owned or sets
    revision = _revision(deployment)
    for rs in candidates:
        if revision and _revision(rs) == revision:
            return _hash(rs)
    if candidates:  # no revision annotations (older or emulated clusters): newest ReplicaSet wins
        return _hash(
            max(candidates, key=lambda rs: int(_revision(rs) or "0") if (_revision(rs) or "0").isdigit() else 0)
        )
    return None


def _hash(rs: Json) -> str | None:
    value = ((rs.get("metadata") or {}).get("labels") or {}).get("pod-template-hash")
    return str(value) if value is not None else None
