"""Shared helpers for tests that run real servers: dependency policy, polling, Prometheus queries."""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from controller.sandbox.errors import MissingDependencyError

T = TypeVar("T")


def require(find: Callable[[], T]) -> T:
    """Missing servers fail the test with the install hint (CI installs them); skipping is opt-in."""
    try:
        return find()
    except MissingDependencyError as exc:
        if os.environ.get("GREENLANE_ALLOW_SKIP") == "1":
            pytest.skip(str(exc))
        pytest.fail(f"{exc}\n(set GREENLANE_ALLOW_SKIP=1 to skip instead of failing)", pytrace=False)


def wait_until(
    fetch: Callable[[], T],
    until: Callable[[T], bool] = bool,
    *,
    timeout_s: float,
    what: str,
    every_s: float = 0.25,
) -> T:
    """Polls real servers until ``until(fetch())`` holds and returns that value; bounded, clear failure."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = fetch()
        if until(last):
            return last
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")


def prom_query(base_url: str, promql: str, at: float | None = None) -> list[dict[str, Any]]:
    """Instant query (at unix time ``at``, default now); returns the ``result`` vector (``metric``, ``value``)."""
    params = {"query": promql} if at is None else {"query": promql, "time": repr(at)}
    url = f"{base_url}/api/v1/query?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.loads(resp.read())
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def prom_value(base_url: str, promql: str) -> float | None:
    """The single value of a scalar-like query, None when there is no series yet."""
    result = prom_query(base_url, promql)
    return float(result[0]["value"][1]) if result else None


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """An app's /metrics as ``{(sample name, sorted labels): value}``."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def http_json(url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def child_pids() -> set[int]:
    """Live (non-zombie) children of this test process, read from /proc."""
    me, found = os.getpid(), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def pid_alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"
