"""The one declared list of Kubernetes API permissions the controller uses.

Why a Python list and not just a YAML ClusterRole: three consumers must agree on it exactly —
the operator (which can check at startup what it is about to need), the Helm chart and the plain
manifests in ``config/rbac`` (which grant it), and the tests (which render the chart, compare its
rules with this list, and scan the operator's code for API calls this list lacks *and* for entries
here no call uses: least privilege both ways). When the operator starts or stops using a verb, the
change is one line here and the tests say which manifests follow.

Scopes:

- ``watched``: objects in the namespaces whose rollouts the operator manages. Granted by a
  ClusterRole (cluster-wide mode) or by one Role per watched namespace (namespaced mode).
- ``release``: objects only in the operator's own namespace (the leader-election Lease), always a
  Role there, never cluster-wide: no reason to let the operator touch other teams' Leases.

No wildcard verbs or resources anywhere; ``delete`` is deliberately absent: greenlane never deletes
the user's objects (the canary Ingress it creates is owned by the rollout and garbage-collected).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

Scope = Literal["watched", "release"]
VERBS: frozenset[str] = frozenset({"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"})

GROUP = "greenlane.dev"
LEASE_NAME = "greenlane-leader"
"""The leader-election Lease, in the operator's namespace (``POD_NAMESPACE``)."""
COMMAND_ANNOTATION = "greenlane.dev/command"
"""Where the CLI writes control commands (JSON: id, command, user, timestamp). The human running the CLI
needs ``patch`` (the rollout-operator role); the operator only reads the annotation."""


@dataclass(frozen=True)
class Permission:
    """One (API group, resource) and the verbs the controller uses on it, with the reason."""

    group: str
    """API group; ``""`` is the core group."""
    resource: str
    """Plural resource name, ``resource/subresource`` for subresources (``deployments/scale``)."""
    verbs: tuple[str, ...]
    why: str
    scope: Scope = "watched"

    def __post_init__(self) -> None:
        unknown = set(self.verbs) - VERBS
        if unknown or "*" in self.resource or "*" in self.group:
            raise ValueError(f"{self.group}/{self.resource}: wildcards or unknown verbs {sorted(unknown)}")

    def allows(self, group: str, resource: str, verb: str) -> bool:
        return (group, resource) == (self.group, self.resource) and verb in self.verbs


READ_WRITE = ("get", "list", "watch", "update")
"""Routers read an object and PUT it back with the resourceVersion they read (``kube_common.update``); the
operator caches the objects rollouts name (list+watch), reading one on demand when a rollout first names it."""

PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        GROUP,
        "bluegreenrollouts",
        ("get", "list", "watch", "patch"),
        "watch rollouts (list+watch) into the cache, read one after a write conflict; patch adds and "
        "removes the traffic-to-blue finalizer (JSON Patch guarded by resourceVersion); commands are "
        "annotations the CLI writes",
    ),
    Permission(GROUP, "bluegreenrollouts/status", ("update",), "all progress lives in status, replaced per reconcile"),
    Permission(
        "apps",
        "deployments",
        ("get", "list", "watch"),
        "the blue and green tracks: availability, pod template; watched to react at once",
    ),
    Permission(
        "apps",
        "deployments/scale",
        ("get", "update", "patch"),
        "replica-ratio router (get+update) and scaling blue down after promotion (patch)",
    ),
    Permission(
        "apps",
        "replicasets",
        ("list", "watch"),
        "the current pod-template-hash of each track (cached: list+watch, listed by selector for a new rollout)",
    ),
    Permission("", "secrets", ("get",), "Prometheus credentials named in spec.analysis.prometheus"),
    Permission("", "events", ("create", "patch"), "decisions as Events (patch aggregates repeats)"),
    Permission("gateway.networking.k8s.io", "httproutes", READ_WRITE, "Gateway API router"),
    Permission("gateway.networking.k8s.io", "grpcroutes", READ_WRITE, "Gateway API router (gRPC)"),
    Permission("networking.istio.io", "virtualservices", READ_WRITE, "Istio router"),
    Permission("split.smi-spec.io", "trafficsplits", READ_WRITE, "SMI router"),
    Permission(
        "networking.k8s.io",
        "ingresses",
        ("get", "list", "watch", "create", "update"),
        "ingress-nginx router: reads the main Ingress (cached: list+watch), creates and updates the canary Ingress",
    ),
    Permission(
        "coordination.k8s.io",
        "leases",
        ("get", "list", "watch", "create", "update"),
        f"leader election on the Lease {LEASE_NAME}; with --shards, one Lease per shard and per member "
        "(list: who holds which; watch: see a renewal when it happens, so a dead replica's shards move one "
        "lease duration after its last renewal, not a poll later)",
        scope="release",
    ),
)


def by_scope(scope: Scope, permissions: Iterable[Permission] = PERMISSIONS) -> tuple[Permission, ...]:
    return tuple(p for p in permissions if p.scope == scope)


def allowed(group: str, resource: str, verb: str, permissions: Iterable[Permission] = PERMISSIONS) -> bool:
    """Whether the declared list grants ``verb`` on ``group/resource``."""
    return any(p.allows(group, resource, verb) for p in permissions)


def triples(permissions: Iterable[Permission] = PERMISSIONS) -> Iterator[tuple[str, str, str]]:
    """Flatten to ``(group, resource, verb)``: the unit the tests compare."""
    for p in permissions:
        for verb in p.verbs:
            yield p.group, p.resource, verb


def rbac_rules(scope: Scope) -> list[dict[str, list[str]]]:
    """The ``rules`` of a (Cluster)Role granting exactly this scope's permissions, one rule per resource."""
    return [{"apiGroups": [p.group], "resources": [p.resource], "verbs": list(p.verbs)} for p in by_scope(scope)]
