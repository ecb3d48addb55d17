"""kmock's Kubernetes emulator with the write semantics our routers depend on.

``kmock.KubernetesEmulator`` stores objects and serves list/watch/get well, but every write is a deep
merge: no resourceVersion, no 409, PUT is unknown (404), JSON Patch is not distinguished from merge
patch, ``generateName`` is ignored and ``/status`` or ``/scale`` writes land on the main object. A
router that clobbers a list or forgets its precondition would pass against it. ``StrictEmulator``
keeps kmock's storage (``objects`` with full per-object history), discovery, DSL reactions for reads
and watch streams, and takes over every write:

* a global resourceVersion counter bumped by every write; a write carrying a stale one gets the real
  409 Conflict; PUT to a custom resource without one gets 422 (custom resources forbid blind updates);
* POST honours ``generateName``; PUT replaces the object (server-owned metadata kept, ``generation``
  bumped on spec changes); PATCH dispatches on Content-Type: JSON Patch (a failed ``test`` is 422),
  merge patch (lists replace), strategic merge for built-ins only (415 for custom resources);
* ``/status`` writes change only ``status`` and main writes never do; ``/scale`` reads and writes an
  ``autoscaling/v1`` Scale backed by ``spec.replicas``;
* DELETE honours finalizers (deletionTimestamp first);
* LIST answers a real resourceVersion; WATCH honours ``resourceVersion`` (replays later events from a
  log), ``timeoutSeconds`` (the stream ends) and answers 410 Expired after ``expire_watch_log``;
* ``journal`` records every request with its answer, ``faults`` injects failures and concurrent edits;
* LIST honours ``labelSelector`` (equality, ``!=``, ``in``, ``notin``, exists); JSON Patch ``test`` with
  ``null`` matches a missing member, as the apiserver's json-patch library does;
* ``POST /apis/authentication.k8s.io/v1/selfsubjectreviews`` answers who a bearer token is (``users``;
  no token is ``system:anonymous``, an unknown one 401), or 404 with ``serves_self_subject_review=False``.

Writes do not consult kmock's DSL reactions: stage failures with ``faults`` instead. The class runs on
an asyncio loop; ``harness.py`` runs it on a thread for the synchronous official client.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp.web
import attrs
import kmock
from kmock._internal import apps
from typing_extensions import override

from tests.kube import semantics
from tests.kube.journal import Fault, FaultPlan, Journal, RecordedRequest
from tests.kube.semantics import Json, api_error

ObjectKey = tuple[kmock.resource, str | None, str]
SELF_SUBJECT_REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


# Kinds every real API server serves: listing them with nothing seeded is an empty list, not a 404
# (a 404 stays right for custom resources whose CRD is not installed, e.g. HTTPRoute without Gateway API).
BUILTIN_COLLECTIONS = frozenset(
    {
        ("", "pods"),
        ("", "services"),
        ("", "secrets"),
        ("", "events"),
        ("", "configmaps"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("coordination.k8s.io", "leases"),
        ("networking.k8s.io", "ingresses"),
    }
)


def _qualified(resource: kmock.resource) -> str:
    return f"{resource.plural}.{resource.group}" if resource.group else str(resource.plural)


def _is_custom(resource: kmock.resource) -> bool:
    return resource.group not in semantics.BUILTIN_GROUPS


@attrs.define(kw_only=True)
class StrictEmulator(kmock.KubernetesEmulator):
    """See the module docstring. ``journal`` and ``faults`` are safe to use from any thread."""

    journal: Journal = attrs.field(factory=Journal, init=False)
    faults: FaultPlan = attrs.field(factory=FaultPlan, init=False)
    resource_version: int = attrs.field(default=100, init=False)
    rng: random.Random = attrs.field(factory=lambda: random.Random(0))
    # Every published watch event with its resourceVersion, so a watch can resume from one.
    watch_log: list[tuple[int, kmock.resource, Json]] = attrs.field(factory=list, init=False)
    # Watches resuming from a resourceVersion below this get 410 Expired (see ``expire_watch_log``).
    watch_horizon: int = attrs.field(default=0, init=False)
    # Bearer token -> user name, for SelfSubjectReview (who am I); no token is system:anonymous.
    users: dict[str, str] = attrs.field(factory=dict, init=False)
    # False: answer SelfSubjectReview with 404, as a server before Kubernetes 1.28 does.
    serves_self_subject_review: bool = attrs.field(default=True, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        (self.fallback**1)[kmock.action.LIST] << self._serve_versioned_list
        (self.fallback**1)[kmock.action.WATCH] << self._serve_versioned_watch

    # -- request entry --------------------------------------------------------------------------
    @override
    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        status = 500
        try:
            response = await self._dispatch(request)
            status = response.status
            return response
        except kmock.KubernetesError as exc:
            status = exc.status
            raise
        finally:
            self.journal.append(
                RecordedRequest(
                    id=request.id,
                    method=request.method.value,
                    path=request.url.path,
                    query=dict(request.params),
                    content_type=request.headers.get("Content-Type"),
                    body=_parse_body(request.body),
                    status=status,
                )
            )

    async def _dispatch(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        fault = self.faults.take(request.method.value, request.url.path)
        if fault is not None:
            await self._apply_fault(fault, request)
        if request.url.path == SELF_SUBJECT_REVIEWS:
            return self._self_subject_review(request)
        takes_over = (
            request.resource is not None
            and request.resource.plural is not None
            and (request.method.value in ("POST", "PUT", "PATCH", "DELETE") or request.subresource == "scale")
        )
        if not takes_over:
            # Reads go to kmock's own machinery (DSL reactions, then its fallbacks), not the parent's
            # _handle, whose write interception is exactly what this class replaces.
            return await apps.RawHandler._handle(self, request)
        async with self._lock:
            code, payload = await self._write(request)
        return aiohttp.web.json_response(payload, status=code)

    def _self_subject_review(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        """``authentication.k8s.io/v1`` SelfSubjectReview: who the server authenticated this request as."""
        if request.method.value != "POST":
            raise api_error(405, "MethodNotAllowed", "only create is supported on selfsubjectreviews")
        if not self.serves_self_subject_review:
            raise api_error(404, "NotFound", "the server could not find the requested resource")
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if token and token not in self.users:
            raise api_error(401, "Unauthorized", "Unauthorized")
        user = self.users[token] if token else "system:anonymous"
        groups = ["system:authenticated"] if token else ["system:unauthenticated"]
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
            "metadata": {"creationTimestamp": None},
            "status": {"userInfo": {"username": user, "groups": groups}},
        }
        return aiohttp.web.json_response(body, status=201)

    async def _apply_fault(self, fault: Fault, request: kmock.Request) -> None:
        if fault.edit is None:
            raise api_error(fault.status, fault.reason, fault.message)
        assert request.resource is not None
        if request.name is None:  # a competing creator: stores edit(body) first, so ours gets 409
            async with self._lock:
                await self._create(
                    request.resource, request.namespace, fault.edit(copy.deepcopy(_parse_body(request.body)))
                )
            return
        key: ObjectKey = (request.resource, request.namespace, request.name)
        async with self._lock:
            old = self._current(key)
            if old is None:
                raise api_error(404, "NotFound", f'{_qualified(request.resource)} "{request.name}" not found')
            new = semantics.next_version(old, fault.edit(copy.deepcopy(old)), subresource=None, rv=self._next_rv())
            await self._store(key, new, "MODIFIED")

    # -- writes -----------------------------------------------------------------------------------
    async def _write(self, request: kmock.Request) -> tuple[int, Json]:
        resource = request.resource
        assert resource is not None
        method = request.method.value
        body = _parse_body(request.body)
        if request.name is None:
            if method != "POST":
                raise api_error(405, "MethodNotAllowed", f"{method} is not allowed on a collection")
            return 201, await self._create(resource, request.namespace, body)
        key: ObjectKey = (resource, request.namespace, request.name)
        old = self._current(key)
        if old is None:
            raise api_error(
                404,
                "NotFound",
                f'{_qualified(resource)} "{request.name}" not found',
                name=request.name,
                kind=resource.plural,
            )
        if request.subresource not in (None, "status", "scale"):
            raise api_error(404, "NotFound", f"subresource {request.subresource!r} is not served")
        if method == "DELETE":
            return 200, await self._delete(key, old)
        if request.subresource == "scale":
            return 200, await self._write_scale(key, old, method, body, request)
        if method == "PUT":
            new = self._checked(old, body, resource, require_rv=_is_custom(resource))
        elif method == "PATCH":
            patched = semantics.apply_patch(
                old, body, request.headers.get("Content-Type", ""), custom=_is_custom(resource)
            )
            new = self._checked(old, patched, resource, require_rv=False)
        else:
            raise api_error(405, "MethodNotAllowed", f"{method} is not allowed on an object")
        stored = semantics.next_version(old, new, subresource=request.subresource, rv=self._next_rv())
        return 200, await self._store_or_release(key, stored)

    def _checked(self, old: Json, new: Any, resource: kmock.resource, *, require_rv: bool) -> Json:
        if not isinstance(new, dict):
            raise api_error(400, "BadRequest", "the body must be a JSON object")
        semantics.check_precondition(old, new, qualified=_qualified(resource), require=require_rv)
        return new

    async def _create(self, resource: kmock.resource, namespace: str | None, body: Any) -> Json:
        if not isinstance(body, dict):
            raise api_error(400, "BadRequest", "the body must be a JSON object")
        meta = body.get("metadata") or {}
        namespace = namespace or meta.get("namespace")
        taken = {
            name
            for (res, ns, name), obj in self._objects.items()
            if res == resource and ns == namespace and not obj.deleted
        }
        name = meta.get("name")
        if not name and meta.get("generateName"):
            name = semantics.generate_name(meta["generateName"], taken, self.rng)
        if not name:
            raise api_error(422, "Invalid", "metadata.name: Required value: name or generateName is required")
        if name in taken:
            raise api_error(
                409, "AlreadyExists", f'{_qualified(resource)} "{name}" already exists', name=name, kind=resource.plural
            )
        obj = semantics.stamp_new(body, name=name, namespace=namespace, rv=self._next_rv())
        return await self._store((resource, namespace, name), obj, "ADDED")

    async def _write_scale(self, key: ObjectKey, old: Json, method: str, body: Any, request: kmock.Request) -> Json:
        if method == "GET":
            return semantics.scale_view(old)
        current = semantics.scale_view(old)
        if method == "PATCH":
            body = semantics.apply_patch(current, body, request.headers.get("Content-Type", ""), custom=False)
        scale = self._checked(old, body, key[0], require_rv=False)
        stored = semantics.next_version(old, semantics.with_scale(old, scale), subresource=None, rv=self._next_rv())
        return semantics.scale_view(await self._store(key, stored, "MODIFIED"))

    async def _delete(self, key: ObjectKey, old: Json) -> Json:
        if old["metadata"].get("finalizers"):
            if old["metadata"].get("deletionTimestamp"):
                return old
            marked = copy.deepcopy(old)
            marked["metadata"].update(deletionTimestamp=semantics.now_rfc3339(), resourceVersion=str(self._next_rv()))
            return await self._store(key, marked, "MODIFIED")
        self._objects[key].delete()
        await self._publish(key[0], "DELETED", old)
        return old

    async def _store_or_release(self, key: ObjectKey, obj: Json) -> Json:
        """Store an update; an object marked for deletion whose last finalizer went is deleted."""
        stored = await self._store(key, obj, "MODIFIED")
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._objects[key].delete()
            await self._publish(key[0], "DELETED", obj)
        return stored

    # -- storage ----------------------------------------------------------------------------------
    def _current(self, key: ObjectKey) -> Json | None:
        if key not in self._objects or self._objects[key].deleted:
            return None
        return copy.deepcopy(self._objects[key].raw)

    async def _store(self, key: ObjectKey, obj: Json, event: str) -> Json:
        if key in self._objects:
            self._objects[key].history.append(copy.deepcopy(obj))
        else:
            self._objects[key] = copy.deepcopy(obj)
        await self._publish(key[0], event, obj)
        return obj

    async def _publish(self, resource: kmock.resource, event: str, obj: Json) -> None:
        payload = {"type": event, "object": copy.deepcopy(obj)}
        self.watch_log.append((int(obj["metadata"].get("resourceVersion", 0)), resource, payload))
        await self._buses[resource].put(payload)

    def _next_rv(self) -> int:
        self.resource_version += 1
        return self.resource_version

    async def _serve_versioned_list(self, request: kmock.Request) -> Json:
        """kmock answers ``resourceVersion: '...'``; a relisting watcher needs a real one."""
        assert request.resource is not None
        builtin = (request.resource.group, request.resource.plural) in BUILTIN_COLLECTIONS
        if request.resource not in self._get_resources() and not builtin:
            raise api_error(
                404, "NotFound", f"the server could not find the requested resource ({_qualified(request.resource)})"
            )
        async with self._lock:
            items = [
                copy.deepcopy(obj.raw)
                for (res, ns, _), obj in self._objects.items()
                if res == request.resource
                and not obj.deleted
                and (request.namespace is None or ns == request.namespace)
                and semantics.matches_selector(
                    (obj.raw.get("metadata") or {}).get("labels") or {}, request.params.get("labelSelector") or ""
                )
            ]
        return {
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": str(self.resource_version)},
            "items": items,
        }

    async def _serve_versioned_watch(self, request: kmock.Request) -> AsyncIterator[Any]:
        """A watch as the apiserver serves it, unlike kmock's (which replays everything and never ends).

        Without ``resourceVersion`` it starts with ADDED for every current object; with one it replays
        the logged events after it, or a 410 Expired ERROR event when that is older than
        ``watch_horizon``. ``timeoutSeconds`` ends the stream, so relisting watchers can be tested.
        """
        yield b""  # send the headers now: a quiet watch must still connect
        assert request.resource is not None
        bus = self._buses[request.resource]
        async with self._lock:  # writes publish under this lock: nothing slips between backlog and mark
            marker = await bus.mark()
            backlog = self._watch_backlog(request)
        try:
            for event in backlog:
                yield event
            if backlog and backlog[-1]["type"] == "ERROR":
                return
            timeout = float(request.params.get("timeoutSeconds") or 0) or None
            deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
            while True:
                remaining = None if deadline is None else deadline - asyncio.get_running_loop().time()
                if remaining is not None and remaining <= 0:
                    return
                try:
                    event = await asyncio.wait_for(bus.get(since=marker), remaining)
                except TimeoutError:
                    return
                if self._watched(request, event["object"]):
                    yield event
        finally:
            await bus.unmark(marker)

    def _watch_backlog(self, request: kmock.Request) -> list[Json]:
        since = request.params.get("resourceVersion") or "0"
        if since == "0":
            return [
                {"type": "ADDED", "object": copy.deepcopy(obj.raw)}
                for (res, _, _), obj in self._objects.items()
                if res == request.resource and not obj.deleted and self._watched(request, obj.raw)
            ]
        if int(since) < self.watch_horizon:
            return [
                {
                    "type": "ERROR",
                    "object": {
                        "apiVersion": "v1",
                        "kind": "Status",
                        "metadata": {},
                        "status": "Failure",
                        "code": 410,
                        "reason": "Expired",
                        "message": f"too old resource version: {since} ({self.watch_horizon})",
                    },
                }
            ]
        return [
            copy.deepcopy(event)
            for rv, res, event in self.watch_log
            if res == request.resource and rv > int(since) and self._watched(request, event["object"])
        ]

    @staticmethod
    def _watched(request: kmock.Request, obj: Json) -> bool:
        meta = obj.get("metadata") or {}
        return (request.namespace is None or meta.get("namespace") == request.namespace) and (
            request.name is None or meta.get("name") == request.name
        )

    async def expire_watch_log(self) -> None:
        """Forget history as etcd compaction does: resuming from any older resourceVersion is 410."""
        async with self._lock:
            self.watch_horizon = self.resource_version + 1
            self.watch_log.clear()

    # -- seeding (called through the harness from the test thread) --------------------------------
    async def seed(self, resource: kmock.resource, obj: Json) -> Json:
        """Store ``obj`` as if created (or, if present, replaced) by another client."""
        meta = obj.get("metadata") or {}
        key: ObjectKey = (resource, meta.get("namespace"), meta["name"])
        async with self._lock:
            old = self._current(key)
            if old is None:
                new = semantics.stamp_new(obj, name=meta["name"], namespace=meta.get("namespace"), rv=self._next_rv())
                if "status" in obj:
                    new["status"] = copy.deepcopy(obj["status"])
                return await self._store(key, new, "ADDED")
            new = semantics.next_version(old, obj, subresource=None, rv=self._next_rv())
            if "status" in obj:
                new["status"] = copy.deepcopy(obj["status"])
            return await self._store(key, new, "MODIFIED")


def _parse_body(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
