"""What one check asks of the metric source: its queries, unit, window and traffic floor.

Resolving a check into a plan once keeps the measuring and judging code free of template lookups, and
gives custom queries and builtin templates the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.analysis.templates import (
    CUSTOM_DEFAULT_WINDOW,
    SLOPE_DEFAULT_WINDOW,
    Template,
    template_for,
)
from controller.analysis.units import NUMBER, Unit
from controller.model.spec import Check

SLOPE_THRESHOLDS = frozenset({"max_slope", "max_slope_over_blue"})
BLUE_THRESHOLDS = frozenset({"max_ratio_to_blue", "max_increase_over_blue", "max_slope_over_blue"})
DEFAULT_QUANTILE = 0.99


@dataclass(frozen=True)
class Plan:
    check: Check
    template: Template | None
    unit: Unit
    window: float
    min_requests: int

    @property
    def level_query(self) -> str | None:
        return self.check.query if self.template is None else self.template.level

    @property
    def needs_slope(self) -> bool:
        return bool(SLOPE_THRESHOLDS & self.check.thresholds().keys())

    @property
    def needs_blue(self) -> bool:
        return bool(BLUE_THRESHOLDS & self.check.thresholds().keys())

    @property
    def traffic(self) -> bool:
        return self.template is not None and self.template.traffic

    @property
    def quantile(self) -> float:
        return self.check.quantile or DEFAULT_QUANTILE


def plan_for(check: Check) -> Plan:
    if check.template is None:
        default = SLOPE_DEFAULT_WINDOW if SLOPE_THRESHOLDS & check.thresholds().keys() else CUSTOM_DEFAULT_WINDOW
        return Plan(check, None, NUMBER, check.window or default, 0)
    template = template_for(check.template, check.source)
    min_requests = template.default_min_requests if check.min_requests is None else check.min_requests
    return Plan(check, template, template.unit, check.window or template.default_window, min_requests)
