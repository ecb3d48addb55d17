"""The fixed set of evidence spans a fleet's evaluations share (three per doubling), and how a span grows.

Shared by the judge (``evaluate``: which window a step's evidence is cut to) and the batch
(``batch``: which grouped queries a track will ask next), so the two can never disagree on the grid.
"""

from __future__ import annotations

import math

SHARED_SPANS_PER_DOUBLING = 3
"""Evidence windows other than a check's own ``window`` are cut to one of a fixed set of spans, three per
doubling (..., 12 s, 16 s, 20 s, 25 s, 32 s, 40 s, 50 s, 64 s, ...): at most a fifth of the evidence is left
out, and a fleet's rollouts, whose steps began at different moments, ask Prometheus for a few dozen distinct
windows rather than one each, so the operator's batched queries (``analysis/batch.py``) still serve them."""


def shared_span(span: float) -> float:
    """The longest span of the fixed set (``SHARED_SPANS_PER_DOUBLING``) that is not longer than ``span``."""
    if not math.isfinite(span) or span < 1:
        return span
    k = math.floor(math.log2(span) * SHARED_SPANS_PER_DOUBLING + 1e-9)
    if _member(k + 1) <= span:  # the set's members are whole seconds: 203 is a member (2^(23/3) = 203.19...)
        k += 1
    return float(_member(k))


def _member(k: int) -> int:
    return max(1, math.floor(2 ** (k / SHARED_SPANS_PER_DOUBLING) + 1e-9))


def on_grid(span: float) -> bool:
    return math.isfinite(span) and span >= 1 and shared_span(span) == span


def next_spans(span: float, growth: float) -> list[float]:
    """The shared spans a window cut to ``span`` may be cut to next, once ``growth`` more seconds have passed.

    The uncut span lies in [span, next); ``growth`` later it lies below next + growth, so every shared span
    above ``span`` up to ``shared_span(next + growth)`` may come next (at least the one right above).
    """
    if not on_grid(span):
        return []
    k = math.floor(math.log2(span) * SHARED_SPANS_PER_DOUBLING + 1e-9) + 1
    out: list[float] = []
    while len(out) < 64:
        member = float(_member(k))
        k += 1
        if member <= span or (out and member == out[-1]):
            continue
        if out and member > shared_span(out[0] + growth):
            break
        out.append(member)
    return out
