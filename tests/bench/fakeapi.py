"""A fake Kubernetes API server fast enough to measure the operator at 10,000 rollouts, not itself.

The strict kmock emulator (``tests/kube/emulator.py``) scans every object on every request; this server keeps
dict indexes per collection and answers in O(page) or O(1). It implements what greenlane uses, with the API
server's semantics: a global resourceVersion, 409 on a stale one, ``/status`` and ``/scale`` subresources,
JSON Patch (with ``test``) and merge patch, finalizers on delete, paged lists (``limit``/``continue``), label
selectors (equality), and watches that resume from a resourceVersion, send bookmarks, end at
``timeoutSeconds`` and answer 410 once that version has left the event log.

It counts every request by verb and resource, except those sent with the bench's User-Agent, and keeps a
few timestamps the bench asks for (``/_bench/...``): when each rollout was created and first got a status,
and the history of the routes it is told to track.

Run: ``python -m tests.bench.fakeapi --port 0 --ready-file PATH`` (writes its URL into PATH when listening).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

Json = dict[str, Any]
BENCH_AGENT = "greenlane-bench"
EVENT_LOG = 200_000
BOOKMARK_EVERY = 20.0
Collection = tuple[str, str]  # (group, plural)
Key = tuple[str, str]  # (namespace, name)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _error(code: int, reason: str, message: str) -> web.Response:
    body = {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }
    return web.json_response(body, status=code)


@dataclass
class Watcher:
    collection: Collection
    namespace: str | None
    queue: asyncio.Queue[Json] = field(default_factory=lambda: asyncio.Queue(maxsize=100_000))


class Server:
    def __init__(self) -> None:
        self.rv = 1000
        self.objects: dict[Collection, dict[Key, Json]] = {}
        self.sorted_keys: dict[Collection, list[Key]] = {}
        self.log: deque[tuple[int, Collection, Json]] = deque(maxlen=EVENT_LOG)
        self.watchers: list[Watcher] = []
        self.counts: Counter[str] = Counter()
        self.reads_by_namespace: Counter[str] = Counter()
        self.created: dict[Key, float] = {}
        self.first_status: dict[Key, float] = {}
        self.tracked: dict[str, list[tuple[float, Any, Any]]] = {}

    # ---- storage ----------------------------------------------------------------------------------
    def _bump(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _publish(self, collection: Collection, kind: str, obj: Json) -> None:
        event = {"type": kind, "object": obj}
        self.log.append((int(obj["metadata"]["resourceVersion"]), collection, event))
        namespace = obj["metadata"].get("namespace")
        for watcher in self.watchers:
            if watcher.collection == collection and watcher.namespace in (None, namespace):
                with contextlib.suppress(asyncio.QueueFull):
                    watcher.queue.put_nowait(event)

    def store(self, collection: Collection, obj: Json, kind: str) -> Json:
        meta = obj["metadata"]
        key = (meta.get("namespace") or "", meta["name"])
        items = self.objects.setdefault(collection, {})
        if key not in items:
            self.sorted_keys.pop(collection, None)
        items[key] = obj
        self._publish(collection, kind, obj)
        self._track(collection, key, obj)
        return obj

    def _track(self, collection: Collection, key: Key, obj: Json) -> None:
        path = f"{collection[1]}/{key[0]}/{key[1]}"
        if path in self.tracked:
            self.tracked[path].append((time.time(), copy.deepcopy(obj.get("spec")), copy.deepcopy(obj.get("status"))))

    def create(self, collection: Collection, obj: Json, namespace: str | None) -> Json:
        meta = obj.setdefault("metadata", {})
        if namespace:
            meta["namespace"] = namespace
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        key = (meta.get("namespace") or "", meta["name"])
        if key in self.objects.get(collection, {}):
            raise KeyError("exists")
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.update(resourceVersion=self._bump(), creationTimestamp=_now(), generation=1)
        if collection[1] == "bluegreenrollouts":
            self.created[key] = time.time()
            if obj.get("status"):
                self.first_status[key] = time.time()
        return self.store(collection, obj, "ADDED")

    def update(self, collection: Collection, old: Json, new: Json, subresource: str | None) -> Json:
        if subresource == "status":
            result = copy.deepcopy(old)
            result["status"] = new.get("status")
            key = (old["metadata"].get("namespace") or "", old["metadata"]["name"])
            if collection[1] == "bluegreenrollouts" and key not in self.first_status:
                self.first_status[key] = time.time()
        else:
            result = copy.deepcopy(new)
            result["status"] = old.get("status")
            for server_owned in ("uid", "creationTimestamp", "generation", "deletionTimestamp", "namespace", "name"):
                if server_owned in old["metadata"]:
                    result["metadata"][server_owned] = old["metadata"][server_owned]
            if new.get("spec") != old.get("spec"):
                result["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        result["metadata"]["resourceVersion"] = self._bump()
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers"):
            self.delete(collection, result, force=True)
            return result
        return self.store(collection, result, "MODIFIED")

    def delete(self, collection: Collection, obj: Json, force: bool = False) -> Json:
        meta = obj["metadata"]
        key = (meta.get("namespace") or "", meta["name"])
        if meta.get("finalizers") and not force:
            if not meta.get("deletionTimestamp"):
                marked = copy.deepcopy(obj)
                marked["metadata"].update(deletionTimestamp=_now(), resourceVersion=self._bump())
                return self.store(collection, marked, "MODIFIED")
            return obj
        self.objects.get(collection, {}).pop(key, None)
        self.sorted_keys.pop(collection, None)
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = self._bump()
        self._publish(collection, "DELETED", gone)
        self.created.pop(key, None)
        self.first_status.pop(key, None)
        return gone

    def keys(self, collection: Collection) -> list[Key]:
        keys = self.sorted_keys.get(collection)
        if keys is None:
            keys = self.sorted_keys[collection] = sorted(self.objects.get(collection, {}))
        return keys


# ---- HTTP -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    collection: Collection
    namespace: str | None
    name: str | None
    subresource: str | None


def parse(path: str) -> Route | None:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return None
    return Route((group, rest[0]), namespace, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None)


def _selected(obj: Json, selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value.lstrip("="):
            return False
    return True


class Api:
    def __init__(self, server: Server) -> None:
        self.s = server

    async def handle(self, request: web.Request) -> web.StreamResponse:
        route = parse(request.path)
        if route is None:
            return _error(404, "NotFound", f"no route {request.path}")
        verb = self._verb(request, route)
        if not request.headers.get("User-Agent", "").startswith(BENCH_AGENT):
            self.s.counts[f"{verb} {route.collection[1]}{'/' + route.subresource if route.subresource else ''}"] += 1
            if verb in ("get", "list") and route.namespace:
                self.s.reads_by_namespace[route.namespace] += 1
        if verb == "watch":
            return await self.watch(request, route)
        if verb == "list":
            return self.list_objects(request, route)
        body = await request.json() if request.can_read_body else None
        return self.write_or_get(request.method, route, body, request.headers.get("Content-Type", ""))

    @staticmethod
    def _verb(request: web.Request, route: Route) -> str:
        if request.method == "GET":
            if route.name is None:
                return "watch" if request.query.get("watch") in ("true", "1") else "list"
            return "get"
        return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(request.method, "other")

    def list_objects(self, request: web.Request, route: Route) -> web.Response:
        items = self.s.objects.get(route.collection, {})
        keys = self.s.keys(route.collection)
        if route.namespace is not None:
            keys = [k for k in keys if k[0] == route.namespace]
        token = request.query.get("continue")
        if token:
            after = tuple(json.loads(token))
            keys = [k for k in keys if k > after]
        selector = request.query.get("labelSelector", "")
        limit = int(request.query.get("limit") or 0)
        out, last = [], None
        for key in keys:
            obj = items[key]
            if selector and not _selected(obj, selector):
                continue
            out.append(obj)
            last = key
            if limit and len(out) >= limit:
                break
        meta: Json = {"resourceVersion": str(self.s.rv)}
        if limit and len(out) >= limit and last is not None and last != keys[-1]:
            meta["continue"] = json.dumps(list(last))
        return web.json_response({"apiVersion": "v1", "kind": "List", "metadata": meta, "items": out})

    async def watch(self, request: web.Request, route: Route) -> web.StreamResponse:
        since = int(request.query.get("resourceVersion") or 0)
        if since and self.s.log and since < self.s.log[0][0] - 1:
            return await self._stream(
                request,
                [
                    {
                        "type": "ERROR",
                        "object": {
                            "kind": "Status",
                            "code": 410,
                            "reason": "Expired",
                            "message": "too old resource version",
                        },
                    }
                ],
                None,
                0,
            )
        backlog = [e for rv, c, e in self.s.log if rv > since and c == route.collection] if since else []
        if route.namespace is not None:
            backlog = [e for e in backlog if e["object"]["metadata"].get("namespace") == route.namespace]
        watcher = Watcher(route.collection, route.namespace)
        timeout = float(request.query.get("timeoutSeconds") or 1800)
        self.s.watchers.append(watcher)
        try:
            return await self._stream(request, backlog, watcher, timeout)
        finally:
            self.s.watchers.remove(watcher)

    async def _stream(
        self, request: web.Request, backlog: list[Json], watcher: Watcher | None, timeout: float
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for event in backlog:
            await response.write(json.dumps(event).encode() + b"\n")
        deadline = time.monotonic() + timeout
        bookmarks = request.query.get("allowWatchBookmarks") in ("true", "1")
        while watcher is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                event = await asyncio.wait_for(watcher.queue.get(), min(left, BOOKMARK_EVERY))
            except TimeoutError:
                if bookmarks:
                    mark = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": str(self.s.rv)}}}
                    await response.write(json.dumps(mark).encode() + b"\n")
                continue
            await response.write(json.dumps(event).encode() + b"\n")
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    def write_or_get(self, method: str, route: Route, body: Any, content_type: str) -> web.Response:
        items = self.s.objects.get(route.collection, {})
        if route.name is None:
            if method != "POST":
                return _error(405, "MethodNotAllowed", "collection")
            try:
                return web.json_response(self.s.create(route.collection, body, route.namespace), status=201)
            except KeyError:
                return _error(409, "AlreadyExists", "exists")
        old = items.get((route.namespace or "", route.name))
        if old is None:
            return _error(404, "NotFound", f'{route.collection[1]} "{route.name}" not found')
        if route.subresource == "scale":
            return self._scale(method, route, old, body)
        if method == "GET":
            return web.json_response(old)
        if method == "DELETE":
            return web.json_response(self.s.delete(route.collection, old))
        if method == "PATCH":
            try:
                body = _patch(old, body, content_type)
            except ValueError as exc:
                return _error(422, "Invalid", str(exc))
        elif method != "PUT":
            return _error(405, "MethodNotAllowed", method)
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != old["metadata"]["resourceVersion"]:
            return _error(
                409, "Conflict", "the object has been modified; please apply your changes to the latest version"
            )
        return web.json_response(self.s.update(route.collection, old, body, route.subresource))

    def _scale(self, method: str, route: Route, old: Json, body: Any) -> web.Response:
        meta = old["metadata"]
        scale: Json = {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "resourceVersion": meta["resourceVersion"],
            },
            "spec": {"replicas": (old.get("spec") or {}).get("replicas", 1)},
        }
        if method == "GET":
            return web.json_response(scale)
        if method == "PATCH":
            body = {**scale, "spec": {**scale["spec"], **(body.get("spec") or {})}}
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != meta["resourceVersion"]:
            return _error(409, "Conflict", "stale")
        new = copy.deepcopy(old)
        new["spec"]["replicas"] = body["spec"]["replicas"]
        stored = self.s.update(route.collection, old, new, None)
        scale["spec"]["replicas"] = stored["spec"]["replicas"]
        scale["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]
        return web.json_response(scale)


def _patch(old: Json, patch: Any, content_type: str) -> Json:
    new = copy.deepcopy(old)
    if "json-patch" in content_type:
        for op in patch:
            parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
            parent = new
            for part in parts[:-1]:
                parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
            last = parts[-1]
            if op["op"] == "test":
                if parent.get(last) != op["value"]:
                    raise ValueError(f"test failed at {op['path']}")
            elif op["op"] in ("add", "replace"):
                parent[last] = op["value"]
            elif op["op"] == "remove":
                parent.pop(last, None)
        return new

    def merge(target: Json, source: Json) -> Json:
        for k, v in source.items():
            if v is None:
                target.pop(k, None)
            elif isinstance(v, dict) and isinstance(target.get(k), dict):
                merge(target[k], v)
            else:
                target[k] = v
        return target

    return merge(new, patch)


# ---- bench control -----------------------------------------------------------------------------------
class Control:
    def __init__(self, server: Server) -> None:
        self.s = server

    async def seed(self, request: web.Request) -> web.Response:
        """Bulk create: ``[{"collection": [group, plural], "object": {...}}, ...]``."""
        for item in await request.json():
            collection = (item["collection"][0], item["collection"][1])
            with contextlib.suppress(KeyError):
                self.s.create(collection, item["object"], None)
        return web.json_response({"rv": self.s.rv})

    async def stats(self, request: web.Request) -> web.Response:
        counts = dict(self.s.counts)
        reads = dict(self.s.reads_by_namespace)
        if request.query.get("reset"):
            self.s.counts.clear()
            self.s.reads_by_namespace.clear()
        sizes = {f"{g}/{p}" if g else p: len(items) for (g, p), items in self.s.objects.items()}
        return web.json_response(
            {
                "counts": counts,
                "reads_by_namespace": reads,
                "objects": sizes,
                "rv": self.s.rv,
                "watchers": len(self.s.watchers),
            }
        )

    async def first_status(self, request: web.Request) -> web.Response:
        key = (request.query["namespace"], request.query["name"])
        return web.json_response({"created": self.s.created.get(key), "first_status": self.s.first_status.get(key)})

    async def track(self, request: web.Request) -> web.Response:
        for path in (await request.json())["paths"]:
            self.s.tracked.setdefault(path, [])
        return web.json_response({})

    async def history(self, request: web.Request) -> web.Response:
        return web.json_response(self.s.tracked.get(request.query["path"], []))


def app() -> web.Application:
    server = Server()
    api, control = Api(server), Control(server)
    application = web.Application(client_max_size=1024**3)
    application.router.add_post("/_bench/seed", control.seed)
    application.router.add_get("/_bench/stats", control.stats)
    application.router.add_get("/_bench/first-status", control.first_status)
    application.router.add_post("/_bench/track", control.track)
    application.router.add_get("/_bench/history", control.history)
    application.router.add_route("*", "/{tail:.*}", api.handle)
    return application


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path, required=True)

    async def serve() -> None:
        runner = web.AppRunner(app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", parser.parse_args().port, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        args.ready_file.write_text(f"http://127.0.0.1:{port}")
        await asyncio.Event().wait()

    args = parser.parse_args()
    asyncio.run(serve())


if __name__ == "__main__":
    main()
