"""Metrics of the operator's own machinery at scale: shards, caches, the work queue, the write budget,
batched Prometheus queries, and what a reconcile costs in CPU.

Kept apart from ``metrics.py`` (the rollouts' own series, which dashboards and alerts read) and registered
on the same registry. Sizes are read when ``/metrics`` is scraped (a collector), so nothing polls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CPU_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0)


class ScaleMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.reconcile_cpu = Histogram(
            "greenlane_reconcile_cpu_seconds",
            "CPU time of one reconcile in its worker thread (in-process cost, network waits excluded).",
            buckets=CPU_BUCKETS,
            registry=r,
        )
        self.shard_reconciles = Counter(
            "greenlane_shard_reconciles_total",
            "Reconciles by shard and result (ok, error).",
            ["shard", "result"],
            registry=r,
        )
        self.write_wait = Histogram(
            "greenlane_api_write_wait_seconds",
            "Seconds an API write waited for the client-side rate limiter, by priority.",
            ["priority"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.prometheus_queries = Counter(
            "greenlane_prometheus_queries_total",
            "Queries sent to Prometheus for evaluations: grouped (one per template and round), "
            "topup (tracks new in a round), passthrough (custom queries, sent per rollout).",
            ["kind"],
            registry=r,
        )

    def observe(
        self,
        sizes: Callable[[], Mapping[str, tuple[int, int]]],
        owned: Callable[[], set[int]],
        rollouts_per_shard: Callable[[], Mapping[int, int]],
        queue: Callable[[], Mapping[str, int]],
        relists: Callable[[], Mapping[str, int]],
        registry: CollectorRegistry,
    ) -> None:
        """Export sizes read at scrape time."""
        registry.register(_Sizes(sizes, owned, rollouts_per_shard, queue, relists))


class _Sizes(Collector):
    def __init__(
        self,
        sizes: Callable[[], Mapping[str, tuple[int, int]]],
        owned: Callable[[], set[int]],
        rollouts_per_shard: Callable[[], Mapping[int, int]],
        queue: Callable[[], Mapping[str, int]],
        relists: Callable[[], Mapping[str, int]],
    ) -> None:
        self._sizes, self._owned, self._per_shard, self._queue, self._relists = (
            sizes,
            owned,
            rollouts_per_shard,
            queue,
            relists,
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # sizes are only known at scrape time

    def collect(self) -> Iterator[GaugeMetricFamily]:
        objects = GaugeMetricFamily("greenlane_cache_objects", "Objects held in the informer caches.", labels=["kind"])
        size = GaugeMetricFamily(
            "greenlane_cache_bytes", "Bytes of trimmed JSON in the informer caches.", labels=["kind"]
        )
        for kind, (count, nbytes) in sorted(self._sizes().items()):
            objects.add_metric([kind], count)
            size.add_metric([kind], nbytes)
        yield objects
        yield size
        owned = self._owned()
        per_shard = self._per_shard()
        held = GaugeMetricFamily("greenlane_shard_owned", "1 for each shard this replica serves now.", labels=["shard"])
        known = GaugeMetricFamily(
            "greenlane_shard_rollouts", "Rollouts per shard known to this replica.", labels=["shard"]
        )
        for shard in sorted(set(per_shard) | owned):
            held.add_metric([str(shard)], 1.0 if shard in owned else 0.0)
            known.add_metric([str(shard)], per_shard.get(shard, 0))
        yield held
        yield known
        depth = GaugeMetricFamily("greenlane_workqueue_depth", "Rollouts scheduled, by priority.", labels=["priority"])
        for priority, count in sorted(self._queue().items()):
            depth.add_metric([priority], count)
        yield depth
        lists = GaugeMetricFamily(
            "greenlane_watch_lists",
            "Full lists per watch since start (1 unless a watch expired: 410).",
            labels=["watch"],
        )
        for watch, count in sorted(self._relists().items()):
            lists.add_metric([watch], count)
        yield lists
