"""A Prometheus stand-in for the scale bench: answers greenlane's queries with per-pod series and counts them.

Only as much PromQL as greenlane sends: the grouped queries of ``controller/analysis/batch.py`` (parts joined
by ``or`` and tagged ``greenlane_part``, tracks selected by one pod regex and grouped by
``greenlane_track``), the per-track form of the same templates (custom queries, unbatched mode), and
``time()``. Values are those of a healthy fleet: blue and green alike, enough requests (latency as the
default histogram buckets' counts of a log-normal), flat memory, the right Python on each track.
``POST /_bench/breach {"tracks": [...], "factor": 5}`` makes those tracks'
latency ``factor`` times blue's from then on; ``/_bench/stats`` reports queries by kind and, per breached
track, when a failing value was first served.

Track names are ``<deployment>-<hash>``; deployments are ``app-<index>`` and ``app-<index>-py312`` in
namespace ``bench-<index>`` (how the bench names them), which is how a track maps to its namespace.

Run: ``python -m tests.bench.fakeprom --ready-file PATH`` (``FAKEPROM_LOG=PATH`` logs every instant query).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

Json = dict[str, Any]
LATENCY = 0.120
REQUESTS = 5000.0
MEMORY = 200 * 2**20
DB = 12.0
PODS = 2
_PART = re.compile(r'"greenlane_part", "(\d+)"')
_TRACKS = re.compile(r'pod=~"\(\?:([^)]*)\)-\[a-z0-9\]\{5\}"')
_APPS = re.compile(r'application_name=~"([^"]*)"')
_ONE_POD = re.compile(r'pod=~"([a-z0-9-]+)-\[a-z0-9\]\{5\}"')
_INDEX = re.compile(r"app-(\d+)")
_WINDOW = re.compile(r"\[(\d+)s\]")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)
"""Prometheus client libraries' default histogram buckets."""
SIGMA = 0.5
"""Log-normal spread of request durations: p99 is about 3.2x the median."""


def bucket_counts(p99: float, requests: float) -> list[tuple[str, float]]:
    """Cumulative request counts per ``le`` of a log-normal whose 99th percentile is ``p99``."""
    median = p99 / math.exp(2.326 * SIGMA)
    out = []
    for edge in BUCKETS:
        share = 1.0 if math.isinf(edge) else 0.5 * (1 + math.erf(math.log(edge / median) / (SIGMA * math.sqrt(2))))
        out.append(("+Inf" if math.isinf(edge) else repr(edge), float(round(requests * share))))
    return out


def namespace_of(track: str) -> str:
    match = _INDEX.match(track)
    return f"bench-{match.group(1)}" if match else "default"


class Prom:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.breached: dict[str, float] = {}
        self.factor = 5.0
        self.seen_failing: dict[str, float] = {}

    def latency(self, track: str, at: float) -> float:
        since = self.breached.get(track)
        if since is not None and at >= since:
            self.seen_failing.setdefault(track, time.time())
            return LATENCY * self.factor
        return LATENCY

    # ---- answers ----------------------------------------------------------------------------------
    def instant(self, query: str, at: float) -> Json:
        if query.strip() == "time()":
            self.counts["time"] += 1
            return {"resultType": "scalar", "result": [at, str(time.time())]}
        grouped = "greenlane_track" in query or "(?:" in query or "application_name=~" in query
        self.counts["grouped" if grouped else "per-track"] += 1
        if not grouped:
            return self._per_track(query, at)
        parts = query.split(" or label_replace(") if _PART.search(query) else [query]
        result: list[Json] = []
        for index, part in enumerate(parts):
            tag = {"greenlane_part": str(index)} if len(parts) > 1 else {}
            result += self._part(part, at, tag)
        kind = "matrix" if any("values" in r for r in result) else "vector"
        return {"resultType": kind, "result": result}

    def _part(self, part: str, at: float, tag: dict[str, str]) -> list[Json]:
        if _APPS.search(part):
            apps = _APPS.search(part).group(1).split("|")  # type: ignore[union-attr]
            return [
                self._raw({"__name__": "greenlane_pg_connections_count", "application_name": a}, DB, part, at)
                for a in apps
            ]
        tracks = _TRACKS.search(part).group(1).split("|") if _TRACKS.search(part) else []  # type: ignore[union-attr]
        out: list[Json] = []
        for track in tracks:
            group = {"namespace": namespace_of(track), "greenlane_track": track, **tag}
            out += self._series(part, track, group, at)
        return out

    def _series(self, part: str, track: str, group: dict[str, str], at: float) -> list[Json]:
        pods = [f"{track}-p{i:04d}" for i in range(PODS)]
        if "http_request_duration_seconds_bucket" in part:
            return [_vector({**group, "le": le}, n, at) for le, n in bucket_counts(self.latency(track, at), REQUESTS)]
        if "histogram_quantile" in part:
            return [_vector(group, self.latency(track, at), at)]
        if "http_request_duration_seconds_count" in part or ("http_requests_total" in part and "status=~" not in part):
            return [_vector(group, REQUESTS, at)]
        if "http_requests_total" in part:
            return [_vector(group, 0.0, at)]
        if "process_start_time_seconds" in part:
            return [_vector(group, at - 7200, at)]
        if "python_info" in part:
            version = "3.12.4" if "-py312-" in track else "3.11.9"
            labels = {
                "__name__": "python_info",
                "version": version,
                **{k: v for k, v in group.items() if k != "greenlane_track"},
            }
            return [_vector({**labels, "pod": pod}, 1.0, at) for pod in pods]
        base = {"namespace": group["namespace"], "container": "app"}
        name = "container_memory_working_set_bytes" if "container_memory" in part else "process_resident_memory_bytes"
        return [self._raw({"__name__": name, **base, "pod": pod}, MEMORY, part, at) for pod in pods]

    @staticmethod
    def _raw(labels: dict[str, str], value: float, query: str, at: float) -> Json:
        window = int(_WINDOW.search(query).group(1)) if _WINDOW.search(query) else 300  # type: ignore[union-attr]
        step = 15
        points = [[at - t, str(value)] for t in range(window - step, -1, -step)]
        return {"metric": labels, "values": points}

    def _per_track(self, query: str, at: float) -> Json:
        """Custom queries and unbatched templates: one value (latency of the track when it is a latency)."""
        one = _ONE_POD.search(query)
        track = one.group(1) if one else ""
        if track and ("python_info" in query or query.rstrip().endswith("s]")):
            group = {"namespace": namespace_of(track), "greenlane_track": track}
            series = self._series(query, track, group, at)
            kind = "matrix" if any("values" in r for r in series) else "vector"
            return {"resultType": kind, "result": series}
        if "http_request_duration_seconds_bucket" in query:
            counts = bucket_counts(self.latency(track, at), REQUESTS)
            return {"resultType": "vector", "result": [_vector({"le": le}, n, at) for le, n in counts]}
        if "histogram_quantile" in query:
            value = self.latency(track, at)
        elif "_count" in query or ("http_requests_total" in query and "status" not in query):
            value = REQUESTS
        else:
            value = 0.0
        return {"resultType": "vector", "result": [_vector({}, value, at)]}


def log_query(query: str, at: float) -> None:
    """``FAKEPROM_LOG=PATH``: append each instant query (wall time, evaluation time, text) to PATH, to see what
    a round asks (which windows, which tracks, which top-ups)."""
    path = os.environ.get("FAKEPROM_LOG")
    if path:
        with open(path, "a") as out:
            out.write(f"{time.time():.1f}\t{at}\t{query}\n")


def _vector(labels: dict[str, str], value: float, at: float) -> Json:
    return {"metric": labels, "value": [at, repr(float(value))]}


def app() -> web.Application:
    prom = Prom()

    async def params(request: web.Request) -> dict[str, str]:
        merged = {k: v for k, v in request.query.items()}
        if request.method == "POST":
            merged.update({k: v[0] for k, v in parse_qs(await request.text()).items()})
        return merged

    async def query(request: web.Request) -> web.Response:
        args = await params(request)
        at = float(args.get("time") or time.time())
        log_query(args["query"], at)
        return web.json_response({"status": "success", "data": prom.instant(args["query"], at)})

    async def query_range(request: web.Request) -> web.Response:
        args = await params(request)
        prom.counts["range"] += 1
        end, step = float(args["end"]), float(args.get("step", "15"))
        values = [[t, repr(0.0)] for t in _steps(float(args["start"]), end, step)]
        return web.json_response(
            {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}}
        )

    async def breach(request: web.Request) -> web.Response:
        body = await request.json()
        prom.factor = float(body.get("factor", 5.0))
        for track in body["tracks"]:
            prom.breached[track] = time.time()
        return web.json_response({})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"counts": dict(prom.counts), "seen_failing": prom.seen_failing})

    application = web.Application(client_max_size=64 * 1024**2)
    for path, handler in (("/api/v1/query", query), ("/api/v1/query_range", query_range)):
        application.router.add_get(path, handler)
        application.router.add_post(path, handler)
    application.router.add_post("/_bench/breach", breach)
    application.router.add_get("/_bench/stats", stats)
    return application


def _steps(start: float, end: float, step: float) -> list[float]:
    out, t = [], start
    while t <= end:
        out.append(t)
        t += step
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready-file", type=Path, required=True)
    args = parser.parse_args()

    async def serve() -> None:
        runner = web.AppRunner(app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        args.ready_file.write_text(f"http://127.0.0.1:{runner.addresses[0][1]}")
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
