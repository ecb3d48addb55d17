"""Figures of the churn soak (``make bench-soak``): samples per cycle, quartile means, slopes, snapshot diffs.

Why slopes and not "first half against second half": an operator's RSS rises while the allocator and the
caches warm up and then stays on a plateau; a leak keeps rising at a rate proportional to the rollouts churned.
The second half's least-squares slope, in MiB per 1,000 rollouts created and deleted, separates the two (a
plateau's slope is noise around 0), and the last quartile's mean against the first says how much the warm-up
was. The same is done for the ``/metrics`` series count and the informer caches' objects, which must come
back to their starting values once the churned rollouts are gone.
"""

from __future__ import annotations

import json
import statistics
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Sample:
    cycle: int
    churned: int
    """Rollouts created and deleted (finalizer released, object gone) so far."""
    seconds: float
    rss_mib: float
    series: int
    """Sample lines on /metrics."""
    rollout_series: int
    """Of which labelled with a rollout (those must leave with their rollout)."""
    exported_rollouts: int
    """Distinct rollouts with at least one series: after the churn, the standing fleet's count again."""
    cache: dict[str, int] = field(default_factory=dict)
    """greenlane_cache_objects by kind."""
    cache_bytes: int = 0
    queue: int = 0


def metric_samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of a /metrics page as (name, labels, value), parsed by prometheus_client."""
    return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]


def parse_metrics(text: str) -> tuple[int, int, int, dict[str, int], int, int]:
    """(series, per-rollout series, distinct rollouts, cache objects by kind, cache bytes, queue depth)."""
    samples = metric_samples(text)
    per_rollout = [labels for _, labels, _ in samples if "rollout" in labels]
    rollouts = {labels.get("namespace", "") + "/" + labels["rollout"] for labels in per_rollout}
    cache = {labels["kind"]: int(v) for name, labels, v in samples if name == "greenlane_cache_objects"}
    cache_bytes = sum(int(v) for name, _, v in samples if name == "greenlane_cache_bytes")
    queue = sum(int(v) for name, _, v in samples if name == "greenlane_workqueue_depth")
    return len(samples), len(per_rollout), len(rollouts), cache, cache_bytes, queue


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """Means of the first and the last quarter of ``values`` (at least one value each)."""
    quarter = max(1, len(values) // 4)
    return statistics.fmean(values[:quarter]), statistics.fmean(values[-quarter:])


def slope_per_thousand(samples: Sequence[Sample], value: str) -> float:
    """Least-squares slope of ``value`` over the second half, per 1,000 rollouts churned (nan: too few)."""
    half = list(samples[len(samples) // 2 :])
    xs = [s.churned / 1000 for s in half]
    if len(half) < 3 or len(set(xs)) < 2:
        return float("nan")
    return float(statistics.linear_regression(xs, [float(getattr(s, value)) for s in half]).slope)


def summary(samples: Sequence[Sample], before: Sample, after: Sample, fleet_rate: float, warmup: int) -> list[str]:
    """The soak's report lines; ``before`` is sampled before the first cycle, ``after`` once all are deleted.

    Quartiles and slopes leave out the first ``warmup`` cycles, while the churned population builds up."""
    last = samples[-1]
    hours = last.churned / fleet_rate if fleet_rate > 0 else float("nan")
    rate = last.churned / (last.seconds / 3600) if last.seconds > 0 else float("nan")
    lines = [
        f"churned {last.churned:,} rollouts (created, reconciled, deleted) in {last.seconds / 60:.1f} min over "
        f"{len(samples)} cycles: {rate:,.0f} rollouts/hour, i.e. {last.churned:,} rollouts ≈ {hours:,.1f} hours "
        f"of a fleet creating and deleting {fleet_rate:,.0f} rollouts/hour",
    ]
    steady = samples[warmup:] if len(samples) > warmup else samples
    lines.append(f"steady churn (constant population) from cycle {samples.index(steady[0]) + 1}:")
    for label, value, unit in (
        ("RSS", "rss_mib", "MiB"),
        ("/metrics series", "series", ""),
        ("cache bytes", "cache_bytes", ""),
    ):
        first, final = quartiles([float(getattr(s, value)) for s in steady])
        lines.append(
            f"  {label}: first quartile mean {first:,.1f}{unit and ' ' + unit}, last quartile mean {final:,.1f}"
            f"{unit and ' ' + unit}; second-half slope {slope_per_thousand(steady, value):+,.2f}"
            f"{unit and ' ' + unit} per 1,000 rollouts churned"
        )
    lines.append(
        f"before churn -> after the last deletion: RSS {before.rss_mib:.1f} -> {after.rss_mib:.1f} MiB, "
        f"series {before.series:,} -> {after.series:,} (per rollout {before.rollout_series:,} -> "
        f"{after.rollout_series:,}, of {before.exported_rollouts:,} -> {after.exported_rollouts:,} rollouts), "
        f"cache bytes {before.cache_bytes:,} -> {after.cache_bytes:,}, "
        f"queue {before.queue} -> {after.queue}"
    )
    kinds = sorted(set(before.cache) | set(after.cache))
    lines.append(
        "cache objects before -> after: "
        + ", ".join(f"{k} {before.cache.get(k, 0):,} -> {after.cache.get(k, 0):,}" for k in kinds)
    )
    return lines


def snapshot_diff(directory: Path, first: int, second: int, top: int = 12) -> list[str]:
    """What grew between the operator's memory snapshots ``first`` and ``second`` (see controller/kube/memdebug.py)."""
    old = tracemalloc.Snapshot.load(str(directory / f"snapshot-{first}.tracemalloc"))
    new = tracemalloc.Snapshot.load(str(directory / f"snapshot-{second}.tracemalloc"))
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    ]
    stats = new.filter_traces(ignore).compare_to(old.filter_traces(ignore), "traceback")
    lines = [f"tracemalloc: snapshot {first} -> {second}, largest growth by allocation site (traceback):"]
    for stat in stats[:top]:
        recent = list(reversed(stat.traceback))[:4]  # a Traceback runs oldest to newest: the allocation site first
        frames = [f"{f.filename.rsplit('/site-packages/', 1)[-1]}:{f.lineno}" for f in recent]
        lines.append(f"  {stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks  {' < '.join(frames)}")
    types_old = json.loads((directory / f"types-{first}.json").read_text())
    types_new = json.loads((directory / f"types-{second}.json").read_text())
    grown = sorted(((n - types_old.get(t, 0), t) for t, n in types_new.items()), reverse=True)[:top]
    lines.append("live objects per type, largest growth: " + ", ".join(f"{t} {d:+,}" for d, t in grown))
    return lines
