"""A watch-fed, resourceVersion-consistent store of one kind's objects, trimmed to the fields we read.

Why it exists: with ten thousand rollouts, reading the world from the API server on every reconcile is
most of the load on the server and most of the operator's time. Reconciles read from stores like this one
(filled by list+watch, :mod:`controller.kube.watcher`) and write to the API; each write's answer goes
into the store at once (:meth:`Store.written`), so the next read sees our own write.

Consistency rules:

- an object is replaced only by a *newer* resourceVersion (they are etcd revisions: integers that only
  grow; an opaque one is accepted as newer), so a late watch event never overwrites our fresher write;
- a change is announced (``on_change``) only when the trimmed object differs, resourceVersion aside:
  a Deployment's status heartbeat or the echo of our own write wakes nobody;
- while we write an object (:meth:`Store.fence`), announcements of it are held; those that only echo
  what we wrote are dropped when the write returns, others are delivered then.

Memory: each object is kept as compact JSON of its trimmed form (a few hundred bytes to a few KiB),
decoded on read; ``accept`` keeps only the objects a rollout names (see ``Wanted``).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]
Key = tuple[str, str]
"""(namespace, name); cluster-scoped objects use an empty namespace."""
Trim = Callable[[Json], Json]
Change = Callable[[Key, "Json | None", "Json | None"], None]
Announcement = tuple[Key, "Json | None", "Json | None"]


def key_of(obj: Json) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def version_of(obj: Json) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def released(obj: Json) -> bool:
    """Marked for deletion with no finalizer left: the API server removes such an object as it answers."""
    meta = obj.get("metadata") or {}
    return bool(meta.get("deletionTimestamp")) and not meta.get("finalizers")


def newer(candidate: str, current: str) -> bool:
    """Whether ``candidate`` is a later resourceVersion than ``current`` (equal is not newer)."""
    if candidate.isdigit() and current.isdigit():
        return int(candidate) > int(current)
    return candidate != current


def _encode(obj: Json) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


@dataclass
class _Fence:
    depth: int = 0
    written: set[str] = field(default_factory=set)
    held: list[tuple[Json | None, Json | None, str]] = field(default_factory=list)


class Store:
    """One kind's trimmed objects keyed by (namespace, name); see the module docstring."""

    def __init__(
        self,
        kind: str,
        trim: Trim,
        accept: Callable[[Json], bool] = lambda obj: True,
        on_change: Change | None = None,
        *,
        remember_absent: bool = False,
        index: Callable[[Json], Iterable[str]] | None = None,
    ) -> None:
        self.kind = kind
        self._remember_absent = remember_absent
        self._index_fn = index
        self._index: dict[str, set[Key]] = {}
        self._index_of: dict[Key, tuple[str, ...]] = {}
        self._trim = trim
        self._accept = accept
        self._on_change = on_change or (lambda key, old, new: None)
        self._lock = threading.RLock()
        self._items: dict[Key, tuple[str, str]] = {}  # key -> (resourceVersion, compact JSON without it)
        self._by_namespace: dict[str, set[str]] = {}
        self._fences: dict[Key, _Fence] = {}
        self._absent: set[Key] = set()  # known to be missing (only kept for kinds fetched on demand)

    # ---- reads ------------------------------------------------------------------------------------
    def get(self, key: Key) -> Json | None:
        with self._lock:
            item = self._items.get(key)
        return None if item is None else _decode(*item)

    def known(self, key: Key) -> bool:
        """Present, or fetched and found absent: either way the store has the answer."""
        with self._lock:
            return key in self._items or key in self._absent

    def keys(self) -> list[Key]:
        with self._lock:
            return list(self._items)

    def in_namespace(self, namespace: str) -> list[Json]:
        with self._lock:
            items = [self._items[(namespace, n)] for n in self._by_namespace.get(namespace, ())]
        return [_decode(*item) for item in items]

    def indexed(self, value: str) -> list[Json]:
        """Objects whose ``index`` function named ``value``."""
        with self._lock:
            items = [self._items[k] for k in self._index.get(value, ()) if k in self._items]
        return [_decode(*item) for item in items]

    def indexed_keys(self, value: str) -> list[Key]:
        with self._lock:
            return list(self._index.get(value, ()))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def size_bytes(self) -> int:
        """Bytes of the stored JSON text (what trimming bounds); for metrics and the bench."""
        with self._lock:
            return sum(len(rv) + len(data) for rv, data in self._items.values())

    # ---- writes from watches, lists and our own API writes ----------------------------------------
    def apply(self, obj: Json, deleted: bool = False) -> bool:
        """A watch event (or a fetched object); True when it changed what the store holds."""
        key, version = key_of(obj), version_of(obj)
        with self._lock:
            current = self._items.get(key)
            if current is not None and version and not newer(version, current[0]):
                return False  # an echo or a late event: we already hold this version or a newer one
            if deleted or not self._accept(obj):
                # absence is remembered only where someone reads it: not for every deletion a watch sees
                news = self._remove(key, version, absent=deleted and (current is not None or self._accept(obj)))
            else:
                news = self._put(key, version, self._trim(obj))
        return self._tell(news)

    def _tell(self, news: Announcement | None) -> bool:
        """Announce outside the lock: handlers may read other stores (which may be announcing to us)."""
        if news is None:
            return False
        self._on_change(*news)
        return True

    def replace(self, objects: Iterable[Json]) -> None:
        """A full list: the listed objects are the truth, except where we hold a newer write."""
        listed: set[Key] = set()
        for obj in objects:
            listed.add(key_of(obj))
            self.apply(obj)
        with self._lock:
            gone = [k for k in self._items if k not in listed]
        for key in gone:
            with self._lock:
                news = self._remove(key, "", absent=True)
            self._tell(news)

    def written(self, obj: Json | None) -> None:
        """Our write's answer: stored at once so the next read sees it, and its echo wakes nobody."""
        if not obj or not (obj.get("metadata") or {}).get("name"):
            return
        if released(obj):
            # the API server deleted it as it answered: the watch's DELETED may already have come and gone,
            # and storing the answer would bring back a ghost nothing ever removes. The deletion is announced
            # (not taken for our echo), so whoever keeps something per object forgets it.
            self.apply(obj, deleted=True)
            return
        key = key_of(obj)
        with self._lock:
            fence = self._fences.get(key)
            if fence is not None:
                fence.written.add(version_of(obj))
        self.apply(obj)

    def fetched(self, key: Key, obj: Json | None) -> None:
        """The answer of an on-demand GET: the object, or None when it does not exist."""
        if obj is None:
            with self._lock:
                if key not in self._items:
                    self._absent.add(key)
            return
        self.apply(obj)

    def forget(self, key: Key) -> None:
        """Stop holding an object nobody names any more (no announcement: nobody is interested)."""
        with self._lock:
            self._absent.discard(key)
            if self._items.pop(key, None) is not None:
                self._unindex(key)

    def forget_where(self, unwanted: Callable[[Key], bool]) -> int:
        with self._lock:
            keys = [k for k in [*self._items, *self._absent] if unwanted(k)]
        for key in keys:
            self.forget(key)
        return len(keys)

    @contextlib.contextmanager
    def fence(self, key: Key) -> Iterator[None]:
        """Hold announcements of ``key`` while we write it; deliver the ones that are not our echo after."""
        with self._lock:
            fence = self._fences.setdefault(key, _Fence())
            fence.depth += 1
        try:
            yield
        finally:
            with self._lock:
                fence.depth -= 1
                release = fence.depth == 0
                if release:
                    del self._fences[key]
            if release:
                for old, new, version in fence.held:
                    if version not in fence.written:
                        self._tell((key, old, new))

    # ---- internals (called with the lock held) ----------------------------------------------------
    def _put(self, key: Key, version: str, trimmed: Json) -> Announcement | None:
        trimmed.get("metadata", {}).pop("resourceVersion", None)
        data = _encode(trimmed)
        current = self._items.get(key)
        self._items[key] = (version, data)
        self._absent.discard(key)
        self._by_namespace.setdefault(key[0], set()).add(key[1])
        if self._index_fn is not None:
            self._reindex(key, tuple(self._index_fn(trimmed)))
        if current is not None and current[1] == data:
            return None  # only the resourceVersion moved: nothing we read changed
        old = None if current is None else _decode(*current)
        return self._announce(key, old, _decode(version, data), version)

    def _remove(self, key: Key, version: str, *, absent: bool) -> Announcement | None:
        current = self._items.pop(key, None)
        if absent and self._remember_absent:
            self._absent.add(key)
        if current is None:
            return None
        self._unindex(key)
        return self._announce(key, _decode(*current), None, version)

    def _unindex(self, key: Key) -> None:
        names = self._by_namespace.get(key[0])
        if names is not None:
            names.discard(key[1])
            if not names:
                del self._by_namespace[key[0]]
        self._reindex(key, ())

    def _reindex(self, key: Key, values: tuple[str, ...]) -> None:
        for value in self._index_of.pop(key, ()):
            keys = self._index.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._index[value]
        if values:
            self._index_of[key] = values
            for value in values:
                self._index.setdefault(value, set()).add(key)

    def _announce(self, key: Key, old: Json | None, new: Json | None, version: str) -> Announcement | None:
        fence = self._fences.get(key)
        if fence is not None:
            fence.held.append((old, new, version))
            return None
        return key, old, new


def _decode(version: str, data: str) -> Json:
    obj: Json = json.loads(data)
    if version:
        obj.setdefault("metadata", {})["resourceVersion"] = version
    return obj


# ---- trimming: only the fields greenlane reads ---------------------------------------------------
ROLLOUT_ANNOTATION_PREFIX = "greenlane.dev/"
REVISION = "deployment.kubernetes.io/revision"


def _pick(source: Json | None, keys: Iterable[str]) -> Json:
    source = source or {}
    return {k: source[k] for k in keys if k in source}


def _meta(obj: Json, keys: Iterable[str], annotations: Callable[[str], bool] = lambda name: False) -> Json:
    meta = obj.get("metadata") or {}
    kept = _pick(meta, ("name", "namespace", "uid", "resourceVersion", *keys))
    notes = {k: v for k, v in (meta.get("annotations") or {}).items() if annotations(k)}
    if notes:
        kept["annotations"] = notes
    return kept


def trim_rollout(obj: Json) -> Json:
    """Spec and status whole (the engine validates and resumes from them), metadata as reconciles use it."""
    meta = _meta(
        obj, ("generation", "finalizers", "deletionTimestamp"), lambda k: k.startswith(ROLLOUT_ANNOTATION_PREFIX)
    )
    return {**_pick(obj, ("apiVersion", "kind", "spec", "status")), "metadata": meta}


def trim_deployment(obj: Json) -> Json:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    selector = _pick(spec.get("selector"), ("matchLabels",))
    return {
        "metadata": _meta(obj, ("generation",), lambda k: k == REVISION),
        "spec": {**_pick(spec, ("replicas", "paused")), "selector": selector},
        "status": _pick(
            status, ("replicas", "availableReplicas", "readyReplicas", "updatedReplicas", "observedGeneration")
        ),
    }


def trim_replicaset(obj: Json) -> Json:
    meta = _meta(obj, ("labels",), lambda k: k == REVISION)
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    if owners:
        meta["ownerReferences"] = [_pick(o, ("apiVersion", "kind", "name", "uid", "controller")) for o in owners]
    return {"metadata": meta}


def trim_router_object(obj: Json) -> Json:
    """Routers read-modify-write whole objects, so everything stays but managedFields: an update without them
    keeps the server's (the API server restores omitted managedFields from the live object)."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}
