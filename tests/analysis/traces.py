"""Hour-long synthetic scrapes of a blue and a green track, as OpenMetrics text for promtool backfill.

Deterministic (seeded) and realistic where it matters to the judgement: 15s scrapes with +-1.5s jitter,
Poisson request counts split over histogram buckets, a garbage-collected heap (sawtooth with random GC
periods) on top of a startup ramp, integer connection counts that wander with load, pod-level and pause
cAdvisor series that must be excluded, and pods of the two Deployments in one namespace whose names share
a prefix.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

ANCHOR = 1_700_000_000.0
"""Fixed evaluation instant (2023-11-14T22:13:20Z); every trace ends just before it."""
DURATION = 75 * 60.0
SCRAPE = 15.0
JITTER = 1.5
MIB = 2.0**20
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
SIDECAR = 48 * MIB


@dataclass(frozen=True)
class Track:
    deployment: str
    hash: str
    pods: int = 3
    rps: float = 6.0
    p99: float = 0.31
    error_ratio: float = 0.001
    spike: tuple[float, float] = (0.0, 0.0)
    """(seconds before ANCHOR the spike starts, error ratio during it)."""
    status_class: bool = False
    histogram: str = "http_request_duration_seconds"
    memory: float = 200 * MIB
    leak: float = 0.0
    """Bytes per second."""
    db: float = 12.0
    db_creep: float = 0.0
    """Connections per second, for the whole track."""
    python: tuple[str, ...] = ("3.11.7",)
    started: float = DURATION - 30.0
    """Seconds before ANCHOR the pods started."""

    def pod_names(self) -> list[str]:
        rng = random.Random(self.deployment)
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        return [
            f"{self.deployment}-{self.hash}-{''.join(rng.choice(alphabet) for _ in range(5))}" for _ in range(self.pods)
        ]


@dataclass(frozen=True)
class Scenario:
    namespace: str
    blue: Track
    green: Track
    extra: dict[str, float] = field(default_factory=dict)


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (normal approximation above 30, Knuth below): request counts per scrape interval."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _scrapes(rng: random.Random, start: float) -> Iterator[float]:
    t = max(ANCHOR - DURATION, start) + rng.uniform(0, SCRAPE)
    while t < ANCHOR - 1:
        yield t + rng.uniform(-JITTER, JITTER)
        t += SCRAPE


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


class Writer:
    """Collects samples per metric family (promtool wants each family contiguous, each series in order)."""

    def __init__(self) -> None:
        self.families: dict[str, list[str]] = {}

    def add(self, name: str, labels: dict[str, str], t: float, value: float) -> None:
        self.families.setdefault(name, []).append(f"{name}{_labels(**labels)} {value:.12g} {t:.3f}")

    def text(self) -> str:
        out: list[str] = []
        for name, lines in self.families.items():
            out.append(f"# TYPE {name} gauge")
            out.extend(lines)
        out.append("# EOF")
        return "\n".join(out) + "\n"


def _bucket_probs(p99: float, sigma: float = 0.45) -> list[float]:
    mu = math.log(p99) - 2.326 * sigma
    cdf = [0.5 * (1 + math.erf((math.log(le) - mu) / (sigma * math.sqrt(2)))) for le in BUCKETS]
    return [b - a for a, b in zip([0.0, *cdf], [*cdf, 1.0], strict=True)]


def _http(w: Writer, rng: random.Random, ns: str, track: Track, pod: str) -> None:
    if track.rps <= 0:
        return
    probs = _bucket_probs(track.p99)
    counts = [0] * len(probs)
    ok = err = 0
    total_sum = 0.0
    base = {"namespace": ns, "pod": pod}
    prev = None
    for t in _scrapes(rng, ANCHOR - track.started):
        dt = SCRAPE if prev is None else t - prev
        prev = t
        for i, p in enumerate(probs):
            counts[i] += poisson(rng, track.rps * dt * p)
        n = sum(counts)
        total_sum = n * track.p99 / 2.2
        spiking = track.spike[1] > 0 and t >= ANCHOR - track.spike[0]
        ratio = track.spike[1] if spiking else track.error_ratio
        new = n - ok - err
        e = poisson(rng, new * ratio)
        err, ok = err + min(e, new), ok + new - min(e, new)
        cum = 0
        for le, c in zip([*BUCKETS, math.inf], counts, strict=True):
            cum += c
            w.add(f"{track.histogram}_bucket", {**base, "le": "+Inf" if math.isinf(le) else f"{le:g}"}, t, cum)
        w.add(f"{track.histogram}_count", base, t, n)
        w.add(f"{track.histogram}_sum", base, t, total_sum)
        w.add("http_requests_total", {**base, "status": "200"}, t, ok)
        w.add("http_requests_total", {**base, "status": "5xx" if track.status_class else "503"}, t, err)


def _memory(w: Writer, rng: random.Random, ns: str, track: Track, pod: str) -> None:
    start = ANCHOR - track.started
    next_gc = start + rng.uniform(60, 120)
    base = {"namespace": ns, "pod": pod}
    for t in _scrapes(rng, start):
        while t >= next_gc:
            next_gc += rng.uniform(60, 120)
        heap = 6 * MIB * (1 - (next_gc - t) / 120)  # the heap climbs until the next collection
        age = t - start
        app = track.memory * (1 - 0.35 * math.exp(-age / 20)) + track.leak * age + heap + rng.gauss(0, 0.4 * MIB)
        w.add("container_memory_working_set_bytes", {**base, "container": "app"}, t, app)
        w.add("container_memory_working_set_bytes", {**base, "container": "istio-proxy"}, t, SIDECAR)
        w.add("container_memory_working_set_bytes", {**base, "container": ""}, t, app + SIDECAR + 4 * MIB)
        w.add("container_memory_working_set_bytes", {**base, "container": "POD"}, t, 1 * MIB)
        w.add("process_resident_memory_bytes", base, t, app * 1.04)
        w.add("process_start_time_seconds", base, t, start)


def _python(w: Writer, rng: random.Random, ns: str, track: Track, pod: str) -> None:
    version = track.python[track.pod_names().index(pod) % len(track.python)]
    major, minor, patch = version.split(".")
    labels = {
        "namespace": ns,
        "pod": pod,
        "implementation": "CPython",
        "major": major,
        "minor": minor,
        "patchlevel": patch,
        "version": version,
    }
    for t in _scrapes(rng, ANCHOR - track.started):
        w.add("python_info", labels, t, 1)


def _db(w: Writer, rng: random.Random, track: Track) -> None:
    """Server-side connections as the query file reports them (scraped from the exporter's own pod)."""
    labels = {"namespace": "db", "pod": "postgres-exporter-5d8f7c9b4-q2x7z", "application_name": track.deployment}
    level = track.db
    for t in _scrapes(rng, ANCHOR - track.started):
        level += 0.15 * (track.db - level) + rng.gauss(0, 1.0)  # pools grow and shrink with load
        creep = track.db_creep * (t - (ANCHOR - track.started))
        w.add("greenlane_pg_connections_count", labels, t, max(0, round(level + creep)))


def render(scenarios: list[Scenario], seed: int = 1) -> str:
    w = Writer()
    for scenario in scenarios:
        rng = random.Random(f"{seed}/{scenario.namespace}")
        for track in (scenario.blue, scenario.green):
            for pod in track.pod_names():
                _http(w, rng, scenario.namespace, track, pod)
                _memory(w, rng, scenario.namespace, track, pod)
                _python(w, rng, scenario.namespace, track, pod)
            _db(w, rng, track)
        for name, value in scenario.extra.items():
            for pod in scenario.blue.pod_names() + scenario.green.pod_names():
                for t in _scrapes(rng, ANCHOR - DURATION):
                    w.add(name, {"namespace": scenario.namespace, "pod": pod}, t, value)
    return w.text()
