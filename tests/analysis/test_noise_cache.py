"""Blue's noise model is learned once and reused while its history has barely changed (the operator's cache).

Pure tests with a counting source; the operator's wiring (one cache per batched endpoint) is tested last.
"""

from __future__ import annotations

import math
import random

import pytest

from controller.analysis.batch import BatchingSource
from controller.analysis.measure import NOISE_HISTORY, TrackRef, noise_model
from controller.analysis.noise_cache import NOISE_REUSE_SHARE, Learned, NoiseCache
from controller.analysis.plan import plan_for
from controller.analysis.source import Series
from controller.model.spec import Check

AT = 1_000_000.0
MEMORY = plan_for(Check.model_validate({"name": "memory", "template": "memory", "maxSlopeOverBlue": "10Mi/h"}))
BLUE = TrackRef("shop", "checkout", "checkout-5d9f8c7b6d-[a-z0-9]{5}", None)


class History:
    """Answers the noise query with ``span`` seconds of a noisy flat gauge per pod, and counts what it was asked."""

    def __init__(self, span: float, scrape: float = 30.0) -> None:
        self.span, self.scrape = span, scrape
        self.queries: list[tuple[str, float]] = []

    def instant(self, query: str, at: float) -> list[Series]:
        self.queries.append((query, at))
        rng = random.Random(int(at))
        out = []
        for pod in ("a", "b"):
            n = int(self.span // self.scrape)
            points = tuple((at - self.span + i * self.scrape, 2e8 + rng.gauss(0, 1e6)) for i in range(n + 1))
            out.append(Series({"pod": f"checkout-5d9f8c7b6d-{pod}xxxx"}, points))
        return out

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        raise AssertionError("the noise model asks an instant query")


def test_a_model_is_reused_for_five_percent_of_its_history_then_learned_again() -> None:
    source, cache = History(NOISE_HISTORY), NoiseCache()
    first = noise_model(MEMORY, source, BLUE, AT, cache)
    assert first is not None and len(source.queries) == 1
    assert "[7200s]" in source.queries[0][0] or "[2h]" in source.queries[0][0], source.queries[0][0]
    reuse = NOISE_REUSE_SHARE * NOISE_HISTORY
    for later in (30.0, 120.0, reuse):
        assert noise_model(MEMORY, source, BLUE, AT + later, cache) is first
    assert len(source.queries) == 1, "two hours of samples are not fetched again within the reuse period"
    fresh = noise_model(MEMORY, source, BLUE, AT + reuse + 30.0, cache)
    assert len(source.queries) == 2 and fresh is not first
    assert cache.hits == 3 and cache.misses == 2


def test_a_young_blue_history_is_learned_again_almost_every_time() -> None:
    """The demo's blue is minutes old: what a new query adds is a large share of it, so no reuse to speak of."""
    source, cache = History(span=600.0, scrape=1.0), NoiseCache()
    noise_model(MEMORY, source, BLUE, AT, cache)
    noise_model(MEMORY, source, BLUE, AT + NOISE_REUSE_SHARE * 600.0 + 1.0, cache)
    assert len(source.queries) == 2


def test_never_reused_backwards_nor_for_another_track() -> None:
    source, cache = History(NOISE_HISTORY), NoiseCache()
    noise_model(MEMORY, source, BLUE, AT, cache)
    noise_model(MEMORY, source, BLUE, AT - 10.0, cache)  # a backtest walking back must not see its future
    other = TrackRef("shop", "checkout", "checkout-7f6d5c4b3a-[a-z0-9]{5}", None)  # a new template hash
    noise_model(MEMORY, source, other, AT + 10.0, cache)
    assert len(source.queries) == 3


def test_without_a_cache_every_evaluation_learns_again() -> None:
    source = History(NOISE_HISTORY)
    noise_model(MEMORY, source, BLUE, AT)
    noise_model(MEMORY, source, BLUE, AT + 30.0)
    assert len(source.queries) == 2


def test_a_history_too_short_to_learn_from_is_remembered_as_such_briefly() -> None:
    source, cache = History(span=120.0), NoiseCache()  # 5 samples a pod: fewer than learning needs
    assert noise_model(MEMORY, source, BLUE, AT, cache) is None
    assert noise_model(MEMORY, source, BLUE, AT + 1.0, cache) is None
    assert len(source.queries) == 1
    noise_model(MEMORY, source, BLUE, AT + 10.0, cache)
    assert len(source.queries) == 2


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_odd_timestamps_never_stretch_the_reuse_period(bad: float) -> None:
    """A span is at most the two hours asked for, whatever the answer's timestamps say."""

    class Odd(History):
        def instant(self, query: str, at: float) -> list[Series]:
            [a, b] = super().instant(query, at)
            return [Series(a.labels, ((bad, 1.0), (at - 1e9, 1.0), *a.points)), b]

    source, cache = Odd(NOISE_HISTORY), NoiseCache()
    noise_model(MEMORY, source, BLUE, AT, cache)
    noise_model(MEMORY, source, BLUE, AT + NOISE_REUSE_SHARE * NOISE_HISTORY + 1.0, cache)
    assert len(source.queries) == 2


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = NoiseCache(size=2)
    for name in ("a", "b"):
        cache.put(name, Learned(AT, NOISE_HISTORY, None))
    assert cache.get("a", AT) is not None  # "a" used: "b" is now the least recent
    cache.put("c", Learned(AT, NOISE_HISTORY, None))
    assert len(cache) == 2 and cache.get("b", AT) is None and cache.get("a", AT) is not None
    with pytest.raises(ValueError, match="size must be at least 1"):
        NoiseCache(size=0)


def test_the_operator_shares_one_cache_per_batched_endpoint() -> None:
    from controller.kube.reconciler import Reconciler

    batch = BatchingSource(None)
    through = batch.through(History(NOISE_HISTORY))
    assert Reconciler.noise_cache(None, through) is batch.noise  # type: ignore[arg-type]
    assert Reconciler.noise_cache(None, History(NOISE_HISTORY)) is None  # type: ignore[arg-type]
