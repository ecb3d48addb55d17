"""The fault table: what each injected fault led to, printed at the end of the test run."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass
class FaultTable:
    rows: dict[tuple[str, str, str], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    restarts: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, scenario: str, boundary: str, mode: str, outcome: str, restarts: int) -> None:
        self.rows[(scenario, boundary, mode)][outcome] += 1
        self.restarts[(scenario, boundary, mode)] += restarts

    def lines(self) -> list[str]:
        if not self.rows:
            return []
        head = f"{'scenario':<16}{'boundary':<12}{'fault':<20}{'runs':>5}  outcome (every invariant held)"
        out = [head, "-" * len(head)]
        for (scenario, boundary, mode), outcomes in sorted(self.rows.items()):
            runs = sum(outcomes.values())
            what = ", ".join(f"{o} x{n}" for o, n in outcomes.most_common())
            restarts = self.restarts[(scenario, boundary, mode)]
            suffix = f" ({restarts} restarts)" if restarts else ""
            out.append(f"{scenario:<16}{boundary:<12}{mode:<20}{runs:>5}  {what}{suffix}")
        return out


FAULT_TABLE = FaultTable()
