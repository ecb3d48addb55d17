"""Blue's noise models, learned once and reused while the history behind them has barely changed.

Why: a gauge check's noise model (:func:`controller.analysis.measure.noise_model`) is learned from two hours
of blue's raw samples. Fetched on every evaluation, that history was the largest answer the operator asked
for: in the scale bench it took over a quarter of the operator's CPU (decoding and learning the same two
hours again every 30 s) and it held most of the memory of each evaluation round. A model learned at ``t``
from a history spanning ``S`` seconds is reused up to ``t + NOISE_REUSE_SHARE * S``: a fresh query then
would see the same samples but for that last few percent, so the judge gets practically the same model.
The share is of the data's actual span, not of the two hours asked for: a young blue (the demo's, minutes
old) whose history grows quickly is learned again almost every time.

Never reused for an earlier instant (a backtest walking backwards must not see its future), never for
another query (namespace, pods with their template hash and the window are all in the key), and bounded:
the least recently used models go first, so the tracks of finished rollouts leave by themselves.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from controller.analysis.estimate import NoiseModel

NOISE_REUSE_SHARE = 0.05
"""Reuse a model while a fresh query would add at most this share of the history it was learned from."""


@dataclass(frozen=True)
class Learned:
    at: float
    """The instant the model was learned at."""
    span: float
    """Seconds of history the answer held (oldest sample to ``at``); 0 when there was none."""
    model: NoiseModel | None
    """None: the history was too short to learn from (reused all the same, for as long as its span allows)."""


class NoiseCache:
    """Learned noise models by query; thread-safe, at most ``size`` of them (least recently used go)."""

    def __init__(self, size: int = 20_000) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self._size = size
        self._items: OrderedDict[str, Learned] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, query: str, at: float) -> Learned | None:
        """The model learned for ``query`` if it may stand in for one learned at ``at``; None: learn again."""
        with self._lock:
            found = self._items.get(query)
            if found is None or not _reusable(found, at):
                self.misses += 1
                return None
            self._items.move_to_end(query)
            self.hits += 1
            return found

    def fresh(self, query: str, at: float) -> bool:
        """Whether :meth:`get` would reuse a model at ``at`` (a forecast: counts nothing, moves nothing)."""
        with self._lock:
            found = self._items.get(query)
            return found is not None and _reusable(found, at)

    def put(self, query: str, learned: Learned) -> None:
        with self._lock:
            self._items[query] = learned
            self._items.move_to_end(query)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def _reusable(learned: Learned, at: float) -> bool:
    return 0.0 <= at - learned.at <= NOISE_REUSE_SHARE * learned.span
