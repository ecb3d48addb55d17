"""How a check's numbers read to a human: seconds, percentages, bytes, counts, and their slopes.

In the model (pure formatting) so that analysis messages, the CLI and notifications share one spelling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from controller.model.quantities import format_bytes, format_rate

UnitName = Literal["seconds", "ratio", "bytes", "count", "number"]


@dataclass(frozen=True)
class Unit:
    name: UnitName

    def value(self, x: float) -> str:
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "+Inf" if x > 0 else "-Inf"
        if self.name == "seconds":
            return f"{x * 1000:.0f}ms" if abs(x) < 0.1 else f"{x:.3g}s"
        if self.name == "ratio":
            return f"{x * 100:.3g}%"
        if self.name == "bytes":
            return format_bytes(x)
        if self.name == "count":
            return f"{x:.1f}" if x != round(x) else f"{x:.0f}"
        return f"{x:.4g}"

    def delta(self, x: float) -> str:
        """A signed difference (``+1.9%``, ``+12.0 MiB``)."""
        sign = "+" if x >= 0 else "-"
        return sign + self.value(abs(x))

    def slope(self, per_second: float) -> str:
        """A per-hour trend (``+41.8 MiB/h``)."""
        if self.name == "bytes":
            return format_rate(per_second, binary=True)
        if self.name == "ratio":
            return f"{per_second * 3600 * 100:+.3g}%/h"
        if self.name == "seconds":
            return f"{per_second * 3600:+.3g}s/h"
        return format_rate(per_second)


SECONDS = Unit("seconds")
RATIO = Unit("ratio")
BYTES = Unit("bytes")
COUNT = Unit("count")
NUMBER = Unit("number")
