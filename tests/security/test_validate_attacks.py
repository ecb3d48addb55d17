"""Issue 11's resource-exhaustion and bad-value attacks, replayed from the user's side: ``greenlane validate``
as a child process on hostile files. Each fails with exit 1 and one line naming the line or field, and
costs, beyond starting the CLI at all, well under 1 s of CPU and 100 MB of memory (the issue's bound),
measured by the kernel for that child (the cheaper of two runs when over budget, against the cheapest of three
start-ups, so one slow child on a busy machine does not decide). Figures are printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.model.broken import sample
from tests.security.child import Run, greenlane

CPU_BUDGET = 1.0  # seconds beyond the CLI's own start-up (imports), from the issue: "well under 1 s"
RSS_BUDGET = 100.0  # MB beyond start-up, from the issue: "well under 100 MB"
Doc = dict[str, Any]


def cheapest(runs: list[Run]) -> Run:
    """The first run's outcome with the least CPU and peak RSS any of the runs needed.

    A busy machine can only add to a child's cost (contention, cold caches), never take from it, so the
    cheapest of a few runs is the closest to what the input itself costs.
    """
    return replace(
        runs[0],
        cpu_seconds=min(r.cpu_seconds for r in runs),
        peak_rss_mb=min(r.peak_rss_mb for r in runs),
    )


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Validating the valid sample: the cost of starting the CLI, which every run pays (cheapest of three)."""
    path = tmp_path_factory.mktemp("baseline") / "ok.yaml"
    path.write_text(yaml.safe_dump(sample()))
    runs = [greenlane("validate", "-f", path) for _ in range(3)]
    for run in runs:
        assert run.code == 0, run.output
    best = cheapest(runs)
    print(f"\nbaseline: {best.cpu_seconds:.2f} s CPU, {best.peak_rss_mb:.0f} MB peak RSS (cheapest of 3)")
    return best


def alias_bomb() -> str:
    """The classic 342-byte billion laughs: 9^9 = 387 million strings once expanded."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def merge_bomb() -> str:
    """Merge keys copy mappings inside PyYAML itself: 10 keys, merged 10 times per level, 8 levels."""
    lines = ["m0: &m0 {" + ", ".join(f"k{i}: {i}" for i in range(10)) + "}"]
    for level in range(1, 9):
        merged = ", ".join([f"*m{level - 1}"] * 10)
        lines.append(f"m{level}: &m{level} {{<<: [{merged}]}}")
    return "\n".join(lines) + "\n"


def deep_flow() -> str:
    return "spec: " + "[" * 100_000 + "]" * 100_000 + "\n"


def deep_block() -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "leaf: 1\n"


def with_query(size: int) -> str:
    doc = sample()
    doc["spec"]["analysis"]["checks"][4]["query"] = "sum(up)" + " " * (size - 7)
    return yaml.safe_dump(doc, width=10**9)


def with_annotations(size: int) -> str:
    doc = sample()
    doc["metadata"]["annotations"] = {"example.com/blob": "x" * size}
    return yaml.safe_dump(doc, width=10**9)


ATTACKS: dict[str, tuple[Callable[[], str], str]] = {
    "alias-bomb": (alias_bomb, "refused at line 5, column 4: expands to more than 50000 values"),
    "merge-key-bomb": (merge_bomb, "expands to more than 50000 values"),
    "deep-flow-nesting": (deep_flow, "nesting depth"),
    "deep-block-nesting": (deep_block, "refused at line 64, column 127: nested deeper than 64 levels"),
    "10MB-query": (lambda: with_query(10 * 2**20), "larger than 8 MiB; greenlane reads at most that at once"),
    "2MB-query": (lambda: with_query(2 * 2**20), "the document starting at line 1 is 2.0 MiB; Kubernetes stores"),
    "5KB-query": (lambda: with_query(5000), "spec.analysis.checks[4].query: query is 5000 characters; at most 4096"),
    "10MB-annotations": (lambda: with_annotations(10 * 2**20), "larger than 8 MiB"),
    "2MB-annotations": (lambda: with_annotations(2 * 2**20), "is 2.0 MiB; Kubernetes stores objects of at most"),
    "300KB-annotations": (
        lambda: with_annotations(300 * 1024),
        "metadata.annotations: annotations total 307216 bytes; the API server accepts at most 262144",
    ),
}


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_hostile_input_fails_fast_with_a_clear_line(attack: str, tmp_path: Path, baseline: Run) -> None:
    make, expected = ATTACKS[attack]
    path = tmp_path / f"{attack}.yaml"
    path.write_text(make())
    run = greenlane("validate", "-f", path)
    if run.cpu_seconds - baseline.cpu_seconds >= CPU_BUDGET or run.peak_rss_mb - baseline.peak_rss_mb >= RSS_BUDGET:
        # Over budget: one slow child on a busy machine must not fail the test, so the cheaper of two runs
        # counts. A real regression (the alias bomb once took 4.8 GB and 55 s) is over budget both times.
        run = cheapest([run, greenlane("validate", "-f", path)])
    extra_cpu, extra_rss = run.cpu_seconds - baseline.cpu_seconds, run.peak_rss_mb - baseline.peak_rss_mb
    print(
        f"\n{attack} ({path.stat().st_size} bytes): exit {run.code}, {run.cpu_seconds:.2f} s CPU "
        f"(+{extra_cpu:.2f}), {run.peak_rss_mb:.0f} MB peak RSS (+{extra_rss:.0f})"
    )
    assert run.code == 1, run.output
    assert expected in run.output, run.output
    assert "Traceback" not in run.output
    assert len(run.output) < 1000, "one line per problem, not the input echoed back"
    assert extra_cpu < CPU_BUDGET, f"{attack}: {extra_cpu:.2f} s of CPU beyond start-up"
    assert extra_rss < RSS_BUDGET, f"{attack}: {extra_rss:.0f} MB beyond start-up"


def _set(doc: Doc, path: list[str | int], value: Any) -> Doc:
    out = copy.deepcopy(doc)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


ANALYSIS, CHECKS = ["spec", "analysis"], ["spec", "analysis", "checks"]
HAPROXY = {"socket": "/run/haproxy/admin.sock", "backend": "app", "blueServer": "blue", "greenServer": "green"}
BAD_VALUES: list[tuple[list[str | int], Any, str]] = [
    ([*ANALYSIS, "interval"], "0s", "spec.analysis.interval: must be between 1s and 1h"),
    ([*ANALYSIS, "prometheus", "timeout"], "0s", "spec.analysis.prometheus.timeout: must be between 1s and 5m"),
    ([*CHECKS, 0, "window"], "0s", "spec.analysis.checks[0].window: must be between 10s and 1d"),
    ([*CHECKS, 1, "max"], float("nan"), "spec.analysis.checks[1].max: must be a finite number"),
    ([*CHECKS, 1, "max"], float("inf"), "spec.analysis.checks[1].max: must be a finite number"),
    ([*ANALYSIS, "failureLimit"], 10**20, "spec.analysis.failureLimit: must be less than or equal to 100"),
    (["spec", "steps", 0, "pause"], "99999999999d", "spec.steps[0].pause: invalid duration"),
    (["spec", "steps", 0, "pause"], "999999999d", "spec.steps[0].pause: must be between 0s and 7d"),
    ([*ANALYSIS, "prometheus", "headers"], {"X-Org": "a\r\nX-Evil: 1"}, "prometheus.headers.X-Org: header values"),
    (["spec", "trafficRouting"], {"haproxy": {**HAPROXY, "backend": "app;"}}, "trafficRouting.haproxy.backend:"),
    (["spec", "trafficRouting"], {"haproxy": {**HAPROXY, "greenServer": "g\nx"}}, "haproxy.greenServer:"),
    ([*CHECKS, 4, "query"], 'sum(up{pod=~"{{ pods"} or vector(1) }}"})', "checks[4].query: malformed template"),
    (["spec", "trafficRouting", "gatewayAPI", "rule"], "ma\u200bin", "spec.trafficRouting.gatewayAPI.rule:"),
    (["spec", "trafficRouting"], {"istio": {"virtualService": "vs", "route": "pri\u200bmary"}}, "istio.route:"),
]


def test_values_that_break_the_operator_later_are_refused_now(tmp_path: Path, baseline: Run) -> None:
    """One multi-document file, one bad value per document: every document gets its own line."""
    docs = [_set(sample(), path, value) for path, value, _ in BAD_VALUES]
    path = tmp_path / "bad-values.yaml"
    path.write_text(yaml.safe_dump_all(docs, allow_unicode=True))
    run = greenlane("validate", "-f", path)
    print(f"\nbad values: exit {run.code}, {run.cpu_seconds:.2f} s CPU, {run.peak_rss_mb:.0f} MB peak RSS")
    assert run.code == 1
    lines = run.output.splitlines()
    text = path.read_text().splitlines()
    starts = [1] + [n + 1 for n, line in enumerate(text, start=1) if line == "---"] + [len(text) + 2]
    for index, (_, value, expected) in enumerate(BAD_VALUES, start=1):
        first, last = starts[index - 1], starts[index] - 1  # the document's own lines
        mine = [line for line in lines if _line_of(line, path) in range(first, last + 1)]
        assert mine and any(expected in line for line in mine), f"document {index} ({value!r}): {mine}"
    assert "Traceback" not in run.output


def _line_of(output: str, path: Path) -> int:
    """The line number ``validate`` printed (``<file>:<line> …``), 0 when the line is not a problem."""
    head = output.split(" ", 1)[0]
    number = head.removeprefix(f"{path}:")
    return int(number) if head.startswith(f"{path}:") and number.isdigit() else 0
