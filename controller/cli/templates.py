"""``greenlane templates``: print each builtin template's PromQL and the series it needs.

So nobody has to guess why a query is empty: compare the required series with what your Prometheus has.
"""

from __future__ import annotations

import argparse

from controller.analysis.promql import POD_SUFFIX
from controller.analysis.templates import BUILTIN, TRAFFIC_PROBE, Template
from controller.model.quantities import format_duration


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "templates",
        help="print the builtin templates' PromQL and required input series",
        description="Print every builtin template (or the named ones): PromQL with its {{ variables }}, "
        "the input series it reads and its default window.",
    )
    parser.add_argument("names", nargs="*", metavar="TEMPLATE", help="e.g. latency memory")
    parser.set_defaults(handler=run)


def describe(template: Template) -> str:
    lines = [f"{template.key}: {template.description}", f"  default window: {format_duration(template.default_window)}"]
    lines += [f"  reads:    {series}" for series in template.inputs]
    if template.level:
        lines.append(f"  query:    {template.level}")
    if template.buckets:
        lines.append(f"  buckets:  {template.buckets}")
    if template.errors:
        lines.append(f"  errors:   {template.errors}")
    if template.requests:
        lines.append(f"  requests: {template.requests}")
    if template.raw:
        how = "mean over pods of each pod's sum" if template.aggregation == "per-pod" else "sum over all series"
        lines.append(f"  samples:  {template.raw}")
        lines.append(f"  level = window average, slope = Theil-Sen per series; track value = {how}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    known = sorted({t.name for t in BUILTIN.values()})
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"greenlane templates: unknown template(s) {unknown}; known: {', '.join(known)}")
        return 2
    chosen = [t for t in BUILTIN.values() if not args.names or t.name in args.names]
    print(
        "variables: {{ namespace }}, {{ deployment }}, {{ window }}, {{ quantile }}, {{ container }} "
        f"(default .+), {{{{ pods }}}} (default <deployment>{POD_SUFFIX})\n"
    )
    print("\n\n".join(describe(t) for t in chosen))
    print("\ngreen serving traffic? (decides Fail vs Inconclusive when a template finds no series):")
    print(f"  {TRAFFIC_PROBE}")
    return 0
