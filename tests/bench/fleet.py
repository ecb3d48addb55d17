"""The bench's fleet: rollouts with their Deployments, ReplicaSets and HTTPRoutes, and the fakes they run on.

Rollout ``i`` lives in namespace ``bench-<i>`` (six digits) with Deployments ``app-<i>`` (blue) and
``app-<i>-py312`` (green) and an HTTPRoute ``app-<i>``. Nine in ten are idle (Aborted), one in ten is
baking its first step (weight 5, a one-hour pause, evaluated every 30 s). To start at steady state rather
than in a storm of first reconciles, one rollout of each kind is reconciled in this process first (the
real engine and reconciler), and the others are copies of what it left behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml
from kubernetes import client as k8s

from controller.clock import SystemClock
from controller.core.edits import fingerprint
from controller.kube.events import EventRecorder
from controller.kube.metrics import OperatorMetrics
from controller.kube.reconciler import Reconciler
from controller.model.resource import BlueGreenRollout
from tests.bench.fakeapi import BENCH_AGENT

Json = dict[str, Any]
REPO = Path(__file__).resolve().parents[2]
BLUE_HASH, GREEN_HASH = "5d8f7c9b6d", "7b9c4f6d8e"
BGR = ("greenlane.dev", "bluegreenrollouts")
ROUTES = ("gateway.networking.k8s.io", "httproutes")
IDLE_TEMPLATE, BAKING_TEMPLATE, BREACH_TEMPLATE = 0, 51, 1
BREACHING = 5
"""Rollouts 1, 11, 21, 31, 41: baking like the others, but evaluated every 10 s (one round) and rolled back at the
first failure."""
ABORT = '{"id":"0123456789ab","command":"abort","user":"bench","at":"2026-01-01T00:00:00Z"}'
_NAMES = re.compile(r"\b(app|bench|uid)-(\d{6})")


def names(i: int) -> tuple[str, str]:
    """(namespace, rollout name); the HTTPRoute and blue Deployment share the rollout's name."""
    return f"bench-{i:06d}", f"app-{i:06d}"


def role(i: int) -> str:
    if i % 10 != 1:
        return "idle"
    return "breach" if i < 10 * BREACHING else "baking"


def green_track(i: int) -> str:
    return f"app-{i:06d}-py312-{GREEN_HASH}"


def spec(i: int, prometheus: str) -> Json:
    doc: Json = yaml.safe_load((REPO / "config" / "samples" / "checkout-gateway-api.yaml").read_text())
    namespace, name = names(i)
    doc["metadata"] = {"name": name, "namespace": namespace}
    s = doc["spec"]
    s["blue"].update(deployment=name, service=f"{name}-blue")
    s["green"].update(deployment=f"{name}-py312", service=f"{name}-green")
    s["trafficRouting"]["gatewayAPI"]["httpRoute"] = name
    s["steps"] = [{"weight": 5, "pause": "1h"}, {"weight": 100, "pause": "1h"}]
    s["analysis"]["prometheus"] = {"address": prometheus, "timeout": "5s"}
    for check in s["analysis"]["checks"]:
        if check.get("window") == "30m":
            check["window"] = "5m"  # 20 samples a pod: the fake answers faster, the operator parses the same way
    if role(i) == "breach":
        s["analysis"].update(interval="10s", failureLimit=1)
    if role(i) == "idle":
        doc["metadata"]["annotations"] = {"greenlane.dev/command": ABORT}
    return doc


def track_objects(i: int) -> list[tuple[tuple[str, str], Json]]:
    namespace, name = names(i)
    out: list[tuple[tuple[str, str], Json]] = []
    for deployment, template_hash, side in ((name, BLUE_HASH, "blue"), (f"{name}-py312", GREEN_HASH, "green")):
        labels = {"app": deployment}
        uid = f"uid-{i:06d}-{side}"
        revision = {"deployment.kubernetes.io/revision": "1"}
        out.append(
            (
                ("apps", "deployments"),
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": deployment, "namespace": namespace, "uid": uid, "annotations": revision},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels}},
                    },
                    "status": {"replicas": 2, "availableReplicas": 2, "readyReplicas": 2, "updatedReplicas": 2},
                },
            )
        )
        rs_labels = {**labels, "pod-template-hash": template_hash}
        owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment, "uid": uid, "controller": True}
        out.append(
            (
                ("apps", "replicasets"),
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": f"{deployment}-{template_hash}",
                        "namespace": namespace,
                        "labels": rs_labels,
                        "annotations": revision,
                        "ownerReferences": [owner],
                    },
                    "spec": {"replicas": 2, "selector": {"matchLabels": rs_labels}},
                },
            )
        )
    out.append((ROUTES, route(i)))
    return out


def route(i: int) -> Json:
    namespace, name = names(i)
    refs = [{"name": f"{name}-blue", "port": 80, "weight": 100}, {"name": f"{name}-green", "port": 80, "weight": 0}]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"parentRefs": [{"name": "public"}], "rules": [{"name": "main", "backendRefs": refs}]},
    }


# ---- the fakes --------------------------------------------------------------------------------------
@dataclass
class Fakes:
    api: str
    prometheus: str
    session: requests.Session

    def seed(self, items: list[tuple[tuple[str, str], Json]], batch: int = 4000) -> None:
        for start in range(0, len(items), batch):
            body = [{"collection": list(c), "object": o} for c, o in items[start : start + batch]]
            self.session.post(f"{self.api}/_bench/seed", json=body, timeout=300).raise_for_status()

    def api_stats(self, reset: bool = False) -> Json:
        answer: Json = self.session.get(
            f"{self.api}/_bench/stats", params={"reset": "1"} if reset else {}, timeout=60
        ).json()
        return answer

    def prom_stats(self) -> Json:
        answer: Json = self.session.get(f"{self.prometheus}/_bench/stats", timeout=60).json()
        return answer

    def get(self, path: str) -> Json | None:
        answer = self.session.get(f"{self.api}{path}", timeout=60)
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        result: Json = answer.json()
        return result

    def api_client(self) -> k8s.ApiClient:
        config = k8s.Configuration(host=self.api)
        config.proxy = None
        api = k8s.ApiClient(config)
        api.user_agent = f"{BENCH_AGENT}/1"
        return api


def _serve(module: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    ready = workdir / f"{module.rsplit('.', 1)[-1]}.url"
    log = (workdir / f"{module.rsplit('.', 1)[-1]}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--ready-file", str(ready)], stdout=log, stderr=subprocess.STDOUT, cwd=REPO
    )
    deadline = time.monotonic() + 30
    while not ready.exists() or not ready.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{module} did not start (see {log.name})")
        time.sleep(0.05)
    return proc, ready.read_text()


@contextmanager
def running_fakes() -> Iterator[Fakes]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        api_proc, api_url = _serve("tests.bench.fakeapi", workdir)
        prom_proc, prom_url = _serve("tests.bench.fakeprom", workdir)
        session = requests.Session()
        session.headers["User-Agent"] = f"{BENCH_AGENT}/1"
        session.trust_env = False
        try:
            yield Fakes(api_url, prom_url, session)
        finally:
            for proc in (api_proc, prom_proc):
                stop(proc)


def stop(proc: subprocess.Popen[bytes], kill: bool = False) -> None:
    """Stop a process we started, by PID: SIGTERM (or SIGKILL), wait."""
    if proc.poll() is None:
        (proc.kill if kill else proc.terminate)()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- templates: reconciled here, copied for the fleet ----------------------------------------------------
def bake(fakes: Fakes, index: int, ready: Any) -> tuple[Json, Json]:
    """Create rollout ``index`` and its world, reconcile it until ``ready(status)``; its object and route."""
    fakes.seed([*track_objects(index), (BGR, spec(index, fakes.prometheus))])
    api = fakes.api_client()
    clock = SystemClock()
    reconciler = Reconciler(api, clock, EventRecorder(api, clock), OperatorMetrics(), lambda: True, fakes.prometheus)
    namespace, name = names(index)
    path = f"/apis/greenlane.dev/v1alpha1/namespaces/{namespace}/bluegreenrollouts/{name}"
    deadline = time.monotonic() + 60
    while True:
        reconciler.reconcile(namespace, name)
        obj = fakes.get(path) or {}
        if ready(obj.get("status") or {}):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"template {name} never got ready: {json.dumps(obj.get('status'))[:500]}")
        time.sleep(0.2)
    reconciler.close()
    api.close()
    routed = fakes.get(f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes/{name}") or {}
    return obj, routed


def templates(fakes: Fakes) -> dict[str, tuple[int, Json, Json]]:
    def baking(status: Json) -> bool:
        return status.get("phase") == "Progressing" and status.get("weight") == 5 and status.get("targetWeight") is None

    return {
        "idle": (IDLE_TEMPLATE, *bake(fakes, IDLE_TEMPLATE, lambda s: s.get("phase") == "Aborted")),
        "baking": (BAKING_TEMPLATE, *bake(fakes, BAKING_TEMPLATE, baking)),
        "breach": (BREACH_TEMPLATE, *bake(fakes, BREACH_TEMPLATE, baking)),
    }


def copy_of(template: tuple[int, Json, Json], i: int) -> list[tuple[tuple[str, str], Json]]:
    """Rollout ``i`` as the template left its rollout and route, with every name renumbered."""
    index, rollout, routed = template

    def renamed(obj: Json) -> Json:
        text = _NAMES.sub(
            lambda m: f"{m.group(1)}-{i:06d}" if m.group(2) == f"{index:06d}" else m.group(0), json.dumps(obj)
        )
        result: Json = json.loads(text)
        return result

    meta = {k: v for k, v in rollout["metadata"].items() if k in ("name", "namespace", "annotations", "finalizers")}
    new_rollout = renamed({**{k: rollout[k] for k in ("apiVersion", "kind", "spec", "status")}, "metadata": meta})
    # the status records a digest of the spec it was made under: the renamed spec's, or every copy is an edit
    # Real fleets start their steps at different moments, so their steps' evidence windows differ: spread the
    # copies' step starts over ten minutes (the template's pause of 1h keeps every one of them baking).
    status = new_rollout["status"]
    for key in ("stepStartedAt", "trafficStartedAt"):
        if status.get(key):
            moment = datetime.fromisoformat(status[key].replace("Z", "+00:00")) - timedelta(seconds=(i * 37) % 600)
            status[key] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    parsed = BlueGreenRollout.model_validate(new_rollout, strict=False)
    new_rollout["status"]["specFingerprint"] = fingerprint(parsed.spec).model_dump(by_alias=True, mode="json")
    new_route = renamed({**routed, "metadata": {k: routed["metadata"][k] for k in ("name", "namespace")}})
    world = [(c, o) for c, o in track_objects(i) if c != ROUTES]
    return [*world, (ROUTES, new_route), (BGR, new_rollout)]


def fleet(fakes: Fakes, count: int) -> dict[str, tuple[int, Json, Json]]:
    """Seed ``count`` rollouts (templates included); returns the templates."""
    baked = templates(fakes)
    done = {t[0] for t in baked.values()}
    items: list[tuple[tuple[str, str], Json]] = []
    for i in range(count):
        if i in done:
            continue
        items += copy_of(baked[role(i)], i)
        if len(items) >= 20_000:
            fakes.seed(items)
            items = []
    fakes.seed(items)
    return baked


def fresh(fakes: Fakes, i: int) -> None:
    """A brand-new baking rollout and its world, as a user would create them."""
    fakes.seed([*track_objects(i), (BGR, spec(i, fakes.prometheus))])


def environ() -> dict[str, str]:
    return {**os.environ, "NO_PROXY": "*", "no_proxy": "*"}
