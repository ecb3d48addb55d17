"""Batched Prometheus against the real, backfilled one: the same CheckResults as unbatched, in far fewer queries.

Every scenario of issue 4 lives in its own namespace of one Prometheus; evaluating all of them through one
``BatchingSource`` at the same instant is one evaluation round of a fleet. The judge must receive exactly
what it receives unbatched (CheckResults compared field by field, floats bit for bit), while the queries
sent grow with the templates in use, not with the number of rollouts.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pytest

from controller.analysis import PrometheusSource, default_pods_regex, evaluate, latest_pod_start, python_versions
from controller.analysis.batch import BatchingSource, family_of, template_queries
from controller.analysis.source import QueryRejected, Series, SourceUnavailable
from controller.core.results import CheckResult
from controller.model.resource import BlueGreenRollout
from tests.analysis.scenarios import SCENARIOS, manifest
from tests.analysis.traces import ANCHOR, Scenario

pytestmark = pytest.mark.prometheus
CHECKS: list[dict[str, Any]] = [
    {"name": "p99-latency", "template": "latency", "quantile": 0.99, "maxRatioToBlue": 1.10, "minRequests": 100},
    {"name": "p50-latency", "template": "latency", "quantile": 0.5, "maxRatioToBlue": 1.10, "window": "10m"},
    {"name": "errors", "template": "error-rate", "max": 0.01, "minRequests": 200},
    {"name": "memory", "template": "memory", "maxRatioToBlue": 1.30, "maxSlopeOverBlue": "20Mi/h"},
    {"name": "rss", "template": "memory", "source": "process", "maxRatioToBlue": 1.30},
    {"name": "db-connections", "template": "db-connections", "max": 80, "maxSlopeOverBlue": "20/h"},
    {"name": "python", "template": "python-version"},
    {"name": "restarts", "query": 'sum(gunicorn_worker_restarts_total{namespace="{{ namespace }}"})', "max": 1},
]


class Counting:
    """A MetricSource that counts what reaches Prometheus."""

    def __init__(self, inner: PrometheusSource) -> None:
        self.inner = inner
        self.queries: list[str] = []
        self._lock = threading.Lock()

    def instant(self, query: str, at: float) -> list[Series]:
        with self._lock:
            self.queries.append(query)
        return self.inner.instant(query, at)

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        with self._lock:
            self.queries.append(query)
        return self.inner.range(query, start, end, step)


@pytest.fixture
def counting(source: PrometheusSource) -> Iterator[Counting]:
    yield Counting(source)


def judge(source: Any, scenario: Scenario, at: float, weight: int | None = 25) -> list[CheckResult]:
    spec = BlueGreenRollout.model_validate(manifest(scenario, CHECKS)).spec
    return evaluate(
        spec,
        source,
        namespace=scenario.namespace,
        at=at,
        blue_pods=default_pods_regex(scenario.blue.deployment, scenario.blue.hash),
        green_pods=default_pods_regex(scenario.green.deployment, scenario.green.hash),
        green_weight=weight,
    )


def exactly(results: list[CheckResult]) -> list[dict[str, Any]]:
    """Field by field, floats by their bits (``repr`` round-trips; NaN compares equal to itself)."""
    return [{k: repr(v) if isinstance(v, float) else v for k, v in asdict(r).items()} for r in results]


@pytest.mark.parametrize("at", [ANCHOR, ANCHOR - 600.0, ANCHOR - 2700.0])
def test_batched_and_unbatched_give_identical_check_results(source: PrometheusSource, at: float) -> None:
    unbatched = {s.namespace: judge(source, s, at) for s in SCENARIOS}
    unbatched_missing = {s.namespace: judge(source, s, at, weight=None) for s in SCENARIOS}
    counting = Counting(source)
    batched_source = BatchingSource(counting)
    batched = {s.namespace: judge(batched_source, s, at) for s in SCENARIOS}
    batched_missing = {s.namespace: judge(batched_source, s, at, weight=None) for s in SCENARIOS}
    for namespace, expected in unbatched.items():
        assert exactly(batched[namespace]) == exactly(expected), namespace
        assert exactly(batched_missing[namespace]) == exactly(unbatched_missing[namespace]), namespace
    verdicts = Counter(r.verdict for both in (unbatched, unbatched_missing) for rs in both.values() for r in rs)
    assert verdicts["Fail"] and verdicts["Pass"] and verdicts["Inconclusive"], "the comparison must cover each verdict"


def test_queries_per_round_grow_with_templates_not_rollouts(source: PrometheusSource) -> None:
    """Round 1 sends a query per template the first time a track appears (top-ups); round 2, fully known, not."""
    counting = Counting(source)
    batched = BatchingSource(counting)
    for s in SCENARIOS:
        judge(batched, s, ANCHOR)
    counting.queries.clear()
    for s in SCENARIOS:
        judge(batched, s, ANCHOR + 30.0)
    custom = [q for q in counting.queries if "gunicorn_worker_restarts_total" in q]
    grouped = [q for q in counting.queries if q not in custom]
    templates = {(c.get("template"), c.get("source"), c.get("window"), c.get("quantile")) for c in CHECKS[:-1]}
    # Custom queries are sent as written, once per track asked (green, and blue when green has a value to show
    # beside it): never grouped across rollouts.
    assert len(SCENARIOS) <= len(custom) <= 2 * len(SCENARIOS), custom
    assert all("greenlane_track" not in q and "=~" not in q for q in custom), custom
    assert {q.split('namespace="')[1].split('"')[0] for q in custom} == {s.namespace for s in SCENARIOS}
    gauges = {k for k in templates if k[0] in ("memory", "db-connections")}  # + a long window for their noise
    assert 0 < len(grouped) <= len(templates) + len(gauges), "\n".join(
        re.sub(r'"[^"]{40,}"', '"…"', q) for q in grouped
    )
    assert all("greenlane_track" in q or '=~"(?:' in q or "application_name=~" in q for q in grouped), grouped
    unbatched = Counting(source)
    for s in SCENARIOS:
        judge(unbatched, s, ANCHOR + 30.0)
    assert len(counting.queries) * 3 < len(unbatched.queries), (len(counting.queries), len(unbatched.queries))


def test_pod_lookups_are_batched_and_identical(source: PrometheusSource) -> None:
    batched = BatchingSource(Counting(source))
    for s in SCENARIOS:
        for track in (s.blue, s.green):
            pods = default_pods_regex(track.deployment, track.hash)
            assert python_versions(batched, s.namespace, pods, ANCHOR) == python_versions(
                source, s.namespace, pods, ANCHOR
            )
            assert latest_pod_start(batched, s.namespace, pods, ANCHOR) == latest_pod_start(
                source, s.namespace, pods, ANCHOR
            )
    assert batched.stats.passthrough == 0 and batched.stats.answered == 4 * len(SCENARIOS)


def test_every_builtin_template_is_batched() -> None:
    unbatched = [t for t in template_queries() if family_of(t) is None]
    assert unbatched == [], "templates sent per track (the batch parser cannot regroup them)"


def test_pod_regexes_without_a_hash_and_custom_queries_pass_through(source: PrometheusSource) -> None:
    counting = Counting(source)
    batched = BatchingSource(counting)
    scenario = SCENARIOS[0]
    spec = BlueGreenRollout.model_validate(manifest(scenario, CHECKS)).spec
    evaluate(spec, batched, namespace=scenario.namespace, at=ANCHOR, green_weight=25)
    grouped = [q for q in counting.queries if '=~"' in q and "application_name=~" in q]
    assert all("application_name" in q for q in grouped), "only db-connections selects by name, not by pod"
    assert batched.stats.passthrough == len(counting.queries) - len(grouped) > 0


class Rejecting:
    """Prometheus that refuses grouped queries (a proxy with a query allowlist, say) but answers the rest."""

    def __init__(self, inner: PrometheusSource) -> None:
        self.inner = inner

    def instant(self, query: str, at: float) -> list[Series]:
        if "greenlane_track" in query or "(?:" in query:
            raise QueryRejected(query, 400, "bad_data", "grouping not allowed here")
        return self.inner.instant(query, at)

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        return self.inner.range(query, start, end, step)


def test_a_rejected_grouped_query_falls_back_to_the_tracks_own(source: PrometheusSource) -> None:
    batched = BatchingSource(Rejecting(source))
    scenario = SCENARIOS[0]
    assert exactly(judge(batched, scenario, ANCHOR)) == exactly(judge(source, scenario, ANCHOR))
    assert batched.stats.fallbacks > 0


class Down:
    def instant(self, query: str, at: float) -> list[Series]:
        raise SourceUnavailable("http://prometheus: cannot connect")

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        raise SourceUnavailable("http://prometheus: cannot connect")


def test_an_outage_is_an_outage_for_every_track() -> None:
    batched = BatchingSource(Down())
    results = judge(batched, SCENARIOS[0], ANCHOR)
    assert results and all(r.verdict == "Inconclusive" and r.outage for r in results)


def test_long_queries_are_posted_and_answer_the_same(source: PrometheusSource) -> None:
    """Batched queries name many tracks: past a URL's comfortable length they go as a form body."""
    from controller.analysis.prometheus import LONG_QUERY

    short = 'sum(increase(http_requests_total{namespace="shop"}[5m]))'
    long = short + " + 0" * (LONG_QUERY // 4 + 10)
    assert len(long) > LONG_QUERY
    assert source.instant(long, ANCHOR) == source.instant(short, ANCHOR)
    assert source.range(long, ANCHOR - 600, ANCHOR, 60) == source.range(short, ANCHOR - 600, ANCHOR, 60)


class Recording:
    """Answers nothing, remembers every query: which tracks each grouped query names."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def instant(self, query: str, at: float) -> list[Series]:
        self.queries.append(query)
        return []

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        self.queries.append(query)
        return []


def test_tracks_that_stop_asking_leave_the_grouped_queries() -> None:
    """Tracks of deleted or finished rollouts drop out after three of their own intervals (one minute at least)."""
    now = [0.0]
    inner = Recording()
    batched = BatchingSource(inner, monotonic=lambda: now[0])

    def ask(track: str, at: float) -> None:
        batched.instant('python_info{namespace="shop",pod=~"' + track + '-[a-z0-9]{5}"}', at)

    for t in (0.0, 30.0, 60.0):
        now[0] = t
        ask("alive-1a2b3c", t)
        if t < 60.0:
            ask("gone-4d5e6f", t)  # its rollout was deleted after t=30
    assert "gone-4d5e6f" in inner.queries[-1], "still within three of its intervals"
    for t in (90.0, 120.0, 150.0, 180.0):
        now[0] = t
        ask("alive-1a2b3c", t)
    assert "gone-4d5e6f" not in inner.queries[-1] and "alive-1a2b3c" in inner.queries[-1]


def test_a_window_growing_into_the_next_shared_span_needs_no_query_of_its_own() -> None:
    """Twenty steps of different ages, evaluated together every 30 s: each round asks one grouped query for
    every window in use, never a one-track top-up for a step whose evidence window just grew into the next
    span."""
    from controller.analysis.measure import TrackRef, variables
    from controller.analysis.plan import plan_for
    from controller.analysis.promql import render
    from controller.analysis.spans import shared_span
    from controller.model.spec import Check

    plan = plan_for(Check.model_validate({"name": "p99", "template": "latency", "maxRatioToBlue": 1.1}))
    assert plan.template is not None and plan.template.buckets is not None
    now = [0.0]
    inner = Recording()
    batched = BatchingSource(inner, monotonic=lambda: now[0])
    starts = [-70.0 - 23.0 * i for i in range(20)]  # steps 70 s to 507 s old at the first round
    sent_per_round = []
    for r in range(12):
        at = now[0] = 30.0 * r
        before = len(inner.queries)
        windows = set()
        for i, start in enumerate(starts):
            span = shared_span(at - start)
            windows.add(span)
            track = TrackRef("shop", f"app-{i}", f"app-{i}-5d9f8c7b6d-[a-z0-9]{{5}}", None)
            batched.instant(render(plan.template.buckets, variables(plan, track, span)), at)
        sent = inner.queries[before:]
        if r >= 1:  # the first round meets every track for the first time
            sent_per_round.append(len(sent))
            assert len(windows) > 2 and all(f"[{span:.0f}s]" in sent[0] for span in windows), (windows, sent[0])
    assert sent_per_round == [1] * len(sent_per_round), f"queries per round: {sent_per_round}"


def test_a_rounds_query_names_only_the_tracks_due_in_it() -> None:
    """Evaluations every 30 s in rounds of 10 s: each round's query carries the third of the tracks that ask in
    it, not every track ever interested; a track asking out of turn still gets its data (a top-up)."""
    now = [0.0]
    inner = Recording()
    batched = BatchingSource(inner, monotonic=lambda: now[0], wall=lambda: now[0], horizon=10.0)

    def ask(track: str, at: float) -> None:
        batched.instant('python_info{namespace="shop",pod=~"' + track + '-[a-z0-9]{5}"}', at)

    phases = {"a-1a2b3c": 0.0, "b-4d5e6f": 10.0, "c-7a8b9c": 20.0}
    for r in range(12):
        at = 10.0 * r
        now[0] = at + 2.0  # evaluations run within their round, a little after it begins
        sent = len(inner.queries)
        for track, phase in phases.items():
            if at % 30.0 == phase:
                ask(track, at)
        if r >= 6:  # periods known
            [query] = inner.queries[sent:]
            named = {t for t in phases if t in query}
            assert named == {t for t, p in phases.items() if at % 30.0 == p}, (at, query)
    now[0] = 125.0
    sent = len(inner.queries)
    ask("a-1a2b3c", 120.0)  # out of turn: its own query
    assert len(inner.queries) == sent + 1 and "a-1a2b3c" in inner.queries[-1]


def test_the_grouped_query_is_sent_and_split_off_the_callers_thread() -> None:
    """The round's answer (every track's series) is decoded on the batch's threads, not by the reconcile that
    happened to ask first; each window's part names only the tracks at that window."""
    threads: list[str] = []

    class Threads(Recording):
        def instant(self, query: str, at: float) -> list[Series]:
            threads.append(threading.current_thread().name)
            return super().instant(query, at)

    inner = Threads()
    batched = BatchingSource(inner)
    template = next(t for t in template_queries() if "http_requests_total" in t and "status" not in t)
    assert family_of(template) is not None
    for track, window in (("a-1a2b3c", "64s"), ("b-4d5e6f", "203s")):
        rendered = template.replace("{{ namespace }}", "shop").replace("{{ pods }}", f"{track}-[a-z0-9]{{5}}")
        batched.instant(rendered.replace("{{ window }}", window), 0.0)
    assert threads and threading.current_thread().name not in threads, threads
    batched.instant(rendered.replace("{{ window }}", "203s"), 30.0)  # round 2: both windows are known
    parts = inner.queries[-1].split(" or ")
    assert len(parts) >= 2, inner.queries[-1]
    at_64 = [p for p in parts if "[64s]" in p]
    at_203 = [p for p in parts if "[203s]" in p]
    assert at_64 and all("a-1a2b3c" in p and "b-4d5e6f" not in p for p in at_64), at_64
    assert at_203 and all("b-4d5e6f" in p and "a-1a2b3c" not in p for p in at_203), at_203
    batched.close()


def test_a_track_expected_just_after_the_rounds_end_is_in_it() -> None:
    """Evaluations run a little late, rarely early: a track expected within a second after the round's end (its
    period measured 30.5 s, so due 0.5 s after the round of 90 s) is in the round's query, not a top-up; one
    expected in the next round is not, however late in this round the first caller comes."""
    now = [0.0]
    inner = Recording()
    batched = BatchingSource(inner, monotonic=lambda: now[0], wall=lambda: now[0], horizon=10.0)

    def ask(track: str, at: float) -> None:
        batched.instant('python_info{namespace="shop",pod=~"' + track + '-[a-z0-9]{5}"}', at)

    for t in (9.0, 39.5, 70.0):  # period 30.5: next expected at 100.5
        now[0] = t
        ask("late-1a2b3c", t - t % 10)
    for t in (13.0, 43.5, 74.0):  # next expected at 104.5: the round of 100 s
        now[0] = t
        ask("next-4d5e6f", t - t % 10)
    now[0] = 96.0  # the round of 90 s; its first caller comes late in it
    sent = len(inner.queries)
    ask("first-7a8b9c", 90.0)
    assert "late-1a2b3c" in inner.queries[-1] and "next-4d5e6f" not in inner.queries[-1], inner.queries[-1]
    now[0] = 99.9
    ask("late-1a2b3c", 90.0)
    assert len(inner.queries) == sent + 1, "no top-up: the round's query had it"


def test_late_tracks_of_a_round_share_one_top_up() -> None:
    """Tracks the round's query could not foresee (a new step's first window, say) that ask while a top-up waits
    for a free sender join it: one query for all of them, not one each; each still receives its own series."""
    entered, release = threading.Event(), threading.Event()

    class Slow(Recording):
        def instant(self, query: str, at: float) -> list[Series]:
            if len(self.queries) == 1:  # the first top-up holds the only sender
                entered.set()
                release.wait(10.0)
            return super().instant(query, at)

    inner = Slow()
    batched = BatchingSource(inner, concurrency=1, horizon=10.0)
    batched.instant('python_info{namespace="shop",pod=~"known-1a2b3c-[a-z0-9]{5}"}', 100.0)  # the round's query
    errors: list[BaseException] = []

    def ask(track: str) -> None:
        try:
            batched.instant('python_info{namespace="shop",pod=~"' + track + '-[a-z0-9]{5}"}', 100.0)
        except BaseException as exc:  # reported below
            errors.append(exc)

    first = threading.Thread(target=ask, args=("late-0a1b2c",))
    first.start()
    assert entered.wait(10.0)
    late = [f"late{i}-4d5e6f" for i in range(5)]
    threads = [threading.Thread(target=ask, args=(t,)) for t in late]
    for thread in threads:
        thread.start()
    pending = batched._rounds[(100.0,)].pending

    def waiting() -> set[str]:
        return {t for f in list(pending)[1:] for tracks in list(f.parts.values()) for _, t in tracks}

    deadline = time.monotonic() + 10.0
    while waiting() != set(late) and time.monotonic() < deadline:  # every late track reached the waiting top-up
        time.sleep(0.01)
    release.set()
    for thread in [first, *threads]:
        thread.join(10.0)
    assert not errors, errors
    topups = inner.queries[1:]
    assert len(topups) == 2, topups  # the one holding the sender, and one for the five that waited
    assert all(t in topups[1] for t in late), topups
    batched.close()


def test_a_forecast_puts_a_tracks_first_ask_of_a_window_into_the_rounds_query() -> None:
    """A window a track never asked before (a new step, gauge evidence that just became sufficient, a step older
    than the check's window) is in the round's one query when the track's previous evaluation forecast it; an
    ask nobody forecast still costs a top-up, and a forecast for a later round stays out of this one."""
    from controller.analysis.measure import TrackRef, variables
    from controller.analysis.plan import plan_for
    from controller.analysis.promql import render
    from controller.model.spec import Check

    plan = plan_for(Check.model_validate({"name": "p99", "template": "latency", "maxRatioToBlue": 1.1}))
    assert plan.template is not None and plan.template.buckets is not None
    buckets = plan.template.buckets
    now = [0.0]
    inner = Recording()
    batched = BatchingSource(inner, monotonic=lambda: now[0], wall=lambda: now[0], horizon=10.0)

    def query(name: str, window: float) -> str:
        track = TrackRef("shop", name, f"{name}-5d9f8c7b6d-[a-z0-9]{{5}}", None)
        return render(buckets, variables(plan, track, window))

    for name in ("told", "untold", "later", "first"):
        batched.instant(query(name, 64.0), 0.0)
    batched.expect([query("told", 300.0)], due=31.0, period=30.0)
    batched.expect([query("later", 300.0)], due=41.0, period=30.0)
    now[0] = 31.0
    sent = len(inner.queries)
    batched.instant(query("first", 64.0), 30.0)
    [round_query] = inner.queries[sent:]
    at_300 = [p for p in round_query.split(" or ") if "[300s]" in p]
    assert at_300 and all("told-" in p and "later-" not in p for p in at_300), round_query
    batched.instant(query("told", 300.0), 30.0)
    assert len(inner.queries) == sent + 1, "the forecast track was in the round's query: no top-up"
    batched.instant(query("untold", 300.0), 30.0)
    assert len(inner.queries) == sent + 2 and "untold-" in inner.queries[-1], "not forecast: a top-up"
    assert batched.stats.topups == 3 + 1  # round 0 met four tracks, one asking first; then "untold"


def test_a_forecast_is_bounded_and_ignores_what_it_cannot_batch() -> None:
    """Forecasts come from the operator's own evaluation, yet: a NaN or negative time, a custom query, a query
    Prometheus already rejected grouped add nothing; a forecast far ahead is clamped, then forgotten."""
    inner = Recording()
    now = [0.0]
    batched = BatchingSource(inner, monotonic=lambda: now[0], wall=lambda: now[0], horizon=10.0)
    known = 'python_info{namespace="shop",pod=~"a-1a2b3c-[a-z0-9]{5}"}'
    for due, period in ((float("nan"), 30.0), (30.0, float("inf")), (30.0, 0.0), (30.0, -5.0)):
        batched.expect([known], due, period)
    batched.expect(['sum(gunicorn_worker_restarts_total{namespace="shop"})'], 30.0, 30.0)
    assert not batched._interest
    batched.expect([known], 1e300, 30.0)
    [(_, tracks)] = batched._interest.items()
    assert all(seen.last <= 24 * 3600.0 for seen in tracks.values())


@pytest.mark.parametrize("age", [20.0, 45.0, 200.0, 290.0, 330.0, 1900.0, 4000.0])
@pytest.mark.parametrize("weight", [25, 100])
def test_the_forecast_is_exactly_the_queries_the_evaluation_asks(
    source: PrometheusSource, age: float, weight: int
) -> None:
    """``expected_queries`` (what the operator tells the batch one evaluation ahead) against the instant queries
    the evaluation then asks, on real data: steps too young for any evidence, young enough for traffic but not
    for the gauges, just past and long past the checks' windows, at 100% with blue's stored baselines; with the
    noise cache fresh, then expired. Custom queries are not forecast (they are sent as they are)."""
    from datetime import UTC, datetime, timedelta

    from controller.analysis.evaluate import evaluate_rollout, expected_queries
    from controller.analysis.noise_cache import NoiseCache
    from controller.model.status import Baseline, RolloutStatus
    from tests.analysis.scenarios import HEALTHY

    checks = [*CHECKS, {"name": "recent", "template": "latency", "maxRatioToBlue": 1.2, "window": "5m"}]
    spec = BlueGreenRollout.model_validate(manifest(HEALTHY, checks)).spec
    now = datetime.fromtimestamp(ANCHOR - 1000.0, UTC)  # the data ends at ANCHOR
    step = now - timedelta(seconds=age)
    stored = [Baseline(check="p99-latency", since=step, until=step, weight=25, le=[0.5], counts=[1000.0])]
    status = RolloutStatus(
        phase="Progressing",
        weight=weight,
        step_started_at=step,
        traffic_started_at=step - timedelta(seconds=90),
        baselines=stored if weight == 100 else [],
    )
    kw: dict[str, Any] = {
        "namespace": HEALTHY.namespace,
        "blue_pods": default_pods_regex(HEALTHY.blue.deployment, HEALTHY.blue.hash),
        "green_pods": default_pods_regex(HEALTHY.green.deployment, HEALTHY.green.hash),
    }
    cache = NoiseCache()
    for later in (0.0, 30.0, 900.0):  # learned; reused; learned again
        at = now + timedelta(seconds=later)
        forecast = expected_queries(spec, status, now=at, noise_cache=cache, **kw)
        counting = Counting(source)
        results = evaluate_rollout(spec, status, counting, now=at, noise_cache=cache, **kw)
        assert not any(r.outage for r in results), results
        asked = [q for q in counting.queries if "gunicorn" not in q]
        assert len(forecast) == len(set(forecast)), forecast
        assert set(forecast) == set(asked), (later, set(forecast) ^ set(asked))
        if age + later < 60:  # traffic checks need a minute at the step's weight before they ask anything
            assert not any("http_request" in q for q in forecast), forecast
        else:
            assert any("http_request" in q for q in forecast), forecast


def test_a_round_older_than_the_one_before_the_newest_is_let_go_but_never_the_newest() -> None:
    """Rounds' answers are the operator's largest memory: only the newest round and the one before it are kept
    (evaluations run in their round or, late, in the next). A very late caller recreating an old round asks
    again, and does not push the current round out: the current round's callers still share its answer."""
    now = [0.0]
    inner = Recording()
    batched = BatchingSource(inner, monotonic=lambda: now[0], wall=lambda: now[0], horizon=10.0)

    def ask(track: str, at: float) -> None:
        batched.instant('python_info{namespace="shop",pod=~"' + track + '-[a-z0-9]{5}"}', at)

    for at in (0.0, 10.0, 20.0, 30.0):
        now[0] = at + 1.0
        ask("a-1a2b3c", at)
    assert sorted(batched._rounds) == [(20.0,), (30.0,)]
    sent = len(inner.queries)
    ask("a-1a2b3c", 20.0)  # late, in the previous round: answered from it
    assert len(inner.queries) == sent
    ask("a-1a2b3c", 0.0)  # very late: its round is gone, asked again
    assert len(inner.queries) == sent + 1 and (30.0,) in batched._rounds
    ask("b-4d5e6f", 30.0)
    ask("a-1a2b3c", 30.0)  # the current round still answers: no query
    assert len(inner.queries) == sent + 2
