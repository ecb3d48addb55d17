"""Operator bench: reconcile duration and controller memory with N rollouts in the strict kmock emulator.

Run from the repository root: ``.venv/bin/python -m tests.bench.operator [--rollouts 100]``.

Each rollout gets its own namespace holding the sample Gateway API rollout, its blue and green
Deployments (each with a current ReplicaSet owned by it and ready Pods) and an HTTPRoute whose rule
``main`` names both Services. Rollouts point at a real, empty Prometheus: every check is Inconclusive,
which costs the same queries as a real evaluation. ``expectPython`` is dropped by default so preflight
passes and the rollouts move to their first step (router writes, events, evaluations), and with it
the ``python-version`` check that requires it; with ``--expect-python`` they wait in preflight for
``python_info`` that never comes.

Two measurements, each against a fresh emulator:

1. in process: ``Reconciler.reconcile()`` timed per call over several rounds through all rollouts
   (round 1 is preflight plus the first weight, later rounds the steady state);
2. the real ``greenlane run`` process: seconds until every rollout has a status, its own
   ``greenlane_reconcile_duration_seconds`` histogram, and its RSS after ``--settle`` seconds.

Prints figures; asserts nothing (not a timed test). The emulator runs in this process on one asyncio
thread and lists ignore label selectors, so on a small machine it is part of what is measured.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from controller.clock import ManualClock
from controller.kube.events import EventRecorder
from controller.kube.metrics import OperatorMetrics
from controller.kube.reconciler import Reconciler
from controller.sandbox.processes import free_ports
from tests.analysis.prometheus_server import running
from tests.kube.harness import RunningEmulator, running_emulator

Json = dict[str, Any]
REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "config" / "samples" / "checkout-gateway-api.yaml"
BGR = ("greenlane.dev/v1alpha1", "bluegreenrollouts")
REPLICAS = 2


def names(i: int) -> tuple[str, str]:
    """Namespace and rollout name of rollout ``i`` (the HTTPRoute shares the rollout's name)."""
    return f"bench-{i:03d}", f"checkout-{i:03d}"


def rollout(i: int, prometheus: str, expect_python: bool) -> Json:
    doc: Json = yaml.safe_load(SAMPLE.read_text())
    namespace, name = names(i)
    doc["metadata"] = {"name": name, "namespace": namespace}
    doc["spec"]["trafficRouting"]["gatewayAPI"]["httpRoute"] = name
    doc["spec"]["analysis"]["prometheus"]["address"] = prometheus
    if not expect_python:
        for side in ("blue", "green"):
            doc["spec"][side].pop("expectPython", None)
        checks = doc["spec"]["analysis"]["checks"]
        checks[:] = [c for c in checks if c.get("template") != "python-version"]  # it needs expectPython
    return doc


def http_route(namespace: str, name: str, blue_service: str, green_service: str) -> Json:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": "public", "namespace": "gateway"}],
            "hostnames": [f"{name}.example.com"],
            "rules": [
                {
                    "name": "main",
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        {"name": blue_service, "port": 80, "weight": 100},
                        {"name": green_service, "port": 80, "weight": 0},
                    ],
                }
            ],
        },
    }


def seed_track(kube: RunningEmulator, namespace: str, deployment: str, template_hash: str) -> None:
    """A rolled-out Deployment, its current ReplicaSet (owned, same revision) and ready Pods."""
    labels = {"app": deployment}
    revision = {"deployment.kubernetes.io/revision": "1"}
    container = {"name": "app", "image": f"registry.example/{deployment}:1"}
    dep = kube.seed(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": deployment, "namespace": namespace, "annotations": revision},
            "spec": {
                "replicas": REPLICAS,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
            "status": {
                "observedGeneration": 1,
                "replicas": REPLICAS,
                "availableReplicas": REPLICAS,
                "updatedReplicas": REPLICAS,
                "readyReplicas": REPLICAS,
            },
        }
    )
    pod_labels = {**labels, "pod-template-hash": template_hash}
    rs_name = f"{deployment}-{template_hash}"
    owner = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment,
        "uid": dep["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    rs = kube.seed(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "namespace": namespace,
                "labels": pod_labels,
                "annotations": revision,
                "ownerReferences": [owner],
            },
            "spec": {
                "replicas": REPLICAS,
                "selector": {"matchLabels": pod_labels},
                "template": {"metadata": {"labels": pod_labels}, "spec": {"containers": [container]}},
            },
            "status": {"replicas": REPLICAS, "readyReplicas": REPLICAS, "availableReplicas": REPLICAS},
        }
    )
    rs_owner = {**owner, "kind": "ReplicaSet", "name": rs_name, "uid": rs["metadata"]["uid"]}
    for p in range(REPLICAS):
        kube.seed(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{rs_name}-p{p:04d}",  # <deployment>-<hash>-<5 chars>, as pod_regex expects
                    "namespace": namespace,
                    "labels": pod_labels,
                    "ownerReferences": [rs_owner],
                },
                "spec": {"containers": [container]},
                "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
                },
            }
        )


def seed(kube: RunningEmulator, count: int, prometheus: str, expect_python: bool) -> None:
    for i in range(count):
        doc = rollout(i, prometheus, expect_python)
        namespace, name = names(i)
        blue, green = doc["spec"]["blue"], doc["spec"]["green"]
        seed_track(kube, namespace, blue["deployment"], f"b{i:05d}x")
        seed_track(kube, namespace, green["deployment"], f"g{i:05d}x")
        kube.seed(http_route(namespace, name, blue["service"], green["service"]))
        kube.seed(doc)


def kind_of(path: str) -> str:
    """``bluegreenrollouts/status`` from ``/apis/…/namespaces/NS/bluegreenrollouts/NAME/status``."""
    parts = path.strip("/").split("/")
    after = parts[parts.index("namespaces") + 2 :] if "namespaces" in parts else parts[-1:]
    return after[0] + ("/" + after[2] if len(after) > 2 else "")


def phase_of(kube: RunningEmulator, i: int) -> str | None:
    obj = kube.get(*BGR, *names(i)) or {}
    phase: str | None = (obj.get("status") or {}).get("phase")
    return phase


def phases(kube: RunningEmulator, count: int) -> str:
    seen = Counter(phase_of(kube, i) or "(none)" for i in range(count))
    return ", ".join(f"{phase} {n}" for phase, n in sorted(seen.items()))


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    ms = 1000.0
    return (
        f"n={len(ordered):<4d} p50 {at(0.5) * ms:7.1f} ms  p95 {at(0.95) * ms:7.1f} ms  "
        f"max {ordered[-1] * ms:7.1f} ms  mean {statistics.fmean(ordered) * ms:6.1f} ms"
    )


# -- 1. in process -------------------------------------------------------------------------------
def bench_in_process(count: int, rounds: int, prometheus: str, expect_python: bool) -> None:
    """Rounds through every rollout on a manual clock moved to the latest requeue-after of the
    previous round, so each round is what the workers do when all rollouts wake: round 1 preflight
    and the first weight, round 2 its read-back, then evaluations every ``interval`` (30 s)."""
    print(f"\n== in-process Reconciler.reconcile(), {count} rollouts, {rounds} rounds ==")
    with running_emulator() as kube:
        started = time.monotonic()
        seed(kube, count, prometheus, expect_python)
        print(f"seeded {count} rollouts ({count * 10} objects) in {time.monotonic() - started:.1f}s")
        api: Any = kube.api_client()
        try:
            clock = ManualClock(datetime.now(UTC))
            reconciler = Reconciler(api, clock, EventRecorder(api, clock), OperatorMetrics(), lambda: True, prometheus)
            steady: list[float] = []
            steady_cpu: list[float] = []
            advance = 0.0
            for r in range(rounds):
                clock.advance(advance)
                wall, cpu, after = [], [], []
                served = len(kube.requests())
                for i in range(count):
                    t0, c0 = time.perf_counter(), time.thread_time()
                    wake = reconciler.reconcile(*names(i))
                    cpu.append(time.thread_time() - c0)  # this thread only: not the emulator's
                    wall.append(time.perf_counter() - t0)
                    after.append(30.0 if wake is None else min(wake, 30.0))
                evaluated = sum(
                    bool((kube.get(*BGR, *names(i)) or {}).get("status", {}).get("checks")) for i in range(count)
                )
                label = f"round {r + 1} (t+{clock.monotonic():.0f}s)"
                print(f"{label:<16} wall {summary(wall)}")
                print(
                    f"{'':<16} CPU  {summary(cpu)}  "
                    f"{(len(kube.requests()) - served) / count:.1f} API requests/reconcile, "
                    f"{evaluated} with check results, phases: {phases(kube, count)}"
                )
                if r:
                    steady += wall
                    steady_cpu += cpu
                advance = max(after)
            if steady:
                print(f"{'rounds 2+':<16} wall {summary(steady)}")
                print(f"{'':<16} CPU  {summary(steady_cpu)}")
            writes = Counter(f"{r.method} {kind_of(r.path)}" for r in kube.requests(writes_only=True))
            print(f"writes: {dict(sorted(writes.items()))}")
        finally:
            api.close()


# -- 2. the greenlane run process ----------------------------------------------------------------
def write_kubeconfig(url: str, path: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "emu",
                "clusters": [{"name": "emu", "cluster": {"server": url}}],
                "users": [{"name": "bench", "user": {}}],
                "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "bench"}}],
            }
        )
    )
    return path


def rss_kib(pid: int) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            fields[key] = int(value.split()[0])
    return fields


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    parts = stat[stat.rindex(")") + 2 :].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def histogram(text: str, name: str) -> tuple[list[tuple[float, float]], float, float]:
    """Cumulative (le, count) buckets summed over label sets, the sum and the count."""
    buckets: dict[float, float] = {}
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            le = re.search(r'le="([^"]+)"', line)
            assert le is not None
            bound = float("inf") if le.group(1) == "+Inf" else float(le.group(1))
            buckets[bound] = buckets.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith(f"{name}_sum"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith(f"{name}_count"):
            count += float(line.rsplit(" ", 1)[1])
    return sorted(buckets.items()), total, count


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding the rank."""
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * ((rank - below) / (cumulative - below) if cumulative > below else 1.0)
        lower, below = bound, cumulative
    return lower


def upper_bound_of_max(buckets: list[tuple[float, float]]) -> str:
    total = buckets[-1][1]
    previous = 0.0
    for bound, cumulative in buckets:
        if cumulative >= total:
            return f"<= {bound * 1000:.0f} ms" if bound != float("inf") else f"> {previous * 1000:.0f} ms"
        previous = bound
    return "?"


def bench_process(count: int, prometheus: str, expect_python: bool, settle: float, workers: int) -> None:
    print(f"\n== greenlane run process, {count} rollouts, --workers {workers}, --all-namespaces ==")
    with running_emulator() as kube, tempfile.TemporaryDirectory() as tmp:
        seed(kube, count, prometheus, expect_python)
        kubeconfig = write_kubeconfig(kube.url, Path(tmp) / "kubeconfig")
        metrics_port, health_port = free_ports(2)
        log_path = Path(tmp) / "operator.log"
        with log_path.open("w") as log:
            started = time.monotonic()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "controller",
                    "run",
                    "--kubeconfig",
                    str(kubeconfig),
                    "--all-namespaces",
                    "--no-leader-elect",
                    "--metrics-addr",
                    f"127.0.0.1:{metrics_port}",
                    "--health-addr",
                    f"127.0.0.1:{health_port}",
                    "--prometheus-url",
                    prometheus,
                    "--workers",
                    str(workers),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            ready_after = _wait_ready(proc, health_port, started)
            print(f"ready (first list done) after {ready_after:.2f}s")
            remaining = set(range(count))
            deadline = started + max(settle, 120.0)
            while remaining and time.monotonic() < deadline and proc.poll() is None:
                remaining = {i for i in remaining if phase_of(kube, i) is None}
                if remaining:
                    time.sleep(0.05)
            status_after = time.monotonic() - started
            if remaining:
                print(f"!! {len(remaining)} rollouts without status after {status_after:.1f}s")
            else:
                print(
                    f"every rollout has a status {status_after:.2f}s after start "
                    f"({status_after - ready_after:.2f}s after ready)"
                )
            at_status = rss_kib(proc.pid)
            print(f"RSS when all have a status: {at_status['VmRSS'] / 1024:.1f} MiB")
            time.sleep(max(0.0, started + settle - time.monotonic()))
            memory = rss_kib(proc.pid)
            cpu = cpu_seconds(proc.pid)
            text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
            buckets, total, n = histogram(text, "greenlane_reconcile_duration_seconds")
            errors = re.findall(r'greenlane_reconcile_duration_seconds_count\{result="error"\} (\S+)', text)
            print(
                f"after {settle:.0f}s: RSS {memory['VmRSS'] / 1024:.1f} MiB (peak {memory['VmHWM'] / 1024:.1f} MiB), "
                f"{memory['Threads']} threads, CPU {cpu:.1f}s ({cpu / settle * 100:.0f}% of one core)"
            )
            if n:
                print(
                    f"/metrics greenlane_reconcile_duration_seconds: {n:.0f} reconciles "
                    f"(errors {errors[0] if errors else 0}), mean {total / n * 1000:.1f} ms, "
                    f"p50 ~{bucket_quantile(0.5, buckets) * 1000:.0f} ms, "
                    f"p95 ~{bucket_quantile(0.95, buckets) * 1000:.0f} ms, max {upper_bound_of_max(buckets)}"
                )
                print(
                    "  buckets (le: cumulative): "
                    + ", ".join(f"{'+Inf' if b == float('inf') else f'{b:g}'}: {c:.0f}" for b, c in buckets)
                )
            print(f"phases: {phases(kube, count)}")
        finally:
            stop(proc)
            failures = [line for line in log_path.read_text().splitlines() if '"level": "error"' in line]
            print(f"operator exit code {proc.returncode}; {len(failures)} error lines in its log")
            for line in failures[:3]:
                print("  " + line[:300])


def _wait_ready(proc: subprocess.Popen[bytes], port: int, started: float) -> float:
    deadline = started + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"greenlane run exited with {proc.returncode}")
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("greenlane run not ready after 60s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID (the operator finishes its reconciles in flight), SIGKILL after 60 s."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.operator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rollouts", type=int, default=100)
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="in-process rounds through all rollouts (4: preflight, read-back, 2 evaluations)",
    )
    parser.add_argument("--settle", type=float, default=60.0, help="seconds the process runs before RSS is read")
    parser.add_argument("--workers", type=int, default=4, help="greenlane run --workers (its default: 4)")
    parser.add_argument(
        "--expect-python",
        action="store_true",
        help="keep the sample's expectPython: rollouts wait in preflight (no python_info)",
    )
    parser.add_argument("--skip-process", action="store_true")
    parser.add_argument("--skip-in-process", action="store_true")
    args = parser.parse_args(argv)
    print(f"greenlane operator bench: {args.rollouts} rollouts, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp, running(Path(tmp) / "data") as prometheus:
        print(f"Prometheus (empty) at {prometheus}")
        if not args.skip_in_process:
            bench_in_process(args.rollouts, args.rounds, prometheus, args.expect_python)
        if not args.skip_process:
            bench_process(args.rollouts, prometheus, args.expect_python, args.settle, args.workers)


if __name__ == "__main__":
    main()
