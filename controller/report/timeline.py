"""Steps, weight spans and verdicts in time, from the run's weight changes and evaluations.

Green's weight history is the ground truth for "which step ran when": each rise to a step's weight starts
that step, the next change ends it (a rise completed it, a drop to 0 rolled it back), and the last one
runs to the report's end.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.model.spec import format_pause
from controller.report.model import Point, RolloutRun, StepSpan

OUTAGE = "Outage"


def weight_spans(weights: Sequence[Point], start: float, end: float) -> list[tuple[float, float, int]]:
    """``(from, to, weight)`` spans covering ``[start, end]``; before the first change green had 0%."""
    spans: list[tuple[float, float, int]] = []
    current, since = 0, start
    for changed, weight in sorted(weights):
        at = min(max(changed, start), end)
        if int(weight) == current:
            continue
        if at > since:
            spans.append((since, at, current))
        current, since = int(weight), at
    if end > since:
        spans.append((since, end, current))
    return spans


def _closing(next_weight: int | None, weight: int, phase: str) -> str:
    if next_weight is None:
        if phase == "Promoted" and weight == 100:
            return "promoted"
        return {"RolledBack": "rolled back", "Aborted": "aborted"}.get(phase, f"running ({phase})")
    if next_weight == 0:
        return "rolled back"
    return "completed" if next_weight > weight else f"lowered to {next_weight}%"


def step_spans(run: RolloutRun) -> list[StepSpan]:
    """Each step that took traffic, in order, with how long it baked and how it ended."""
    steps = run.spec.steps
    spans = weight_spans(run.weights, run.start, run.end)
    out: list[StepSpan] = []
    cursor = 0
    for i, (begin, finish, weight) in enumerate(spans):
        if weight <= 0:
            continue
        index = next((j for j in range(cursor, len(steps)) if steps[j].weight == weight), None)
        if index is None:  # a weight no step names (drift, a manual edit): show it, keep the cursor
            index = cursor
        else:
            cursor = index
        follows = spans[i + 1][2] if i + 1 < len(spans) else None
        outcome = _closing(follows, weight, run.phase)
        out.append(StepSpan(index, weight, format_pause(steps[index].pause), begin, finish, outcome))
    return out


def verdicts(run: RolloutRun, check: str) -> list[tuple[float, str]]:
    """``(time, verdict)`` of every evaluation of one check; an outage shows as its own kind."""
    out = []
    for evaluation in run.evaluations:
        for c in evaluation.checks:
            if c.name == check:
                out.append((evaluation.at, OUTAGE if c.outage else c.verdict))
    return out
