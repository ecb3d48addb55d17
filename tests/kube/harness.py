"""Run ``StrictEmulator`` on a loopback port in a background thread for synchronous clients.

The official ``kubernetes`` client is synchronous (urllib3) while kmock is asyncio; running the
emulator's loop on its own thread lets router code run unchanged on the test thread. Everything a
test does to the emulator's state goes through ``call`` so it runs on the emulator's loop, under its
lock, exactly like a request would.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import kmock
from kubernetes import client as k8s

from tests.kube.emulator import StrictEmulator
from tests.kube.journal import FaultPlan, RecordedRequest
from tests.kube.semantics import Json

T = TypeVar("T")

# apiVersion/kind -> plural for the kinds our tests seed; anything else needs ``plural=``.
PLURALS = {
    "HTTPRoute": "httproutes",
    "GRPCRoute": "grpcroutes",
    "VirtualService": "virtualservices",
    "TrafficSplit": "trafficsplits",
    "Ingress": "ingresses",
    "Deployment": "deployments",
    "Service": "services",
    "Pod": "pods",
    "ReplicaSet": "replicasets",
    "Event": "events",
    "Lease": "leases",
    "BlueGreenRollout": "bluegreenrollouts",
    "TraefikService": "traefikservices",
}


def resource_of(obj: Json, plural: str | None = None) -> kmock.resource:
    """The kmock resource for an object's apiVersion/kind (``v1`` is the core group)."""
    api_version: str = obj["apiVersion"]
    group, _, version = api_version.rpartition("/")
    return kmock.resource(group, version, plural or PLURALS[obj["kind"]])


class RunningEmulator:
    """A started emulator: its URL, state access for tests and client factories."""

    def __init__(self, emulator: StrictEmulator, loop: asyncio.AbstractEventLoop, url: str) -> None:
        self.emulator = emulator
        self.url = url
        self._loop = loop

    @property
    def faults(self) -> FaultPlan:
        return self.emulator.faults

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run a coroutine on the emulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def seed(self, obj: Json, plural: str | None = None) -> Json:
        """Create (or replace) an object as another client would; returns it as stored."""
        return self.call(self.emulator.seed(resource_of(obj, plural), obj))

    def get(self, api_version: str, kind_plural: str, namespace: str | None, name: str) -> Json | None:
        """The stored object, or None when absent or deleted."""
        key = (_resource(api_version, kind_plural), namespace, name)
        objects = self.emulator.objects
        if key not in objects or objects[key].deleted:
            return None
        return copy.deepcopy(objects[key].raw)

    def history(self, api_version: str, kind_plural: str, namespace: str | None, name: str) -> list[Json | None]:
        """Every stored version, oldest first; ``None`` marks a deletion."""
        key = (_resource(api_version, kind_plural), namespace, name)
        return [None if v is None else copy.deepcopy(v.raw) for v in self.emulator.objects[key].history]

    def requests(self, *, writes_only: bool = False) -> list[RecordedRequest]:
        items = self.emulator.journal.snapshot()
        return [r for r in items if r.is_write] if writes_only else items

    def clear_requests(self) -> None:
        self.emulator.journal.clear()

    def expire_watches(self) -> None:
        """Compact the watch history: watches resuming from an older resourceVersion get 410."""
        self.call(self.emulator.expire_watch_log())

    def configuration(self) -> k8s.Configuration:
        """A client Configuration for this emulator: plain HTTP on loopback, no auth, no proxy."""
        config = k8s.Configuration(host=self.url)
        config.proxy = None
        config.no_proxy = "*"
        return config

    def api_client(self) -> k8s.ApiClient:
        return k8s.ApiClient(self.configuration())


def _resource(api_version: str, plural: str) -> kmock.resource:
    group, _, version = api_version.rpartition("/")
    return kmock.resource(group, version, plural)


@contextmanager
def running_emulator(startup_timeout: float = 10) -> Iterator[RunningEmulator]:
    """Start a fresh emulator on 127.0.0.1 (random port) in a thread; stop and join it on exit."""
    started = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        async with StrictEmulator() as emulator, kmock.Server(emulator) as server:
            box.update(emulator=emulator, url=str(server.url).rstrip("/"), stop=stop, loop=asyncio.get_running_loop())
            started.set()
            await stop.wait()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:  # surface startup failures to the waiting test thread
            box["error"] = exc
            started.set()

    thread = threading.Thread(target=run, name="kube-emulator", daemon=True)
    thread.start()
    if not started.wait(startup_timeout) or "error" in box:
        raise RuntimeError(f"emulator did not start: {box.get('error')!r}")
    try:
        yield RunningEmulator(box["emulator"], box["loop"], box["url"])
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(startup_timeout)
