"""Batched Prometheus: one grouped query per template and evaluation round, split per rollout and track.

Why: a rollout's evaluation costs about a dozen queries; a fleet of a thousand baking rollouts would send
Prometheus tens of queries a second, each scanning the same series. :class:`BatchingSource` is a
:class:`~controller.analysis.source.MetricSource` placed in front of the real one. When asked a query
rendered from a builtin template for one track's exact pods (``<deployment>-<pod-template-hash>-xxxxx``)
at time ``at``, it sends one query for every track it knows asks that template — pods selected by one
regex, the template's aggregations grouped ``by (namespace, greenlane_track)`` where ``greenlane_track``
is ``<deployment>-<hash>`` cut from the pod name — and answers every track of that round from the one
answer. Judgement code above it is unchanged: it receives the very series it would have received.

Why the numbers are the same: grouping adds labels, never mixes tracks, and each track's series are
aggregated by Prometheus in the same order as in its own query. What the templates compute *between*
aggregations (``or``, ``/``, ``vector(0)``) is evaluated here with PromQL's semantics
(:mod:`controller.analysis.promql_ast`). ``tests/analysis/test_batch.py`` checks identical CheckResults
against a real Prometheus.

One query per template and round: the queries of one builtin template (latency's quantile and its request
count, error-rate's 5xx and all requests), at every window the round's tracks ask (a step's evidence window
is cut to one of a few dozen shared spans), are fetched together, each part over its own tracks and tagged
``greenlane_part``; parts are cached per round by their text, so the traffic probe reuses the request counts
already fetched. Raw range vectors (memory, connections) cannot be joined by ``or``: one query per window.
The query is sent, and its answer decoded and split, on the batch's own threads: the cost is the round's,
not that of the reconcile that happened to ask first.

What is not batched (sent as it is): custom queries, templates this module cannot parse, pod regexes
without a template hash. A grouped query that Prometheus rejects falls back to the per-track query, so a
template error still reads exactly as before. Rounds are the caller's: queries for the same ``at`` share
an answer (the operator aligns ``at`` to a round, ``KubeSettings.evaluation_round``). Which tracks a round's
query names comes from each track's past asks (due again one period after its last) and from forecasts
(:meth:`BatchingSource.expect`: after each reconcile the operator's engine states the queries of the
rollout's next evaluation and when it is due), so a track asking a window for the first time (a new step,
gauge evidence that just became sufficient, a noise history due again) is in the round's query too. A
track nobody foresaw (first seen after its round's query ran) gets a top-up query (once: it is included
from the next round on), shared with the other late tracks of the round that ask while it waits for a free
sender; a track is dropped once it has not asked for three of its own intervals (at least ``ttl`` seconds), so the
tracks of deleted or finished rollouts leave the grouped queries within minutes. At most ``concurrency``
grouped queries run at once, and a caller waits for its query at most ``deadline`` seconds (then: the
source is unavailable).
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import structlog

from controller.analysis import promql_ast as ast
from controller.analysis.noise_cache import NoiseCache
from controller.analysis.source import MetricSource, QueryRejected, Series, SourceUnavailable
from controller.analysis.spans import next_spans
from controller.analysis.templates import BUILTIN, PYTHON_VERSION_QUERY, TRAFFIC_PROBE
from controller.analysis.versions import PROCESS_START_QUERY

log = structlog.get_logger("greenlane.batch")
TRACK_LABEL = "greenlane_track"
PART_LABEL = "greenlane_part"
POD_SUFFIX = "-[a-z0-9]{5}"
_TRACK_SELECTOR = 'namespace="{{ namespace }}",pod=~"{{ pods }}"'
_APP_SELECTOR = 'application_name="{{ deployment }}"'
_EXACT_PODS = re.compile(r"(?P<track>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)-\[a-z0-9\]\{5\}")
_POD_NAME = re.compile(r"(?P<track>.+)-[a-z0-9]{5}")
_VARIABLE = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}")
_TRACK_VARIABLES = frozenset({"namespace", "pods", "deployment"})
Track = tuple[str, str]
"""(namespace, ``<deployment>-<hash>``), or ("", deployment) for templates that select by application name."""
DUE_SLACK = 1.0
"""Seconds after a round's end within which a track's expected evaluation still counts it in the round."""
TimeKey = tuple[float, ...]
"""(at,) for an instant query, (start, end, step) for a range query."""


def template_queries() -> list[str]:
    """Every builtin template expression with placeholders, in a stable order, duplicates removed."""
    return list(dict.fromkeys(q for group in _template_groups() for q in group))


def _template_groups() -> list[tuple[str, ...]]:
    """The expressions of each builtin template (fetched together), then the lookups that stand alone."""
    groups: list[tuple[str, ...]] = []
    for template in BUILTIN.values():
        values = (getattr(template, item.name) for item in dataclasses.fields(template))
        groups.append(tuple(dict.fromkeys(v for v in values if isinstance(v, str) and "{{" in v)))
    return [*groups, (TRAFFIC_PROBE,), (PYTHON_VERSION_QUERY,), (PROCESS_START_QUERY,)]


# ---- leaves and families: template expressions parsed and regrouped once -------------------------
@dataclass(frozen=True)
class Leaf:
    """A part Prometheus evaluates, regrouped for many tracks (``{{ gl_* }}`` still to fill in)."""

    text: str
    variables: tuple[str, ...]
    aggregated: bool
    keeps_namespace: bool
    by_app: bool
    range_vector: bool


@dataclass(frozen=True)
class Family:
    """A template expression that can be batched: how to recognise it, its leaves, and what is evaluated here."""

    template: str
    pattern: re.Pattern[str]
    tree: ast.Node
    nodes: tuple[ast.Node, ...]
    leaves: tuple[Leaf, ...]
    siblings: tuple[Leaf, ...] = ()
    """Leaves of the other expressions of the same template, fetched in the same query when they can be."""

    @property
    def by_app(self) -> bool:
        return self.leaves[0].by_app

    @property
    def vector(self) -> bool:
        """Whether ``vector()`` is evaluated client-side (it needs the evaluation timestamps)."""
        return any(isinstance(n, ast.Call) and n.name == "vector" for n in ast.walk(self.tree))


def family_of(template: str) -> Family | None:
    """The family of a template expression, or None when it cannot be batched (it is then sent as is)."""
    by_app = _APP_SELECTOR in template and _TRACK_SELECTOR not in template
    if not by_app and _TRACK_SELECTOR not in template:
        return None
    try:
        tree = ast.parse(template)
        nodes = tuple(ast.leaves(tree))
        leaves = tuple(_regroup(node, by_app) for node in nodes)
    except ast.Unsupported:
        return None
    if not leaves or (len(leaves) > 1 and any(leaf.range_vector for leaf in leaves)):
        return None  # a range vector cannot be combined with others in one query
    return Family(template, _pattern(template), tree, nodes, leaves)


def families() -> list[Family]:
    """Every batchable template expression, each knowing its template's other leaves."""
    out: list[Family] = []
    for group in _template_groups():
        members = [f for f in (family_of(t) for t in group) if f is not None]
        pool = tuple(dict.fromkeys(leaf for f in members for leaf in f.leaves))
        out += [dataclasses.replace(f, siblings=tuple(x for x in pool if x not in f.leaves)) for f in members]
    unique: dict[str, Family] = {}
    for family in out:
        unique.setdefault(family.template, family)
    return list(unique.values())


def _regroup(leaf: ast.Node, by_app: bool) -> Leaf:
    """The leaf for many tracks: selector widened, aggregations grouped by (namespace, greenlane_track)."""
    selectors = [n for n in ast.walk(leaf) if isinstance(n, ast.Selector) and _selects_track(n)]
    if len(selectors) != 1:
        raise ast.Unsupported("one track selector per leaf")
    aggregations = [n for n in ast.walk(leaf) if isinstance(n, ast.Aggregation)]
    if by_app and aggregations:
        raise ast.Unsupported("aggregations over application_name")

    def group(node: ast.Node) -> ast.Node | None:
        if isinstance(node, ast.Selector) and _selects_track(node):
            return _grouped_selector(node)
        if not isinstance(node, ast.Aggregation):
            return None
        inner = ast.transform(node.arg, group)
        if not any(isinstance(n, ast.Aggregation) for n in ast.walk(node.arg)):
            inner = ast.Call(
                "label_replace",
                (inner, ast.Str(TRACK_LABEL), ast.Str("$1"), ast.Str("pod"), ast.Str(f"(.+){POD_SUFFIX}")),
            )
        labels = tuple(dict.fromkeys([*(node.by or ()), "namespace", TRACK_LABEL]))
        return ast.Aggregation(node.op, labels, inner)

    text = ast.render(ast.transform(leaf, group))
    return Leaf(
        text=text,
        variables=tuple(sorted(set(_VARIABLE.findall(text)) - {"gl_namespaces", "gl_tracks", "gl_apps"})),
        aggregated=bool(aggregations),
        keeps_namespace=any("namespace" in (a.by or ()) for a in aggregations),
        by_app=by_app,
        range_vector=isinstance(leaf, ast.Selector) and leaf.range is not None,
    )


def _selects_track(node: ast.Selector) -> bool:
    return node.matchers is not None and (_TRACK_SELECTOR in node.matchers or _APP_SELECTOR in node.matchers)


def _grouped_selector(node: ast.Selector) -> ast.Selector:
    assert node.matchers is not None
    matchers = node.matchers.replace(
        _TRACK_SELECTOR, f'namespace=~"{{{{ gl_namespaces }}}}",pod=~"(?:{{{{ gl_tracks }}}}){POD_SUFFIX}"'
    ).replace(_APP_SELECTOR, 'application_name=~"{{ gl_apps }}"')
    return dataclasses.replace(node, matchers=matchers)


def _pattern(template: str) -> re.Pattern[str]:
    """A regex matching the template rendered with any values, capturing each variable (repeats must agree)."""
    out, seen, at = [], set(), 0
    for match in _VARIABLE.finditer(template):
        out.append(re.escape(template[at : match.start()]))
        name = match.group(1)
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>.*?)")
        seen.add(name)
        at = match.end()
    out.append(re.escape(template[at:]))
    return re.compile("".join(out), re.DOTALL)


# ---- rounds -------------------------------------------------------------------------------------
LeafKey = tuple[Leaf, tuple[tuple[str, str], ...]]
"""A leaf with its non-track variables filled in: what one part of a grouped query answers."""


def _leaf_key(leaf: Leaf, variables: Mapping[str, str]) -> LeafKey | None:
    if any(v not in variables for v in leaf.variables):
        return None
    return leaf, tuple((v, variables[v]) for v in leaf.variables)


@dataclass(frozen=True)
class _Seen:
    last: float
    period: float = 0.0
    """Seconds between the track's last two evaluations (its interval, as seen from here)."""


def _seen(previous: _Seen | None, now: float) -> _Seen:
    """A track asked again: queries of one evaluation (a second apart at most) keep its period."""
    if previous is None:
        return _Seen(now)
    gap = now - previous.last
    return _Seen(now, gap if gap > 1.0 else previous.period)


@dataclass
class _Fetch:
    """One grouped query: each part (a leaf with its variables, e.g. one window) over its own tracks."""

    parts: dict[LeafKey, frozenset[Track]]
    kind: Hashable = None
    """Which fetches may merge: the same template's parts asked the same way, or the very same part."""
    topup: bool = False
    """Not the round's first query of its kind: for tracks the first one could not foresee."""
    open: bool = False
    """A top-up not sent yet: while it waits for a free sender (``concurrency``), the round's other late
    tracks of the same kind join it instead of queueing a query each. Free when Prometheus keeps up, and
    the most help when it does not."""
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None

    def join(self, wanted: Mapping[LeafKey, frozenset[Track]]) -> None:
        for key, tracks in wanted.items():
            self.parts[key] = self.parts.get(key, frozenset()) | tracks

    def covers(self, keys: Iterable[LeafKey], track: Track) -> bool:
        return all(track in self.parts.get(k, ()) for k in keys)

    def waiting(self, key: LeafKey) -> frozenset[Track]:
        return self.parts.get(key, frozenset())


@dataclass
class _Round:
    """One evaluation instant: what each part answered per track, and the queries still running."""

    data: dict[LeafKey, dict[Track, list[Series]]] = field(default_factory=dict)
    covered: dict[LeafKey, set[Track]] = field(default_factory=dict)
    pending: list[_Fetch] = field(default_factory=list)

    def has(self, keys: Iterable[LeafKey], track: Track) -> bool:
        return all(track in self.covered.get(k, ()) for k in keys)


@dataclass
class BatchStats:
    grouped: int = 0
    """Grouped queries sent (first query of a round, and top-ups for tracks new in that round)."""
    topups: int = 0
    passthrough: int = 0
    """Queries sent as they came: custom queries, unparseable templates, pod regexes without a hash."""
    fallbacks: int = 0
    """Grouped queries Prometheus rejected, answered per track instead."""
    answered: int = 0
    """Per-track queries answered from a grouped answer."""
    forecast: int = 0
    """Parts a forecast (:meth:`BatchingSource.expect`) counted a track in."""


class Through:
    """A MetricSource for one caller: queries join the shared batch, and are sent through ``source``."""

    def __init__(self, batch: BatchingSource, source: MetricSource) -> None:
        self.batch, self.source = batch, source

    def instant(self, query: str, at: float) -> list[Series]:
        return self.batch.query(query, (at,), lambda q: self.source.instant(q, at))

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        return self.batch.query(query, (start, end, step), lambda q: self.source.range(q, start, end, step))

    def expect(self, queries: Iterable[str], due: float, period: float) -> None:
        self.batch.expect(queries, due, period)


class BatchingSource:
    """A MetricSource answering per-track template queries from grouped ones; see the module docstring.

    ``inner`` sends the queries; without one, callers go :meth:`through` their own source (the operator's
    pooled sessions: one per namespace and configuration, all sharing the batch of their endpoint).
    """

    def __init__(
        self,
        inner: MetricSource | None,
        *,
        concurrency: int = 4,
        deadline: float = 30.0,
        ttl: float = 60.0,
        horizon: float = math.inf,
        rounds_kept: int = 4,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        on_query: Callable[[str], None] = lambda kind: None,
    ) -> None:
        self.inner = inner
        self.stats = BatchStats()
        self._families = families()
        self._interest: dict[LeafKey, dict[Track, _Seen]] = {}
        self._shape: dict[LeafKey, int] = {}
        """How each part was last asked: 1 instant, 3 range (``TimeKey``'s length)."""
        self._rounds: OrderedDict[TimeKey, _Round] = OrderedDict()
        self._rejected: set[LeafKey] = set()
        self._lock = threading.Lock()
        self._concurrency = max(1, concurrency)
        self._pool: ThreadPoolExecutor | None = None
        self._deadline, self._ttl, self._rounds_kept = deadline, ttl, rounds_kept
        self._horizon = horizon
        self._monotonic, self._wall, self._on_query = monotonic, wall, on_query
        self.noise = NoiseCache()
        """Blue noise models learned from this endpoint's answers (reused across rounds; see noise_cache)."""

    @property
    def families(self) -> list[Family]:
        return list(self._families)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        closer = getattr(self.inner, "close", None)
        if callable(closer):
            closer()

    def through(self, source: MetricSource) -> Through:
        return Through(self, source)

    def instant(self, query: str, at: float) -> list[Series]:
        return self.through(self._inner()).instant(query, at)

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        return self.through(self._inner()).range(query, start, end, step)

    def _inner(self) -> MetricSource:
        if self.inner is None:
            raise TypeError("this BatchingSource has no source of its own: query it through() one")
        return self.inner

    def query(self, query: str, when: TimeKey, send: Callable[[str], list[Series]]) -> list[Series]:
        """Answer ``query`` at ``when`` ((at,) or (start, end, step)); ``send`` asks the real source."""
        recognised = self._recognise(query)
        if recognised is None:
            return self._passthrough(query, send)
        family, variables, track = recognised
        parts = self._parts(family, variables)
        if parts is None or (len(when) > 1 and family.vector):
            return self._passthrough(query, send)  # vector() over a range needs the server's own step grid
        needed, fetched, combinable = parts
        data = self._data(family, needed, fetched, combinable, track, when, send)
        if data is None:  # the grouped query was rejected: ask as the caller did, for the exact error
            self.stats.fallbacks += 1
            if not set(needed) <= self._rejected:
                log.warning("Prometheus rejected a grouped query; sending this template per track", query=query[:200])
            self._rejected.update(needed)
            return self._passthrough(query, send)
        self.stats.answered += 1
        values = {id(node): data[k] for node, k in zip(family.nodes, needed, strict=True)}
        return ast.evaluate(family.tree, values, _times(when))

    def expect(self, queries: Iterable[str], due: float, period: float) -> None:
        """A forecast: these instant queries will be asked at wall-clock time ``due``, then every ``period``.

        The caller's evaluation states the queries of its next one (``evaluate.expected_queries``), so each
        track is in the grouped query of the round it asks in, even for a window it never asked before,
        instead of needing a top-up of its own. A forecast only adds the track to a part's interest with its
        expected time: a wrong one costs a share of an answer (or the top-up it would have cost anyway),
        never a wrong number, and it is forgotten like any interest once the track stops asking.
        """
        now = self._monotonic()
        if not (math.isfinite(due) and math.isfinite(period)) or period <= 0:
            return
        when = now + min(max(due - self._wall(), 0.0), 24 * 3600.0)
        for query in queries:
            recognised = self._recognise(query)
            if recognised is None:
                continue
            family, variables, track = recognised
            parts = self._parts(family, variables)
            if parts is None:
                continue
            with self._lock:
                for key in parts[1]:
                    self._shape.setdefault(key, 1)
                    self._interest.setdefault(key, {})[track] = _Seen(when - period, period)
                    self.stats.forecast += 1

    def _parts(
        self, family: Family, variables: Mapping[str, str]
    ) -> tuple[list[LeafKey], tuple[LeafKey, ...], bool] | None:
        """The parts a query of ``family`` needs, the parts fetched for it (its template's other parts too, when
        they can share one query), and whether they can; None when it is sent as it is (a variable missing,
        a needed part that Prometheus rejected grouped). One rule for asks and for forecasts of them."""
        keys = [_leaf_key(leaf, variables) for leaf in family.leaves]
        needed = [k for k in keys if k is not None]
        if len(needed) != len(keys) or any(k in self._rejected for k in needed):
            return None
        extra = [k for k in (_leaf_key(leaf, variables) for leaf in family.siblings) if k is not None]
        combinable = not any(k[0].range_vector for k in needed) and not any(k in self._rejected for k in extra)
        return needed, tuple(dict.fromkeys(needed + (extra if combinable else []))), combinable

    def _passthrough(self, query: str, send: Callable[[str], list[Series]]) -> list[Series]:
        self.stats.passthrough += 1
        self._on_query("passthrough")
        return send(query)

    def _recognise(self, query: str) -> tuple[Family, dict[str, str], Track] | None:
        for family in self._families:
            match = family.pattern.fullmatch(query)
            if match is None:
                continue
            variables = match.groupdict()
            track = _track(variables, family.by_app)
            return None if track is None else (family, variables, track)
        return None

    # ---- one round -----------------------------------------------------------------------------
    def _data(
        self,
        family: Family,
        needed: list[LeafKey],
        parts: tuple[LeafKey, ...],
        combinable: bool,
        track: Track,
        when: TimeKey,
        send: Callable[[str], list[Series]],
    ) -> dict[LeafKey, list[Series]] | None:
        now = self._monotonic()
        with self._lock:
            for key in parts:
                self._shape[key] = len(when)
                tracks = self._interest.setdefault(key, {})
                seen = tracks[track] = _seen(tracks.get(track), now)
                for ahead in _successors(key, seen.period):  # the windows it will ask next: in their queries now
                    later = self._interest.setdefault(ahead, {})
                    self._shape.setdefault(ahead, len(when))
                    before = later.get(track)
                    later[track] = _Seen(now, before.period if before is not None else seen.period)
            rnd = self._round(when, now)
            kind = (frozenset({*family.leaves, *family.siblings}), len(when)) if combinable else frozenset(parts)
            started = any(k in rnd.covered for k in parts) or any(f.kind == kind for f in rnd.pending)
            # the round's first query asks every window in use; a top-up only what this caller misses
            group = self._group(family, parts, len(when)) if combinable and not started else parts
            fetch, owner = self._fetch_for(rnd, needed, group, kind, started, track, self._round_end(when, now))
        if owner:
            assert fetch is not None
            self._start(rnd, fetch, send)
        if fetch is not None and not fetch.done.wait(self._deadline):
            raise SourceUnavailable(f"the grouped query did not answer within the round deadline ({self._deadline:g}s)")
        if fetch is not None and isinstance(fetch.error, QueryRejected):
            return None
        if fetch is not None and fetch.error is not None:
            error = fetch.error
            raise error if isinstance(error, SourceUnavailable) else SourceUnavailable(str(error))
        with self._lock:
            return {k: rnd.data.get(k, {}).get(track, []) for k in needed}

    def _group(self, family: Family, parts: tuple[LeafKey, ...], shape: int) -> tuple[LeafKey, ...]:
        """``parts`` and every other part of the same template that tracks ask: fetched in one query.

        The windows of one template differ per track (a step's evidence window is cut to a shared span), and
        each window is a part of its own; asking them all in one query per round keeps the queries per round
        at one per template, however many windows the fleet's steps are at. Only parts last asked the same way
        (instant, or range) join: a range round's answer is no use to an instant ask, and the reverse.
        """
        leaves = {*family.leaves, *family.siblings}
        others = (
            k
            for k in self._interest
            if k[0] in leaves and not k[0].range_vector and k not in self._rejected and self._shape.get(k) == shape
        )
        return tuple(dict.fromkeys([*parts, *others]))

    def _fetch_for(
        self,
        rnd: _Round,
        needed: list[LeafKey],
        group: tuple[LeafKey, ...],
        kind: Hashable,
        topup: bool,
        track: Track,
        end: float,
    ) -> tuple[_Fetch | None, bool]:
        """The query that answers ``track`` (None: already answered), and whether this caller must send it.

        A new query asks, per part of ``group``, the tracks due in this round that no answer or query in
        flight covers yet, and always ``track`` for the parts it needs. A top-up (the round has asked
        this kind already) that has not been sent yet takes in the next late tracks of the same ``kind``.
        """
        if rnd.has(needed, track):
            return None, False
        for fetch in rnd.pending:
            if fetch.covers(needed, track):
                return fetch, False
        wanted: dict[LeafKey, frozenset[Track]] = {}
        for key in group:
            due = {t for t, seen in self._interest.get(key, {}).items() if _due(seen, end)}
            left = due - rnd.covered.get(key, set()) - {t for f in rnd.pending for t in f.waiting(key)}
            if key in needed:
                left.add(track)
            if left:
                wanted[key] = frozenset(left)
        for fetch in rnd.pending:
            if fetch.open and fetch.kind == kind:
                fetch.join(wanted)
                return fetch, False
        fetch = _Fetch(wanted, kind, topup=topup, open=topup)
        rnd.pending.append(fetch)
        return fetch, True

    def _round_end(self, when: TimeKey, now: float) -> float:
        """When (on the monotonic clock) the round of ``when`` ends: its evaluation instant plus ``horizon``.

        The operator aligns a round's evaluation instant to the round's start, so the round ends ``horizon``
        after it, however late in the round the first caller comes. Bounded to [now, now + horizon]: a wall
        clock that jumped cannot make a round longer than one, or end before it began.
        """
        if not math.isfinite(self._horizon):
            return math.inf
        left = _instant(when) + self._horizon - self._wall()
        return now + min(max(left, 0.0), self._horizon)

    def _round(self, when: TimeKey, now: float) -> _Round:
        rnd = self._rounds.get(when)
        if rnd is None:
            rnd = self._rounds[when] = _Round()
            self._evict(when)
            for key, tracks in list(self._interest.items()):
                for stale in [t for t, seen in tracks.items() if now - seen.last > max(self._ttl, 3 * seen.period)]:
                    del tracks[stale]
                if not tracks:
                    del self._interest[key]
                    self._shape.pop(key, None)
        return rnd

    def _evict(self, created: TimeKey) -> None:
        """Drop the answers of rounds no caller will ask again: those more than one round (``horizon``) older
        than the newest, and beyond ``rounds_kept`` the oldest created.

        Why: a round's answers (at 10,000 rollouts, every due track's histograms and the gauges' raw samples,
        blue's two-hour noise histories among them) are the largest thing the operator holds; kept for four
        rounds they were a quarter of its RSS (948 MiB against 724 MiB with two). Evaluations run in their own
        round or, late, in the one after, so the newest round and the one before it are enough. The newest
        is never dropped for an older one recreated by a very late caller (that one goes at the next round):
        otherwise the late caller's round and the current one would evict each other and ask again.
        """
        newest = max(_instant(k) for k in self._rounds)
        if math.isfinite(self._horizon):
            for key in [k for k in self._rounds if k != created and _instant(k) < newest - self._horizon]:
                del self._rounds[key]
        while len(self._rounds) > self._rounds_kept:
            oldest = next((k for k in self._rounds if _instant(k) < newest), next(iter(self._rounds)))
            del self._rounds[oldest]

    def _start(self, rnd: _Round, fetch: _Fetch, send: Callable[[str], list[Series]]) -> None:
        """Send ``fetch`` on the batch's own threads: the caller waits for it like every other caller.

        The grouped answer is the whole round's (every track's series, decoded and split here); it is the
        fleet's cost, not the cost of the reconcile that happened to ask first, and it is paid off the
        reconcile's thread so that reconcile's latency is its own work plus the wait.
        """
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="greenlane-batch")
            pool = self._pool
        try:
            pool.submit(self._run, rnd, fetch, send)
        except RuntimeError as exc:  # closed: answer the waiters rather than leave them to the deadline
            self._finish(rnd, fetch, SourceUnavailable(f"the batch is closed: {exc}"))

    def _run(self, rnd: _Round, fetch: _Fetch, send: Callable[[str], list[Series]]) -> None:
        error: Exception | None = None
        try:
            with self._lock:
                fetch.open = False
            query = _render(fetch.parts)
            self.stats.grouped += 1
            self.stats.topups += fetch.topup
            self._on_query("topup" if fetch.topup else "grouped")
            answer = send(query)  # at most ``concurrency`` at once: the pool's threads
            split = _split(fetch.parts, answer)
            with self._lock:
                for key, per_track in split.items():
                    rnd.data.setdefault(key, {}).update(per_track)
                    rnd.covered.setdefault(key, set()).update(fetch.parts[key])
        except Exception as exc:  # handed to every caller waiting on this fetch
            error = exc
        finally:
            self._finish(rnd, fetch, error)

    def _finish(self, rnd: _Round, fetch: _Fetch, error: Exception | None) -> None:
        fetch.error = error
        with self._lock:
            if fetch in rnd.pending:
                rnd.pending.remove(fetch)
        fetch.done.set()


def _instant(when: TimeKey) -> float:
    """The evaluation instant of a round: ``at``, or a range's end."""
    return when[-2] if len(when) == 3 else when[0]


def _due(seen: _Seen, end: float) -> bool:
    """Whether a track is expected to ask before ``end`` (its last ask plus its period), or within ``DUE_SLACK``.

    A round's queries carry only the tracks that evaluate in it: with rounds of 10 s and evaluations every
    30 s, the others would be two thirds of every answer, decoded and held for nothing. A track whose period
    is not known yet, or that is overdue, is always included. A track mispredicted costs a query of its own
    (a top-up), one included in vain only its share of an answer: evaluations run a little later than
    planned, rarely earlier, so one expected just after the round's end is included too.
    """
    return seen.period <= 0.0 or seen.last + seen.period < end + DUE_SLACK


def _successors(key: LeafKey, growth: float) -> list[LeafKey]:
    """The same part with the shared spans its window may grow into by the track's next evaluation.

    A step's evidence window grows with the step and is cut to a shared span (``analysis/spans.py``); when it
    moves up to the next span, that span's grouped query for the round has usually run already (for the
    tracks that were there before), and every track arriving after it needed a top-up query of its own: in
    the scale bench, two hundred one-track queries in each round where the fleet's evaluations met. Counted
    in the next span's interest one evaluation ahead, a track is in that query when it runs.
    """
    leaf, values = key
    window = dict(values).get("window", "")
    if not (window.endswith("s") and window[:-1].isdigit()):
        return []
    return [
        (leaf, tuple((name, f"{int(span)}s" if name == "window" else value) for name, value in values))
        for span in next_spans(float(window[:-1]), growth)
    ]


def _track(variables: Mapping[str, str], by_app: bool) -> Track | None:
    if by_app:
        deployment = variables.get("deployment", "")
        return ("", deployment) if _DNS_LABEL.fullmatch(deployment) else None
    exact = _EXACT_PODS.fullmatch(variables.get("pods", ""))
    namespace = variables.get("namespace", "")
    if exact is None or not _DNS_LABEL.fullmatch(namespace):
        return None  # no template hash: a track's pods cannot be told apart by name, ask as is
    return namespace, exact.group("track")


_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")


def _render(parts: Mapping[LeafKey, frozenset[Track]]) -> str:
    """One query for ``parts``, each over its own tracks; several parts are tagged with their index and joined
    by ``or`` (their series differ by that tag, so ``or`` keeps them all)."""
    texts = []
    for (leaf, variables), tracks in parts.items():
        chosen = sorted(tracks)
        names = "|".join(sorted({t for _, t in chosen}))
        union = {"gl_namespaces": "|".join(sorted({ns for ns, _ in chosen})), "gl_tracks": names, "gl_apps": names}
        values = {**dict(variables), **union}
        texts.append(_VARIABLE.sub(lambda m, values=values: values[m.group(1)], leaf.text))  # type: ignore[misc]
    if len(texts) == 1:
        return texts[0]
    return " or ".join(f'label_replace({t}, "{PART_LABEL}", "{i}", "", "")' for i, t in enumerate(texts))


def _split(parts: Mapping[LeafKey, frozenset[Track]], answer: list[Series]) -> dict[LeafKey, dict[Track, list[Series]]]:
    """The grouped answer per part and track, labels as the track's own query would have returned them."""
    keys = list(parts)
    out: dict[LeafKey, dict[Track, list[Series]]] = {k: {t: [] for t in tracks} for k, tracks in parts.items()}
    for series in answer:
        labels = dict(series.labels)
        index = 0 if len(keys) == 1 else int(labels.pop(PART_LABEL, "0"))
        if not 0 <= index < len(keys):
            continue
        key = keys[index]
        leaf = key[0]
        track = _series_track(leaf, labels)
        if track not in parts[key]:
            continue
        if leaf.aggregated:
            labels.pop(TRACK_LABEL, None)
            if not leaf.keeps_namespace:
                labels.pop("namespace", None)
        out[key][track].append(Series(labels, series.points))
    return out


def _series_track(leaf: Leaf, labels: Mapping[str, str]) -> Track | None:
    if leaf.by_app:
        return "", labels.get("application_name", "")
    if leaf.aggregated:
        return labels.get("namespace", ""), labels.get(TRACK_LABEL, "")
    pod = _POD_NAME.fullmatch(labels.get("pod", ""))
    return (labels.get("namespace", ""), pod.group("track")) if pod else None


def _times(when: TimeKey) -> ast.Times:
    """The evaluation timestamp of an instant query as Prometheus reports it (milliseconds); none for a range,
    whose families never need one (see ``Family.vector``)."""
    return (round(when[0] * 1000) / 1000,) if len(when) == 1 else ()
