"""What analysis needs from a metric store, and the two ways a query can go wrong.

The evaluation code depends on this Protocol, not on Prometheus, so the demo and tests can plug in any
source. The two errors are kept apart on purpose: an unavailable store says nothing about green
(Inconclusive, the rollout holds), while a rejected query means the template or query is wrong (Fail).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Series:
    """One labelled series: a single point for an instant vector, many for a range."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...] = field(default=())

    @property
    def value(self) -> float:
        """The last value (the only one for an instant vector)."""
        return self.points[-1][1]


class SourceUnavailable(Exception):
    """The store could not answer: unreachable, timing out, 5xx after retries, refused credentials."""


class QueryRejected(Exception):
    """The store understood the request and refused the query (HTTP 400/422): the PromQL is wrong."""

    def __init__(self, query: str, status: int, error_type: str, error: str) -> None:
        super().__init__(f"HTTP {status} {error_type}: {error}")
        self.query = query
        self.status = status
        self.error_type = error_type
        self.error = error


class MetricSource(Protocol):
    """Evaluates PromQL at a given instant; ``at`` and ranges are unix seconds."""

    def instant(self, query: str, at: float) -> list[Series]:
        """Instant query; a range selector (``x[5m]``) returns raw samples with their own timestamps."""
        ...

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        """Range query evaluated every ``step`` seconds from ``start`` to ``end``."""
        ...
