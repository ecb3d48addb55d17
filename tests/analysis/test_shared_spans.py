"""Evidence windows come from a small shared set, so a fleet's evaluations can share Prometheus queries.

Each rollout's step began at its own moment; judged as they are, a thousand baking rollouts would ask for a
thousand different ``[window]``s per round and the batched queries (``analysis/batch.py``) could not serve
them together. These tests pin what sharing may cost (at most a fifth of the evidence) and what it must not
touch (a check's own window; the evidence a check needs before it may judge).
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from controller.analysis.evaluate import evidence_starts, min_level_span
from controller.analysis.plan import plan_for
from controller.analysis.spans import next_spans, on_grid, shared_span
from controller.core.judging import Judging
from controller.model.spec import Check

AT = 1_800_000_000.0
LATENCY = plan_for(Check.model_validate({"name": "p99", "template": "latency", "maxRatioToBlue": 1.1}))
MEMORY = plan_for(Check.model_validate({"name": "memory", "template": "memory", "maxSlopeOverBlue": "5Mi/h"}))


@given(st.floats(min_value=1.0, max_value=4 * 3600.0))
def test_a_shared_span_keeps_at_least_four_fifths_of_the_evidence(span: float) -> None:
    shared = shared_span(span)
    assert shared <= span
    assert shared >= 0.79 * span - 1.0  # a fifth, and the rounding down to whole seconds


def test_a_fleet_of_step_starts_asks_for_a_few_dozen_windows_not_one_each() -> None:
    windows: set[float] = set()
    needed = min_level_span(LATENCY.window)  # younger steps wait and query nothing
    for i in range(10_000):  # steps that began anywhere in the last four hours, a second apart or more
        judging = Judging(step_started=AT - needed - (i * 1.37) % (4 * 3600), warmup_until=None)
        windows.update(round(AT - start, 6) for start in evidence_starts(LATENCY, judging, AT))
    assert len(windows) <= 30, sorted(windows)


def test_the_checks_own_window_is_never_cut() -> None:
    long_ago = Judging(step_started=AT - 3 * 3600, warmup_until=None)
    spans = [AT - start for start in evidence_starts(LATENCY, long_ago, AT)]
    assert LATENCY.window in spans, spans
    gauge = [AT - start for start in evidence_starts(MEMORY, Judging(), AT)]
    assert gauge == [MEMORY.window]


@given(st.floats(min_value=0.0, max_value=3600.0))
def test_sharing_never_leaves_less_than_a_check_needs(age: float) -> None:
    judging = Judging(step_started=AT - age, warmup_until=None)
    starts = evidence_starts(LATENCY, judging, AT)
    needed = min_level_span(LATENCY.window)
    for start in starts:
        assert AT - start <= max(age, LATENCY.window) + 1e-6
        if age >= needed:
            assert AT - start >= needed - 1e-6


@given(st.floats(min_value=1.0, max_value=1e7))
def test_the_shared_span_is_the_longest_member_not_longer(span: float) -> None:
    """Members are whole seconds (floor of 2^(k/3)): 203 is one, so a span of exactly 203 s keeps 203 s."""
    members = sorted({float(max(1, math.floor(2 ** (k / 3) + 1e-9))) for k in range(0, 80)})
    assert shared_span(span) == max(m for m in members if m <= span)
    assert on_grid(shared_span(span))


@given(st.floats(min_value=64.0, max_value=4 * 3600.0), st.floats(min_value=0.0, max_value=600.0))
def test_next_spans_hold_every_span_a_growing_window_can_be_cut_to(uncut: float, growth: float) -> None:
    """Whatever the uncut span behind a shared one, ``growth`` seconds later it is cut to one of next_spans."""
    now = shared_span(uncut)
    later = shared_span(uncut + growth)
    ahead = next_spans(now, growth)
    assert ahead == sorted(set(ahead)) and all(s > now and on_grid(s) for s in ahead)
    assert later == now or later in ahead, (now, later, ahead)
    assert len(ahead) <= 2 + growth / (0.25 * now), "a span's successors are few: no query for every window"
