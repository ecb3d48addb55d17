"""Fleet-scale bench (issue 15): the real ``greenlane run`` against a fast fake API server and a counting
Prometheus stand-in, with 100, 1,000 and 10,000 rollouts (90% idle, 10% baking).

Run from the repository root: ``make bench-scale`` (or ``.venv/bin/python -m tests.bench.scale``). Prints
figures, asserts nothing. Per fleet size: RSS, CPU per minute, API requests per minute by verb (and reads
per idle rollout), Prometheus queries per evaluation round, reconcile cost p50/p99 (CPU time of the
reconcile's thread: in-process, network waits excluded; wall time beside it), time to the first status of
a new rollout, and time from a breach to the rollback's router write; then the takeover time with 2 and 4
shards when a replica is killed, and RSS over create/delete churn.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from controller.kube.memdebug import ENV
from controller.sandbox.processes import free_ports
from tests.bench.fleet import (
    REPO,
    Fakes,
    environ,
    fleet,
    fresh,
    green_track,
    names,
    role,
    running_fakes,
    stop,
    track_objects,
)
from tests.bench.operator import bucket_quantile, cpu_seconds, histogram, rss_kib
from tests.bench.soak_figures import Sample, metric_samples, parse_metrics, snapshot_diff, summary

Json = dict[str, Any]
ROUND = 10.0
INTERVAL = 30.0


@dataclass
class Operator:
    proc: subprocess.Popen[bytes]
    metrics: str
    health: str
    log: Path

    def scrape(self) -> str:
        return str(urllib.request.urlopen(f"{self.metrics}/metrics", timeout=30).read().decode())


def kubeconfig(url: str, workdir: Path) -> Path:
    path = workdir / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "bench", "user": {}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "bench"}}],
    }
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def operator(
    fakes: Fakes, workdir: Path, *extra: str, name: str = "greenlane-0", env: Mapping[str, str] | None = None
) -> Iterator[Operator]:
    metrics_port, health_port = free_ports(2)
    log = workdir / f"{name}.log"
    args = [
        sys.executable, "-m", "controller", "run",
        "--kubeconfig", str(kubeconfig(fakes.api, workdir)),
        "--all-namespaces",
        "--metrics-addr", f"127.0.0.1:{metrics_port}",
        "--health-addr", f"127.0.0.1:{health_port}",
        "--prometheus-url", fakes.prometheus,
        *extra,
    ]  # fmt: skip
    environment = {**environ(), "POD_NAME": name, "POD_NAMESPACE": "greenlane-system", **(env or {})}
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=environment, cwd=REPO)
    handle = Operator(proc, f"http://127.0.0.1:{metrics_port}", f"http://127.0.0.1:{health_port}", log)
    try:
        yield handle
    finally:
        stop(proc)
        keep = os.environ.get("GREENLANE_BENCH_LOGS")
        if keep:  # where to keep the operators' logs for a look afterwards
            Path(keep).mkdir(parents=True, exist_ok=True)
            (Path(keep) / f"{name}-{int(time.time())}.log").write_text(log.read_text())


def wait_ready(op: Operator, within: float = 600.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if op.proc.poll() is not None:
            raise RuntimeError(f"greenlane run exited {op.proc.returncode}: {op.log.read_text()[-2000:]}")
        try:
            if urllib.request.urlopen(f"{op.health}/readyz", timeout=2).status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("not ready")


# ---- one fleet size -----------------------------------------------------------------------------
@dataclass
class Figures:
    rollouts: int
    ready: float = 0.0
    rss_mib: float = 0.0
    cpu_per_minute: float = 0.0
    requests: dict[str, float] = field(default_factory=dict)
    idle_reads: float = 0.0
    queries_per_round: dict[str, float] = field(default_factory=dict)
    reconcile_cpu: tuple[float, float] = (0.0, 0.0)
    reconcile_wall: tuple[float, float] = (0.0, 0.0)
    first_status: list[float] = field(default_factory=list)
    breach: list[tuple[float, float]] = field(default_factory=list)


def measure(count: int, window: float, breach: bool, new: int) -> Figures:
    print(f"\n== {count} rollouts ({count // 10} baking, {count - count // 10} idle) ==", flush=True)
    figures = Figures(count)
    with running_fakes() as fakes, tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        fleet(fakes, count)
        print(f"seeded {count} rollouts and their worlds in {time.monotonic() - started:.1f}s", flush=True)
        with operator(fakes, Path(tmp), "--no-leader-elect") as op:
            figures.ready = wait_ready(op)
            print(f"ready (caches synced) after {figures.ready:.1f}s", flush=True)
            settled = first_pass(op, count)
            print(f"every rollout reconciled once {settled:.1f}s after ready", flush=True)
            time.sleep(INTERVAL + ROUND)  # every baking rollout evaluated since: steady state
            steady(fakes, op, window, figures)
            if new:
                figures.first_status = first_statuses(fakes, count, new)
            if breach:
                figures.breach = breaches(fakes)
            report_errors(op)
    return figures


def first_pass(op: Operator, count: int, within: float = 600.0) -> float:
    """Seconds until the operator has reconciled every rollout once (the start-up pass, idle ones last)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        text = op.scrape()
        done = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("greenlane_shard_reconciles_total{")
        )
        if done >= count:
            return time.monotonic() - started
        time.sleep(1.0)
    raise RuntimeError(f"start-up pass not done after {within:g}s")


def steady(fakes: Fakes, op: Operator, window: float, figures: Figures) -> None:
    fakes.api_stats(reset=True)
    prom_before, cpu_before, text_before = fakes.prom_stats()["counts"], cpu_seconds(op.proc.pid), op.scrape()
    time.sleep(window)
    api, prom_after, cpu_after, text_after = (
        fakes.api_stats(),
        fakes.prom_stats()["counts"],
        cpu_seconds(op.proc.pid),
        op.scrape(),
    )
    minutes = window / 60.0
    figures.rss_mib = rss_kib(op.proc.pid)["VmRSS"] / 1024
    figures.cpu_per_minute = (cpu_after - cpu_before) / minutes
    by_verb: dict[str, float] = {}
    for key, n in api["counts"].items():
        verb = key.split(" ", 1)[0]
        by_verb[verb] = by_verb.get(verb, 0.0) + n / minutes
    figures.requests = by_verb
    idle = [names(i)[0] for i in range(figures.rollouts) if role(i) == "idle"]
    idle_reads = sum(api["reads_by_namespace"].get(ns, 0) for ns in idle)
    figures.idle_reads = idle_reads / max(1, len(idle)) / minutes
    rounds = window / ROUND
    figures.queries_per_round = {k: (prom_after.get(k, 0) - prom_before.get(k, 0)) / rounds for k in prom_after}
    figures.reconcile_cpu = _quantiles(text_before, text_after, "greenlane_reconcile_cpu_seconds")
    figures.reconcile_wall = _quantiles(text_before, text_after, "greenlane_reconcile_duration_seconds")
    print(
        f"steady state over {window:.0f}s: RSS {figures.rss_mib:.0f} MiB, CPU {figures.cpu_per_minute:.1f} s/min, "
        f"API/min {_fmt(by_verb)} (idle rollouts: {figures.idle_reads:.3f} reads/rollout/min), "
        f"Prometheus/round {_fmt(figures.queries_per_round)}, reconcile CPU p50/p99 "
        f"{figures.reconcile_cpu[0] * 1000:.1f}/{figures.reconcile_cpu[1] * 1000:.1f} ms "
        f"(wall {figures.reconcile_wall[0] * 1000:.0f}/{figures.reconcile_wall[1] * 1000:.0f} ms)",
        flush=True,
    )
    print(f"  API requests in the window: {dict(sorted(api['counts'].items()))}", flush=True)


def _quantiles(before: str, after: str, name: str) -> tuple[float, float]:
    b, _, _ = histogram(before, name)
    a, _, _ = histogram(after, name)
    previous = dict(b)
    delta = [(bound, cumulative - previous.get(bound, 0.0)) for bound, cumulative in a]
    if not delta or delta[-1][1] <= 0:
        return (float("nan"), float("nan"))
    return bucket_quantile(0.5, delta), bucket_quantile(0.99, delta)


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in sorted(values.items()))


def first_statuses(fakes: Fakes, count: int, new: int) -> list[float]:
    """New rollouts created while the fleet runs: seconds from creation to their first status."""
    indexes = [count + 100 + 10 * k + 1 for k in range(new)]  # baking rollouts, never seeded before
    for i in indexes:
        fresh(fakes, i)
    waits: list[float] = []
    deadline = time.monotonic() + 120
    pending = set(indexes)
    while pending and time.monotonic() < deadline:
        for i in sorted(pending):
            namespace, name = names(i)
            answer = fakes.session.get(
                f"{fakes.api}/_bench/first-status", params={"namespace": namespace, "name": name}, timeout=30
            ).json()
            if answer.get("first_status"):
                waits.append(answer["first_status"] - answer["created"])
                pending.discard(i)
        time.sleep(0.05)
    print(
        f"creation -> first status of {new} new rollouts: {_seconds(waits)}{' (some never!)' if pending else ''}",
        flush=True,
    )
    return waits


def breaches(fakes: Fakes) -> list[tuple[float, float]]:
    """Breach the 5 rollouts evaluated every round; per rollout: (flip -> weight 0 write, decision -> write).

    The flip is when Prometheus starts answering the bad values; the decision is the status write that
    records the rollback (intent before action), the write is the router's weight 0.
    """
    victims = [i for i in range(50) if role(i) == "breach"]
    paths = [f"httproutes/{names(i)[0]}/{names(i)[1]}" for i in victims]
    judged = wait_for_verdicts(fakes, victims)
    print(f"breach rollouts' latency check judging (its evidence window filled) after {judged:.0f}s", flush=True)
    decisions = {i: f"bluegreenrollouts/{names(i)[0]}/{names(i)[1]}" for i in victims}
    fakes.session.post(f"{fakes.api}/_bench/track", json={"paths": [*paths, *decisions.values()]}, timeout=30)
    flipped = time.time()
    fakes.session.post(
        f"{fakes.prometheus}/_bench/breach", json={"tracks": [green_track(i) for i in victims], "factor": 5}, timeout=30
    )
    results: dict[int, tuple[float, float]] = {}
    deadline = time.monotonic() + 120
    while len(results) < len(victims) and time.monotonic() < deadline:
        for i, path in zip(victims, paths, strict=True):
            if i in results:
                continue
            decided = _first(fakes, decisions[i], lambda spec, status: bool((status or {}).get("rollback")))
            written = _first(fakes, path, lambda spec, status, i=i: _green(spec, i) == 0)
            if decided is not None and written is not None and written > flipped:
                results[i] = (written - flipped, written - decided)
        time.sleep(0.1)
    values = list(results.values())
    print(
        f"breach -> rollback router write ({len(values)}/{len(victims)} rolled back): from the flip "
        f"{_seconds([v[0] for v in values])}; from the rollback decision {_seconds([v[1] for v in values])}",
        flush=True,
    )
    return values


def wait_for_verdicts(fakes: Fakes, victims: list[int], within: float = 300.0) -> float:
    """Seconds until every victim's latency check has a verdict, so that the breach measures the operator.

    A step's traffic checks wait for a quarter of their window of evidence at the step's weight (judgement,
    issue 12); a breach before that would measure the wait, not how fast a Fail reaches the router.
    """
    started = time.monotonic()
    while time.monotonic() - started < within:
        waiting = 0
        for i in victims:
            namespace, name = names(i)
            url = f"{fakes.api}/apis/greenlane.dev/v1alpha1/namespaces/{namespace}/bluegreenrollouts/{name}"
            checks = (fakes.session.get(url, timeout=30).json().get("status") or {}).get("checks") or []
            latency = [c for c in checks if c.get("name") == "p99-latency"]
            waiting += not latency or "waiting" in latency[0].get("message", "waiting")
        if not waiting:
            break
        time.sleep(1.0)
    return time.monotonic() - started


def _first(fakes: Fakes, path: str, match: Any) -> float | None:
    for at, spec, status in fakes.session.get(f"{fakes.api}/_bench/history", params={"path": path}, timeout=30).json():
        if match(spec, status):
            return float(at)
    return None


def _green(spec: Json, i: int) -> int | None:
    weights = {r["name"]: r.get("weight", 1) for r in spec["rules"][0]["backendRefs"]}
    return weights.get(f"{names(i)[1]}-green")


def _seconds(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median {statistics.median(values):.2f}s, max {max(values):.2f}s (n={len(values)})"


def report_errors(op: Operator) -> None:
    lines = [line for line in op.log.read_text().splitlines() if '"level": "error"' in line]
    print(f"operator error lines: {len(lines)}", *(f"  {line[:300]}" for line in lines[:3]), sep="\n", flush=True)


# ---- shards ---------------------------------------------------------------------------------------
def takeover(count: int, replicas: int) -> tuple[float, float]:
    """Kill -9 one replica: seconds until others hold its shard Leases, and until they reconcile its rollouts."""
    print(f"\n== {replicas} shards, {replicas} replicas, {count} rollouts: kill one ==", flush=True)
    with running_fakes() as fakes, tempfile.TemporaryDirectory() as tmp:
        fleet(fakes, count)
        flags = ("--shards", str(replicas), "--lease-namespace", "greenlane-system")
        with contextlib.ExitStack() as stack:
            ops = [
                stack.enter_context(operator(fakes, Path(tmp), *flags, name=f"greenlane-{k}")) for k in range(replicas)
            ]
            holders = wait_balanced(fakes, replicas)
            victim, survivors = ops[1], [op for k, op in enumerate(ops) if k != 1]
            mine = {lease for lease, holder in holders.items() if holder == "greenlane-1"}
            shards = {lease.rsplit("-", 1)[1] for lease in mine}
            before = shard_reconciles(survivors, shards)
            paths = [f"leases/greenlane-system/{lease}" for lease in sorted(mine)]
            fakes.session.post(f"{fakes.api}/_bench/track", json={"paths": paths}, timeout=30)
            time.sleep(2 * 2.0)  # two retry periods: the victim's renewals are on record
            killed, killed_at = time.monotonic(), time.time()
            stop(victim.proc, kill=True)
            leased = reconciled = None
            while leased is None or reconciled is None:
                if leased is None and all(
                    shard_holders(fakes).get(lease) not in (None, "greenlane-1") for lease in mine
                ):
                    leased = time.monotonic() - killed
                if reconciled is None and all(n > before[s] for s, n in shard_reconciles(survivors, shards).items()):
                    reconciled = time.monotonic() - killed
                if time.monotonic() - killed > 120:
                    raise RuntimeError(f"no takeover: {shard_holders(fakes)}")
                time.sleep(0.05)
            renewed = last_renewal(fakes, paths, "greenlane-1")
            print(
                f"shards {sorted(mine)} of the killed replica taken over after {leased:.2f}s, first reconcile of "
                f"each by the others after {reconciled:.2f}s (lease duration 15s); its last renewal was "
                f"{killed_at - renewed:.2f}s before the kill: taken {leased + killed_at - renewed:.2f}s and "
                f"reconciled {reconciled + killed_at - renewed:.2f}s after it",
                flush=True,
            )
            return leased, reconciled


def last_renewal(fakes: Fakes, paths: list[str], holder: str) -> float:
    """Wall time of ``holder``'s last write of any of the Leases at ``paths`` (the fake API's record)."""
    writes = [
        at
        for path in paths
        for at, spec, _ in fakes.session.get(f"{fakes.api}/_bench/history", params={"path": path}, timeout=30).json()
        if (spec or {}).get("holderIdentity") == holder
    ]
    return float(max(writes))


def shard_reconciles(ops: list[Operator], shards: set[str]) -> dict[str, float]:
    """Reconciles of each shard's rollouts so far, summed over ``ops`` (``greenlane_shard_reconciles_total``)."""
    counts = dict.fromkeys(shards, 0.0)
    for op in ops:
        for name, labels, value in metric_samples(op.scrape()):
            if name == "greenlane_shard_reconciles_total" and labels.get("shard") in counts:
                counts[labels["shard"]] += value
    return counts


def shard_holders(fakes: Fakes) -> dict[str, str | None]:
    answer = fakes.get("/apis/coordination.k8s.io/v1/namespaces/greenlane-system/leases") or {}
    return {
        item["metadata"]["name"]: (item.get("spec") or {}).get("holderIdentity")
        for item in answer.get("items", [])
        if item["metadata"]["name"].startswith("greenlane-shard-")
    }


def wait_balanced(fakes: Fakes, replicas: int) -> dict[str, str | None]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        holders = shard_holders(fakes)
        counts = [list(holders.values()).count(f"greenlane-{k}") for k in range(replicas)]
        if len(holders) == replicas and counts == [1] * replicas:
            return holders
        time.sleep(0.2)
    raise RuntimeError(f"never balanced: {shard_holders(fakes)}")


# ---- churn soak -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SoakPlan:
    """Rollouts created in batches on top of a standing fleet of ``base``, for ``cycles`` batches or ``minutes``;
    once ``live`` batches are alive, each new one is followed by the deletion of the oldest (with its
    Deployments, ReplicaSets and route), so the population is constant and a slope is churn, not growth."""

    base: int
    batch: int
    cycles: int = 0
    minutes: float = 0.0
    live: int = 10
    """Batches alive at once: at a few seconds a cycle, a churned rollout lives past an evaluation (30 s)."""
    fleet_rate: float = 100.0
    snapshots: bool = False


def soak(plan: SoakPlan) -> list[Sample]:
    length = f"{plan.minutes:g} minutes" if plan.minutes else f"{plan.cycles} cycles"
    print(
        f"\n== churn soak: {plan.base} rollouts, then {length} of batches of {plan.batch} created, each deleted "
        f"once {plan.live} newer batches are alive ==",
        flush=True,
    )
    with running_fakes() as fakes, tempfile.TemporaryDirectory() as tmp:
        fleet(fakes, plan.base)
        snapshots = Path(tmp) / "memory" if plan.snapshots else None
        env = {ENV: str(snapshots)} if snapshots else {}
        flags = ("--no-leader-elect", "--api-qps", "400", "--api-burst", "800")
        with operator(fakes, Path(tmp), *flags, env=env) as op:
            wait_ready(op)
            first_pass(op, plan.base)
            samples, before, after = _churn_cycles(fakes, op, plan, snapshots)
            report_errors(op)
        for line in summary(samples, before, after, plan.fleet_rate, plan.live):
            print(line, flush=True)
        if snapshots is not None:  # read before the temporary directory goes
            print(
                "(tracemalloc on: RSS includes its bookkeeping; snapshots after build-up, at the end, after the drain)"
            )
            taken = len(list(snapshots.glob("snapshot-*.tracemalloc")))
            for first, second in [(n, n + 1) for n in range(1, taken)]:
                for line in snapshot_diff(snapshots, first, second):
                    print(line, flush=True)
    return samples


def _churn_cycles(
    fakes: Fakes, op: Operator, plan: SoakPlan, snapshots: Path | None
) -> tuple[list[Sample], Sample, Sample]:
    started = time.monotonic()
    before = _sample(op, 0, 0, 0.0)
    samples: list[Sample] = []
    live: deque[tuple[float, list[int]]] = deque()
    lifetimes: list[float] = []
    churned, cycle, marks = 0, 0, [0.25, 1.0]
    while (cycle < plan.cycles) if plan.cycles else (time.monotonic() - started < plan.minutes * 60):
        indexes = [plan.base + 1000 + cycle * plan.batch + k for k in range(plan.batch)]
        create(fakes, indexes)
        live.append((time.monotonic(), indexes))
        if len(live) > plan.live:
            born, oldest = live.popleft()
            lifetimes.append(time.monotonic() - born)
            churned += delete(fakes, oldest)
        cycle += 1
        samples.append(_sample(op, cycle, churned, time.monotonic() - started))
        s = samples[-1]
        print(
            f"cycle {cycle:3d}: {churned:6,d} churned, {len(live) * plan.batch:4d} live, RSS {s.rss_mib:6.1f} MiB, "
            f"series {s.series:6,d} of {s.exported_rollouts:5,d} rollouts, "
            f"cache objects {sum(s.cache.values()):6,d}, queue {s.queue}",
            flush=True,
        )
        progress = cycle / plan.cycles if plan.cycles else (time.monotonic() - started) / (plan.minutes * 60)
        if snapshots is not None and marks and progress >= marks[0] and cycle > plan.live:  # after the build-up
            _snapshot(op, snapshots)
            marks.pop(0)
    if lifetimes:
        print(f"churned rollouts lived {_seconds(lifetimes)} from creation to deletion", flush=True)
    while live:
        churned += delete(fakes, live.popleft()[1])
    time.sleep(2.0)  # the last releases' reconciles finish and forget their rollouts
    after = _sample(op, cycle, churned, time.monotonic() - started)
    if snapshots is not None:
        _snapshot(op, snapshots)
    return samples, before, after


def _sample(op: Operator, cycle: int, churned: int, seconds: float) -> Sample:
    series, per_rollout, rollouts, cache, nbytes, queue = parse_metrics(op.scrape())
    rss = rss_kib(op.proc.pid)["VmRSS"] / 1024
    return Sample(cycle, churned, seconds, rss, series, per_rollout, rollouts, cache, nbytes, queue)


def _snapshot(op: Operator, directory: Path, within: float = 300.0) -> None:
    """Ask the operator for its next memory snapshot (SIGUSR1) and wait until it is written."""
    number = len(list(directory.glob("snapshot-*.tracemalloc"))) + 1 if directory.exists() else 1
    op.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + within
    while not (directory / f"snapshot-{number}.tracemalloc").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"memory snapshot {number} not written within {within:g}s")
        time.sleep(0.2)


def create(fakes: Fakes, indexes: list[int]) -> None:
    for i in indexes:
        fresh(fakes, i)
    wait_all(fakes, indexes, lambda answer: bool(answer.get("first_status")), "first status")


def delete(fakes: Fakes, indexes: list[int]) -> int:
    """Delete the rollouts, wait until the operator has released them, then delete their worlds."""
    for i in indexes:
        namespace, name = names(i)
        fakes.session.delete(
            f"{fakes.api}/apis/greenlane.dev/v1alpha1/namespaces/{namespace}/bluegreenrollouts/{name}", timeout=30
        )
    wait_all(fakes, indexes, lambda answer: answer.get("created") is None, "deleted")
    for i in indexes:
        for (group, plural), obj in track_objects(i):
            meta = obj["metadata"]
            prefix = f"/apis/{group}/v1"
            fakes.session.delete(
                f"{fakes.api}{prefix}/namespaces/{meta['namespace']}/{plural}/{meta['name']}", timeout=30
            )
    return len(indexes)


def wait_all(fakes: Fakes, indexes: list[int], done: Any, what: str) -> None:
    pending, deadline = set(indexes), time.monotonic() + 300
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} rollouts never {what}")
        for i in sorted(pending):
            namespace, name = names(i)
            if done(
                fakes.session.get(
                    f"{fakes.api}/_bench/first-status", params={"namespace": namespace, "name": name}, timeout=30
                ).json()
            ):
                pending.discard(i)
        time.sleep(0.1)


# ---- the table ----------------------------------------------------------------------------------------
HEADER = (
    "| rollouts | RSS MiB | CPU s/min | API reads/min (get+list) | watches/min | writes/min "
    "| reads per idle rollout/min | Prometheus queries/round (grouped + per-rollout) | reconcile CPU p50/p99 ms "
    "| first status s | breach -> rollback write s (decision -> write) |"
)


def row(f: Figures) -> str:
    r = f.requests
    reads = r.get("get", 0) + r.get("list", 0)
    writes = sum(v for k, v in r.items() if k in ("create", "update", "patch", "delete"))
    q = f.queries_per_round
    first = f"{statistics.median(f.first_status):.2f}" if f.first_status else "-"
    breach = "-"
    if f.breach:
        flip, decision = statistics.median([b[0] for b in f.breach]), statistics.median([b[1] for b in f.breach])
        breach = f"{flip:.1f} ({decision * 1000:.0f} ms)"
    cpu = f"{f.reconcile_cpu[0] * 1000:.1f} / {f.reconcile_cpu[1] * 1000:.1f}"
    cells = [
        f"{f.rollouts:,}",
        f"{f.rss_mib:.0f}",
        f"{f.cpu_per_minute:.1f}",
        f"{reads:.0f}",
        f"{r.get('watch', 0):.1f}",
        f"{writes:.0f}",
        f"{f.idle_reads:.3f}",
        f"{q.get('grouped', 0.0):.1f} + {q.get('per-track', 0.0):.1f}",
        cpu,
        first,
        breach,
    ]
    return "| " + " | ".join(cells) + " |"


def table(results: list[Figures], takeovers: dict[int, tuple[float, float]]) -> None:
    print("\n" + HEADER)
    print("|---" * 11 + "|")
    for figures in results:
        print(row(figures))
    for replicas, (leased, reconciled) in sorted(takeovers.items()):
        print(
            f"takeover with {replicas} shards/replicas after kill -9: Leases held by others {leased:.1f}s, "
            f"first reconcile of each shard {reconciled:.1f}s (lease duration 15s)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="fleet sizes measured ('' skips)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds of steady state measured per size")
    parser.add_argument("--shards", default="2,4", help="replica counts for the takeover measurement ('' skips)")
    parser.add_argument("--shard-rollouts", type=int, default=1000, help="standing fleet of the takeover and churn")
    parser.add_argument("--churn-cycles", type=int, default=30, help="batches created and deleted (0 skips churn)")
    parser.add_argument("--churn-batch", type=int, default=100)
    parser.add_argument(
        "--soak-minutes", type=float, default=0.0, help="churn for this long instead of --churn-cycles batches"
    )
    parser.add_argument("--churn-live", type=int, default=10, help="churned batches alive at once")
    parser.add_argument(
        "--fleet-churn", type=float, default=100.0, help="rollouts/hour of the real fleet the soak is compared to"
    )
    parser.add_argument(
        "--memory-snapshots", action="store_true", help="tracemalloc + live objects per type, diffed across the soak"
    )
    args = parser.parse_args(argv)
    print(f"greenlane scale bench: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}", flush=True)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results = [
        measure(n, args.window, breach=n in (sizes[0], sizes[-1]), new=5 if n == sizes[-1] else 0) for n in sizes
    ]
    takeovers = {int(k): takeover(args.shard_rollouts, int(k)) for k in args.shards.split(",") if k}
    if args.churn_cycles or args.soak_minutes:
        plan = SoakPlan(
            args.shard_rollouts,
            args.churn_batch,
            cycles=0 if args.soak_minutes else args.churn_cycles,
            minutes=args.soak_minutes,
            live=args.churn_live,
            fleet_rate=args.fleet_churn,
            snapshots=args.memory_snapshots,
        )
        soak(plan)
    if results or takeovers:
        table(results, takeovers)


if __name__ == "__main__":
    main()
