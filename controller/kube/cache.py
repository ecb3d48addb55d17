"""The operator's informer caches: rollouts, and the Deployments, ReplicaSets and router objects they name.

One :class:`ClusterCache` is shared by every worker. Rollouts are cached whole (trimmed); dependents only
when some rollout names them (:class:`Interest`), so a cluster with fifty thousand Deployments and a
thousand rollouts holds two thousand Deployments. A dependent nobody named before (a new rollout, an
edited one) is fetched once on demand and kept current by its watch from then on.

Reads for routers go through :class:`CachedKubeApi`, a :class:`~controller.routing.kube_common.KubeApi`
whose ``get`` answers from the cache and whose writes go to the API server (with their resourceVersion
preconditions, as before) and into the cache. After a 409 the next read of that object goes to the API
server, so a conflict is retried against the truth, not against our stale copy.

Router kinds are watched only once a rollout uses them (a cluster without Istio never lists
VirtualServices); until a kind's first list completes, its reads go to the API server.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import structlog
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.clock import Clock
from controller.kube.store import (
    Json,
    Key,
    Store,
    key_of,
    trim_deployment,
    trim_replicaset,
    trim_rollout,
    trim_router_object,
)
from controller.kube.tracks import TrackInfo, get_deployment, list_replicasets, owner_index, track_info
from controller.kube.watcher import Informer, ListFn
from controller.model.resource import GROUP, PLURAL, VERSION
from controller.model.status import AppliedRouting
from controller.routing.factory import router_refs
from controller.routing.kube_common import ConflictError, KubeApi, ObjectRef

log = structlog.get_logger("greenlane.cache")
Kind = tuple[str, str]
"""(apiVersion, plural) of a router object kind, e.g. ``("gateway.networking.k8s.io/v1", "httproutes")``."""
Dep = tuple[str, str, str]
"""A dependency of a rollout: (kind, namespace, name); kind is ``deployments`` or ``apiVersion/plural``."""
DEPLOYMENTS = "deployments"
Notify = Callable[[set[str]], None]


def rollout_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def dependencies(obj: Json) -> set[Dep]:
    """What a rollout names in spec and in ``status.routing`` (the router in effect during an edit)."""
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    namespace = str(meta.get("namespace") or "")
    deps: set[Dep] = set()
    routing = ((obj.get("status") or {}).get("routing")) or None
    for source in (spec, routing):
        if not isinstance(source, dict):
            continue
        for side in ("blue", "green"):
            name = (spec.get(side) or {}).get("deployment") if source is spec else source.get(f"{side}Deployment")
            if isinstance(name, str) and name:
                deps.add((DEPLOYMENTS, namespace, name))
        deps |= _router_deps(source if source is not spec else _applied(spec), namespace)
    return deps


def _applied(spec: Json) -> Json:
    return {
        "trafficRouting": spec.get("trafficRouting"),
        "blueService": (spec.get("blue") or {}).get("service"),
        "greenService": (spec.get("green") or {}).get("service"),
        "blueDeployment": (spec.get("blue") or {}).get("deployment"),
        "greenDeployment": (spec.get("green") or {}).get("deployment"),
    }


def _router_deps(applied: Json, namespace: str) -> set[Dep]:
    try:
        target = AppliedRouting.model_validate(applied)
        refs = router_refs(target, namespace)
    except Exception:  # an invalid spec names nothing we can watch; the reconcile reports why
        return set()
    return {_dep(ref) for ref in refs}


def _dep(ref: ObjectRef) -> Dep:
    kind = (
        DEPLOYMENTS
        if (ref.api_version, ref.plural) == ("apps/v1", "deployments")
        else _kind_id((ref.api_version, ref.plural))
    )
    return kind, ref.namespace, ref.name


def _kind_id(kind: Kind) -> str:
    return f"{kind[0]}/{kind[1]}"


def _kind_of(kind_id: str) -> Kind:
    api_version, _, plural = kind_id.rpartition("/")
    return api_version, plural


class Interest:
    """Which rollouts name which dependents, both ways; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._of_rollout: dict[str, set[Dep]] = {}
        self._of_dep: dict[Dep, set[str]] = {}

    def name(self, rollout: str, deps: set[Dep]) -> set[Dep]:
        """Replace what ``rollout`` names; returns the dependents nobody names any more."""
        with self._lock:
            old = self._of_rollout.pop(rollout, set())
            if deps:
                self._of_rollout[rollout] = set(deps)
            for dep in deps - old:
                self._of_dep.setdefault(dep, set()).add(rollout)
            dropped: set[Dep] = set()
            for dep in old - deps:
                names = self._of_dep.get(dep)
                if names is not None:
                    names.discard(rollout)
                    if not names:
                        del self._of_dep[dep]
                        dropped.add(dep)
            return dropped

    def add(self, rollout: str, dep: Dep) -> None:
        with self._lock:
            self._of_rollout.setdefault(rollout, set()).add(dep)
            self._of_dep.setdefault(dep, set()).add(rollout)

    def rollouts(self, dep: Dep) -> set[str]:
        with self._lock:
            return set(self._of_dep.get(dep, ()))

    def deps(self) -> list[Dep]:
        with self._lock:
            return list(self._of_dep)

    def wanted(self, dep: Dep) -> bool:
        with self._lock:
            return dep in self._of_dep

    def namespace_wants(self, kind: str, namespace: str) -> bool:
        with self._lock:
            return any(d[0] == kind and d[1] == namespace for d in self._of_dep)

    def rollouts_in(self, kind: str, namespace: str) -> set[str]:
        with self._lock:
            return {r for d, rs in self._of_dep.items() if d[0] == kind and d[1] == namespace for r in rs}

    def __len__(self) -> int:
        with self._lock:
            return len(self._of_dep)


def raw_lister(api: k8s.ApiClient, kind: Kind, namespace: str | None) -> ListFn:
    """A list/watch function for any kind by path, taking the typed clients' keyword arguments."""
    api_version, plural = kind
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
    names = {
        "limit": "limit",
        "_continue": "continue",
        "resource_version": "resourceVersion",
        "watch": "watch",
        "timeout_seconds": "timeoutSeconds",
        "allow_watch_bookmarks": "allowWatchBookmarks",
    }

    def list_fn(**kwargs: Any) -> Any:
        query = [(names[k], _param(v)) for k, v in kwargs.items() if k in names and v is not None]
        serialized = api.param_serialize(
            method="GET", resource_path=path, query_params=query, header_params={"Accept": "application/json"}
        )
        response = api.call_api(*serialized, _request_timeout=kwargs.get("_request_timeout"))
        if not 200 <= response.status < 300:
            raise ApiException(status=response.status, reason=response.reason)
        return response.response

    return list_fn


def _param(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class ClusterCache:
    """See the module docstring. ``notify`` is told which rollout keys to look at after a change."""

    def __init__(
        self,
        api: k8s.ApiClient,
        clock: Clock,
        namespaces: tuple[str, ...] | None,
        notify: Notify,
        watch_timeout: int = 300,
    ) -> None:
        self.api, self.clock, self.scopes = api, clock, namespaces or (None,)
        self._watch_timeout = watch_timeout
        self._notify = notify
        self.interest = Interest()
        self.rollouts = Store("rollouts", trim_rollout, on_change=self._rollout_changed)
        self.deployments = Store(
            DEPLOYMENTS, trim_deployment, self._wanted_deployment, self._dep_changed, remember_absent=True
        )
        self.replicasets = Store(
            "replicasets", trim_replicaset, self._wanted_replicaset, self._rs_changed, index=owner_index
        )
        self.routers: dict[Kind, Store] = {}
        self.informers: list[Informer] = [*self._rollout_informers()]
        self.dependents: list[Informer] = [*self._dependent_informers()]
        self._router_informers: dict[Kind, list[Informer]] = {}
        self._listed_sets: set[Key] = set()  # Deployments whose ReplicaSets the cache holds
        self._listing: set[Key] = set()
        self._conflicted: set[tuple[str, Key]] = set()
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self._dependents_started = False
        self.on_rollout: Callable[[str, Json | None, Json | None], None] = lambda key, old, new: None
        self.live_reads = 0

    # ---- informers --------------------------------------------------------------------------------
    def _rollout_informers(self) -> Iterator[Informer]:
        custom = k8s.CustomObjectsApi(self.api)
        for namespace in self.scopes:

            def list_fn(namespace: str | None = namespace, **kwargs: Any) -> Any:
                if namespace is None:
                    return custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, **kwargs)
                return custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, **kwargs)

            yield Informer(
                f"rollouts/{namespace or '*'}", list_fn, self.rollouts, self.clock, timeout_seconds=self._watch_timeout
            )

    def _dependent_informers(self) -> Iterator[Informer]:
        apps = k8s.AppsV1Api(self.api)
        for namespace in self.scopes:

            def deployments(namespace: str | None = namespace, **kwargs: Any) -> Any:
                if namespace is None:
                    return apps.list_deployment_for_all_namespaces(**kwargs)
                return apps.list_namespaced_deployment(namespace, **kwargs)

            def replicasets(namespace: str | None = namespace, **kwargs: Any) -> Any:
                if namespace is None:
                    return apps.list_replica_set_for_all_namespaces(**kwargs)
                return apps.list_namespaced_replica_set(namespace, **kwargs)

            yield Informer(
                f"deployments/{namespace or '*'}",
                deployments,
                self.deployments,
                self.clock,
                timeout_seconds=self._watch_timeout,
            )
            yield Informer(
                f"replicasets/{namespace or '*'}",
                replicasets,
                self.replicasets,
                self.clock,
                on_listing=self._replicasets_listing,
                on_synced=self._replicasets_listed,
                timeout_seconds=self._watch_timeout,
            )

    def _replicasets_listing(self) -> None:
        """The Deployments wanted as a list of ReplicaSets starts: the list will hold all of theirs."""
        self._listing = {(ns, name) for kind, ns, name in self.interest.deps() if kind == DEPLOYMENTS}

    def _replicasets_listed(self) -> None:
        self._listed_sets |= self._listing

    def start(self, stop: threading.Event, informers: Iterable[Informer]) -> list[threading.Thread]:
        self._stop = stop
        with self._lock:
            fresh = [i for i in informers if not i.started]
            for informer in fresh:
                informer.started = True
        threads = [threading.Thread(target=i.run, args=(stop,), name=i.name, daemon=True) for i in fresh]
        for thread in threads:
            thread.start()
        return threads

    def all_informers(self) -> list[Informer]:
        with self._lock:
            routers = [i for group in self._router_informers.values() for i in group]
        return [*self.informers, *self.dependents, *routers]

    def _router_store(self, kind: Kind) -> Store:
        """The store of a router kind, its informers started on first use."""
        with self._lock:
            store = self.routers.get(kind)
            if store is not None:
                return store
            kid = _kind_id(kind)
            store = Store(
                kid,
                trim_router_object,
                lambda obj, kid=kid: self._wanted((kid, *key_of(obj))),  # type: ignore[misc]
                lambda key, old, new, kid=kid: self._notify(self.interest.rollouts((kid, *key))),  # type: ignore[misc]
                remember_absent=True,
            )
            self.routers[kind] = store
            # rbac: gateway.networking.k8s.io/httproutes list,watch
            # rbac: gateway.networking.k8s.io/grpcroutes list,watch
            # rbac: networking.istio.io/virtualservices list,watch
            # rbac: split.smi-spec.io/trafficsplits list,watch
            # rbac: networking.k8s.io/ingresses list,watch
            informers = [
                Informer(
                    f"{kid}/{ns or '*'}",
                    raw_lister(self.api, kind, ns),
                    store,
                    self.clock,
                    optional=True,
                    timeout_seconds=self._watch_timeout,
                )
                for ns in self.scopes
            ]
            self._router_informers[kind] = informers
        if self._dependents_started and self._stop is not None:
            # named after the start (a new rollout): start now. Before, start_dependents starts it once every
            # rollout is listed, so its list keeps the objects of all of them, not of those listed so far.
            self.start(self._stop, informers)
        return store

    def start_dependents(self, stop: threading.Event) -> list[threading.Thread]:
        """Deployments, ReplicaSets and every router kind named so far (later ones start when named)."""
        with self._lock:
            self._dependents_started = True
            routers = [i for group in self._router_informers.values() for i in group]
        return self.start(stop, [*self.dependents, *routers])

    def dependents_synced(self) -> bool:
        """Every cache listed, router kinds the API server does not serve aside (they are read on demand)."""
        return all(i.synced.is_set() or i.unserved for i in self.all_informers())

    def _synced(self, kind: Kind | None) -> bool:
        if kind is None:
            return all(i.synced.is_set() for i in self.dependents)
        with self._lock:
            informers = self._router_informers.get(kind, [])
        return bool(informers) and all(i.synced.is_set() and not i.unserved for i in informers)

    # ---- interest and announcements -------------------------------------------------------------
    def _wanted(self, dep: Dep) -> bool:
        return self.interest.wanted(dep)

    def _wanted_deployment(self, obj: Json) -> bool:
        return self._wanted((DEPLOYMENTS, *key_of(obj)))

    def _wanted_replicaset(self, obj: Json) -> bool:
        namespace = key_of(obj)[0]
        owners = [o for o in (obj.get("metadata") or {}).get("ownerReferences") or [] if o.get("kind") == "Deployment"]
        if owners:
            return any(self._wanted((DEPLOYMENTS, namespace, str(o.get("name")))) for o in owners)
        return self.interest.namespace_wants(DEPLOYMENTS, namespace)

    def _rollout_changed(self, key: Key, old: Json | None, new: Json | None) -> None:
        rollout = rollout_key(*key)
        deps = dependencies(new) if new is not None else set()
        for dep in self.interest.name(rollout, deps):
            self._drop(dep)
        for kind in {d[0] for d in deps} - {DEPLOYMENTS}:
            self._router_store(_kind_of(kind))  # start watching a router kind as soon as a rollout names it
        self.on_rollout(rollout, old, new)

    def _drop(self, dep: Dep) -> None:
        kind, namespace, name = dep
        if kind == DEPLOYMENTS:
            self.deployments.forget((namespace, name))
            self._listed_sets.discard((namespace, name))
            for key in self.replicasets.indexed_keys(f"{namespace}/{name}"):
                if not self._wanted_rs_key(key):
                    self.replicasets.forget(key)
            return
        for known, store in list(self.routers.items()):
            if _kind_id(known) == kind:
                store.forget((namespace, name))

    def _wanted_rs_key(self, key: Key) -> bool:
        obj = self.replicasets.get(key)
        return obj is not None and self._wanted_replicaset(obj)

    def _dep_changed(self, key: Key, old: Json | None, new: Json | None) -> None:
        self._notify(self.interest.rollouts((DEPLOYMENTS, *key)))

    def _rs_changed(self, key: Key, old: Json | None, new: Json | None) -> None:
        obj = new or old or {}
        owners = [o for o in (obj.get("metadata") or {}).get("ownerReferences") or [] if o.get("kind") == "Deployment"]
        keys: set[str] = set()
        for owner in owners:
            keys |= self.interest.rollouts((DEPLOYMENTS, key[0], str(owner.get("name"))))
        if not owners:
            keys = self.interest.rollouts_in(DEPLOYMENTS, key[0])
        self._notify(keys)

    # ---- reads for the KubeWorld -----------------------------------------------------------------
    def rollout(self, namespace: str, name: str) -> Json | None:
        return self.rollouts.get((namespace, name))

    def track(self, rollout: str, namespace: str, deployment: str) -> TrackInfo:
        key: Key = (namespace, deployment)
        self.interest.add(rollout, (DEPLOYMENTS, namespace, deployment))
        synced = self._synced(None)
        if not synced or not self.deployments.known(key):
            self.deployments.fetched(key, self._get_deployment(namespace, deployment))
        dep = self.deployments.get(key)
        if dep is None:
            return TrackInfo(exists=False)
        if not synced or key not in self._listed_sets:
            self.live_reads += 1
            for rs in list_replicasets(self.api, namespace, dep):
                self.replicasets.apply(rs)
            self._listed_sets.add(key)
        owned = self.replicasets.indexed(f"{namespace}/{deployment}") + self.replicasets.indexed(f"{namespace}/")
        return track_info(dep, owned)

    def _get_deployment(self, namespace: str, name: str) -> Json | None:
        self.live_reads += 1
        return get_deployment(self.api, namespace, name)

    def kube_api(self, rollout: str) -> KubeApi:
        return CachedKubeApi(self.api, self, rollout)

    def fence(self, namespace: str, name: str) -> contextlib.AbstractContextManager[None]:
        return self.rollouts.fence((namespace, name))

    def written(self, obj: Json) -> None:
        self.rollouts.written(obj)

    def sizes(self) -> dict[str, tuple[int, int]]:
        """Objects and bytes held per kind (metrics, the bench)."""
        stores = [self.rollouts, self.deployments, self.replicasets, *self.routers.values()]
        return {s.kind: (len(s), s.size_bytes()) for s in stores}

    # ---- router objects ---------------------------------------------------------------------------
    def router_get(self, api: CachedKubeApi, rollout: str, ref: ObjectRef, subresource: str | None) -> Json | None:
        kind: Kind = (ref.api_version, ref.plural)
        if kind == ("apps/v1", "deployments"):
            return self._scale(api, rollout, ref, subresource)
        if subresource is not None:
            return api.live_get(ref, subresource)
        store, key = self._router_store(kind), (ref.namespace, ref.name)
        self.interest.add(rollout, (_kind_id(kind), ref.namespace, ref.name))
        if not self._synced(kind) or not store.known(key) or self._take_conflict(kind, key):
            store.fetched(key, api.live_get(ref, None))
        return store.get(key)

    def _scale(self, api: CachedKubeApi, rollout: str, ref: ObjectRef, subresource: str | None) -> Json | None:
        """A Deployment's Scale as the API server would answer it, from the cached Deployment."""
        key: Key = (ref.namespace, ref.name)
        if subresource != "scale" or self._take_conflict(("apps/v1", "deployments"), key):
            return api.live_get(ref, subresource)
        self.track(rollout, ref.namespace, ref.name)  # fetches the Deployment if nobody named it yet
        dep = self.deployments.get(key)
        if dep is None:
            return None
        meta = dep.get("metadata") or {}
        return {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta},
            "spec": {"replicas": (dep.get("spec") or {}).get("replicas", 1)},
            "status": {"replicas": (dep.get("status") or {}).get("replicas", 0)},
        }

    def router_written(self, ref: ObjectRef, subresource: str | None, obj: Json) -> None:
        kind: Kind = (ref.api_version, ref.plural)
        if kind == ("apps/v1", "deployments"):
            if subresource == "scale":
                self._scaled(ref, obj)
            return
        if subresource is None:
            self._router_store(kind).written(obj)

    def _scaled(self, ref: ObjectRef, scale: Json) -> None:
        dep = self.deployments.get((ref.namespace, ref.name))
        version = (scale.get("metadata") or {}).get("resourceVersion")
        if dep is None or not version:
            return
        dep.setdefault("spec", {})["replicas"] = (scale.get("spec") or {}).get("replicas")
        dep["metadata"]["resourceVersion"] = version
        self.deployments.written(dep)

    def router_fence(self, ref: ObjectRef) -> contextlib.AbstractContextManager[None]:
        kind: Kind = (ref.api_version, ref.plural)
        store = self.deployments if kind == ("apps/v1", "deployments") else self._router_store(kind)
        return store.fence((ref.namespace, ref.name))

    def conflicted(self, ref: ObjectRef) -> None:
        with self._lock:
            self._conflicted.add((_kind_id((ref.api_version, ref.plural)), (ref.namespace, ref.name)))

    def _take_conflict(self, kind: Kind, key: Key) -> bool:
        with self._lock:
            entry = (_kind_id(kind), key)
            if entry in self._conflicted:
                self._conflicted.discard(entry)
                return True
            return False


class CachedKubeApi(KubeApi):
    """A router's KubeApi for one reconcile of ``rollout``: reads from the cache, writes to the API and the cache."""

    def __init__(self, api_client: Any, cache: ClusterCache, rollout: str) -> None:
        super().__init__(api_client)
        self._cache, self._rollout = cache, rollout

    def get(self, ref: ObjectRef, subresource: str | None = None) -> Json | None:
        return self._cache.router_get(self, self._rollout, ref, subresource)

    def live_get(self, ref: ObjectRef, subresource: str | None) -> Json | None:
        self._cache.live_reads += 1
        return super().get(ref, subresource)

    def replace(self, ref: ObjectRef, body: Json, subresource: str | None = None) -> Json:
        return self._write(ref, subresource, lambda: super(CachedKubeApi, self).replace(ref, body, subresource))

    def create(self, ref: ObjectRef, body: Json) -> Json:
        return self._write(ref, None, lambda: super(CachedKubeApi, self).create(ref, body))

    def json_patch(self, ref: ObjectRef, ops: list[Json], subresource: str | None = None) -> Json:
        return self._write(ref, subresource, lambda: super(CachedKubeApi, self).json_patch(ref, ops, subresource))

    def _write(self, ref: ObjectRef, subresource: str | None, call: Callable[[], Json]) -> Json:
        with self._cache.router_fence(ref):
            try:
                written = call()
            except ConflictError:
                self._cache.conflicted(ref)
                raise
            self._cache.router_written(ref, subresource, written)
        return written
