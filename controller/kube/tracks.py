"""What the cluster says about a track: its Deployment's readiness and the current ReplicaSet's
``pod-template-hash``.

The hash gives exact pod selection (``checkout-<hash>-xxxxx`` never matches ``checkout-py312-…``) and
tells the core when green's pod template changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

REVISION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class TrackInfo:
    exists: bool
    desired: int = 0
    available: int = 0
    template_hash: str | None = None


def read_track(api: k8s.ApiClient, namespace: str, deployment: str) -> TrackInfo:
    apps = k8s.AppsV1Api(api)
    try:
        dep = apps.read_namespaced_deployment(deployment, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return TrackInfo(exists=False)
        raise
    spec, status = dep.spec, dep.status
    desired = int(spec.replicas if spec.replicas is not None else 1)
    match = dict(spec.selector.match_labels or {})
    selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
    template_hash = _current_hash(apps, namespace, dep, selector, match)
    return TrackInfo(
        exists=True, desired=desired, available=int(status.available_replicas or 0), template_hash=template_hash
    )


def _matches(labels: dict[str, str] | None, wanted: dict[str, str]) -> bool:
    """Client-side selector check as well: cheap, and correct against servers that ignore selectors."""
    return all((labels or {}).get(k) == v for k, v in wanted.items())


def _current_hash(
    apps: k8s.AppsV1Api, namespace: str, dep: k8s.V1Deployment, selector: str, match: dict[str, str]
) -> str | None:
    revision = (dep.metadata.annotations or {}).get(REVISION)
    listed = apps.list_namespaced_replica_set(namespace, label_selector=selector).items
    sets = [rs for rs in listed if _matches(rs.metadata.labels, match)]
    owned = [rs for rs in sets if any(o.uid == dep.metadata.uid for o in rs.metadata.owner_references or [])]
    candidates = owned or sets
    for rs in candidates:
        if revision and (rs.metadata.annotations or {}).get(REVISION) == revision:
            return (rs.metadata.labels or {}).get("pod-template-hash")
    if candidates:  # no revision annotations (older or emulated clusters): newest ReplicaSet wins
        newest = max(candidates, key=lambda rs: int((rs.metadata.annotations or {}).get(REVISION, "0") or 0))
        return (newest.metadata.labels or {}).get("pod-template-hash")
    return None
