"""Synthetic scrapes of many whole rollouts for the judgement bench, as OpenMetrics text for promtool.

Every rollout is its own namespace with its own Deployments (``b<id>``, ``g<id>``), all on one shared
timeline: green takes traffic at ``START``. Traffic depends on the weight, and the weight on decisions
not yet made, so each step gets its own traffic series: pods ``...-s<step>aaa`` carry the requests the
track serves *at that step's weight*, over the whole time the step could run. The walker selects the
current step's pods; a step's evidence starts when its weight is verified, so a series never shows
requests from another weight. Gauges (memory per pod, connections per track) do not depend on the weight
and run continuously; blue's start an hour early, as a long-running blue's do.

Realistic where judgement cares: 30 s scrapes with +-1.5 s jitter, Poisson request counts over
prometheus_client's default buckets, a log-normal latency whose p99 sits anywhere between two of them, a
garbage-collected heap (sawtooth) on a startup ramp, pool connections that wander with load.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import IO

from tests.analysis.traces import poisson

START = 1_700_000_000.0
"""Green first takes traffic here (the walker verifies step 1's weight at this instant)."""
SCRAPE = 30.0
JITTER = 1.5
BLUE_HISTORY = 125 * 60.0
GREEN_POD_LEAD = 90.0
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
SIGMA = 0.45
MIB = 2.0**20
HASH = "5c8d7f9b6"
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Fault:
    """What green does differently from blue."""

    p99_scale: float = 1.0
    tail: tuple[float, float] = (0.0, 0.0)
    """(share of requests, seconds added to them)."""
    error_ratio: float = 0.001
    leak: float = 0.0
    """Bytes per hour per pod."""
    creep: float = 0.0
    """Connections per hour, whole track."""


@dataclass(frozen=True)
class Rollout:
    ident: str
    rps: float
    kind: str
    fault: Fault
    blue_p99: float
    weights: tuple[int, ...]
    earliest: tuple[float, ...]
    """Earliest start of each step, seconds after START."""
    end: float
    """Seconds after START the traces run to."""

    @property
    def namespace(self) -> str:
        return f"r{self.ident}"

    def deployment(self, track: str) -> str:
        return f"{track}{self.ident}"

    def pods(self, track: str, step: int) -> str:
        """Regex of a track's pods the walker judges at ``step`` (0-based): gauge pods and that step's traffic."""
        return f"{self.deployment(track)}-{HASH}-(m0aaa|m1aaa|s{step}aaa)"


def bucket_shares(p99: float, tail: tuple[float, float] = (0.0, 0.0)) -> list[float]:
    """Share of requests in each bucket (the last is +Inf) for a log-normal latency, maybe with a slow tail."""
    mu = math.log(p99) - 2.326 * SIGMA

    def cdf(x: float, shift: float = 0.0) -> float:
        y = x - shift
        return 0.0 if y <= 0 else _NORMAL.cdf((math.log(y) - mu) / SIGMA)

    share, extra = tail
    edges = [*BUCKETS, math.inf]
    cum = [(1 - share) * cdf(e) + share * cdf(e, extra) if math.isfinite(e) else 1.0 for e in edges]
    return [b - a for a, b in zip([0.0, *cum[:-1]], cum, strict=True)]


def _scrapes(rng: random.Random, start: float, end: float) -> Iterator[float]:
    t = start + rng.uniform(0, SCRAPE)
    while t < end:
        yield round(t + rng.uniform(-JITTER, JITTER), 3)
        t += SCRAPE


class Families:
    """One temporary file per metric family (promtool wants each family contiguous), joined at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files: dict[str, IO[str]] = {}

    def write(self, name: str, labels: str, t: float, value: float) -> None:
        handle = self.files.get(name)
        if handle is None:
            handle = self.files[name] = (self.directory / f"{name}.om").open("w")
        handle.write(f"{name}{{{labels}}} {value:.10g} {t:.3f}\n")

    def join(self, target: Path) -> None:
        with target.open("w") as out:
            for name, handle in self.files.items():
                handle.close()
                out.write(f"# TYPE {name} gauge\n")
                with (self.directory / f"{name}.om").open() as part:
                    for line in part:
                        out.write(line)
            out.write("# EOF\n")


def _traffic(w: Families, rng: random.Random, r: Rollout, track: str, step: int) -> None:
    weight = r.weights[step] if track == "g" else 100 - r.weights[step]
    if weight <= 0:
        return
    fault = r.fault if track == "g" else Fault()
    shares = bucket_shares(r.blue_p99 * fault.p99_scale, fault.tail)
    rate = r.rps * weight / 100
    labels = f'namespace="{r.namespace}",pod="{r.deployment(track)}-{HASH}-s{step}aaa"'
    counts = [0] * len(shares)
    ok = err = 0
    prev = None
    begin = START + max(r.earliest[step] - 120.0, -120.0)
    for t in _scrapes(rng, begin, START + r.end):
        dt = SCRAPE if prev is None else t - prev
        prev = t
        new = 0
        for i, share in enumerate(shares):
            c = poisson(rng, rate * dt * share)
            counts[i] += c
            new += c
        e = min(poisson(rng, new * fault.error_ratio), new)
        err, ok = err + e, ok + new - e
        cum = 0
        for le, c in zip([*BUCKETS, math.inf], counts, strict=True):
            cum += c
            bound = "+Inf" if math.isinf(le) else f"{le:g}"
            w.write("http_request_duration_seconds_bucket", f'{labels},le="{bound}"', t, cum)
        w.write("http_requests_total", f'{labels},status="200"', t, ok)
        w.write("http_requests_total", f'{labels},status="503"', t, err)


def _memory(w: Families, rng: random.Random, r: Rollout, track: str, pod: int) -> None:
    start = START - (BLUE_HISTORY if track == "b" else GREEN_POD_LEAD)
    base, leak = (200 * MIB, 0.0) if track == "b" else (250 * MIB, r.fault.leak / 3600)
    labels = f'namespace="{r.namespace}",pod="{r.deployment(track)}-{HASH}-m{pod}aaa",container="app"'
    next_gc = start + rng.uniform(60, 120)
    for t in _scrapes(rng, start, START + r.end):
        while t >= next_gc:
            next_gc += rng.uniform(60, 120)
        heap = 6 * MIB * (1 - (next_gc - t) / 120)
        age = t - start
        value = base * (1 - 0.35 * math.exp(-age / 20)) + leak * age + heap + rng.gauss(0, 0.4 * MIB)
        w.write("container_memory_working_set_bytes", labels, t, value)


def _connections(w: Families, rng: random.Random, r: Rollout, track: str) -> None:
    start = START - (BLUE_HISTORY if track == "b" else GREEN_POD_LEAD)
    creep = r.fault.creep / 3600 if track == "g" else 0.0
    labels = f'namespace="db",pod="postgres-exporter-5d8f7c9b4-q2x7z",application_name="{r.deployment(track)}"'
    level = 12.0
    for t in _scrapes(rng, start, START + r.end):
        level += 0.15 * (12.0 - level) + rng.gauss(0, 1.0)
        w.write("greenlane_pg_connections_count", labels, t, max(0, round(level + creep * (t - start))))


def write(rollouts: list[Rollout], target: Path, seed: int) -> int:
    """Write every rollout's scrapes to ``target``; returns how many rollouts were written."""
    families = Families(target.parent)
    for r in rollouts:
        rng = random.Random(f"{seed}/{r.ident}")
        for track in ("b", "g"):
            for step in range(len(r.weights)):
                _traffic(families, rng, r, track, step)
            for pod in (0, 1):
                _memory(families, rng, r, track, pod)
            _connections(families, rng, r, track)
    families.join(target)
    return len(rollouts)
