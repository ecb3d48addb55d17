"""The seam between analysis and the core: one check's verdict with the numbers behind it.

Analysis produces these (from Prometheus, or from the sandbox); the core only reads them. Keeping the
type here, below analysis, lets the core stay free of any metric source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verdict = Literal["Pass", "Fail", "Inconclusive"]
PASS: Verdict = "Pass"
FAIL: Verdict = "Fail"
INCONCLUSIVE: Verdict = "Inconclusive"


@dataclass(frozen=True)
class CheckResult:
    """One evaluation of one check.

    ``green``/``blue`` are the judged values in the check's own unit (seconds, ratio, bytes, bytes/s…);
    ``threshold`` is the limit as a human reads it ("<= 1.10x blue"); ``message`` is the full sentence
    used in status, events and logs ("p99-latency 0.41s is 1.31x blue 0.31s, limit 1.10x").
    ``outage`` marks an Inconclusive caused by Prometheus being unreachable or erroring, which holds
    the rollout instead of counting against green.
    """

    name: str
    verdict: Verdict
    message: str
    green: float | None = None
    blue: float | None = None
    threshold: str = ""
    samples: int = 0
    outage: bool = False
    unit: str = ""
    """Base unit of the values: ``seconds``, ``ratio``, ``bytes``, ``count`` or ``number``."""
    measure: Literal["level", "slope"] = "level"
    """Whether ``green``/``blue`` are levels or slopes (per second): the threshold that decided."""
    levels: tuple[float | None, float | None] | None = None
    """(green, blue) levels over the window, whatever threshold decided."""
    slopes: tuple[float | None, float | None] | None = None
    """(green, blue) trends per second, when the check has a slope threshold."""


def overall(results: list[CheckResult] | tuple[CheckResult, ...]) -> Verdict:
    """Fail if any check fails, else Inconclusive if any is inconclusive, else Pass (and never Pass on nothing)."""
    verdicts = {r.verdict for r in results}
    if FAIL in verdicts:
        return FAIL
    if INCONCLUSIVE in verdicts or not results:
        return INCONCLUSIVE
    return PASS
