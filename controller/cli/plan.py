"""``greenlane plan``: a rollout's step timeline and breach-detection bound, before any traffic moves.

Authors see how long a rollout takes at best and how long a sustained regression can last before the
rollback, and can tune ``interval``, ``failureLimit``, windows and pauses with numbers in front of them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from controller.cli.validate import add_file_arguments, file_names, load_all
from controller.core.plan import SCRAPE_LAG_SECONDS, RolloutPlan, StepPlan, plan
from controller.model.load import Loaded
from controller.model.quantities import format_duration


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="print the step timeline and worst-case detection time of rollouts",
        description="For each BlueGreenRollout: every step's weight, pause and earliest completion, the "
        "earliest promotion, and the worst-case time from a sustained breach to rollback.",
    )
    add_file_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output (seconds)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    names = file_names(args, "plan")
    if names is None:
        return 2
    loaded, problems = load_all(names, args.recursive)
    if args.json:
        print(json.dumps([_as_json(item, plan(item.rollout.spec)) for item in loaded], indent=2))
    else:
        print("\n\n".join(render(item, plan(item.rollout.spec)) for item in loaded))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _d(seconds: float) -> str:
    return "manual" if math.isinf(seconds) else format_duration(seconds)


def render(item: Loaded, timeline: RolloutPlan) -> str:
    spec = item.rollout.spec
    lines = [
        f"{item.rollout.key} ({item.source}:{item.line})",
        f"  {'step':>4}  {'weight':>6}  {'pause':<7}  {'bake':<7}  {'done by':<9}  limited by",
    ]
    for s in timeline.steps:
        done = _d(s.completes_at) + ("+" if _gated(timeline, s) else "")
        lines.append(f"  {s.number:>4}  {s.weight:>5}%  {_d(s.pause):<7}  {_d(s.bake):<7}  {done:<9}  {s.limited_by}")
    gates = f" + {timeline.manual_gates} manual gate(s)" if timeline.manual_gates else ""
    lines.append(f"  promotion: earliest {_d(timeline.promotion_at)}{gates} after preflight")
    lines.append(
        f"  blue scaled down: {_d(timeline.blue_scaled_down_at)}{gates} "
        f"(scaleDownBlueAfter {_d(spec.promotion.scale_down_blue_after)})"
    )
    slowest = timeline.slowest_detection
    lines.append(f"  sustained breach -> rollback, worst case: {_d(slowest.worst_case)} ({slowest.check})")
    lines.append(f"  {'check':<18}  {'window':<7}  {'critical':<8}  {'evaluations':<12}  worst case")
    for det in timeline.detections:
        evals = f"{det.evaluations} x {_d(spec.analysis.interval)}"
        critical = "yes" if det.critical else "no"
        lines.append(f"  {det.check:<18}  {_d(det.window):<7}  {critical:<8}  {evals:<12}  {_d(det.worst_case)}")
    lines.append(
        f"  worst case = max(window + {_d(SCRAPE_LAG_SECONDS)} scrape lag, warm-up for level checks)"
        " + evaluations x interval; '+' = after a human promote"
    )
    return "\n".join(lines)


def _gated(timeline: RolloutPlan, step: StepPlan) -> bool:
    """True when a human promote comes before this step can complete."""
    return any(s.manual and s.number <= step.number for s in timeline.steps)


def _as_json(item: Loaded, timeline: RolloutPlan) -> dict[str, Any]:
    return {
        "rollout": item.rollout.key,
        "source": f"{item.source}:{item.line}",
        "steps": [
            {
                "step": s.number,
                "weight": s.weight,
                "pause": _d(s.pause),
                "bakeSeconds": s.bake,
                "completesAtSeconds": s.completes_at,
                "manual": s.manual,
                "limitedBy": s.limited_by,
            }
            for s in timeline.steps
        ],
        "promotionAtSeconds": timeline.promotion_at,
        "blueScaledDownAtSeconds": timeline.blue_scaled_down_at,
        "manualGates": timeline.manual_gates,
        "worstCaseDetectionSeconds": timeline.slowest_detection.worst_case,
        "checks": [
            {
                "name": d.check,
                "windowSeconds": d.window,
                "critical": d.critical,
                "evaluations": d.evaluations,
                "worstCaseSeconds": d.worst_case,
            }
            for d in timeline.detections
        ],
    }
