"""The README's Phases and Events sections must keep up with the core."""

from __future__ import annotations

import re

from controller.core.events import REASONS
from controller.model.status import PHASES
from tests.conftest import REPO


def _section(title: str) -> str:
    readme = (REPO / "README.md").read_text()
    return readme.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_phase_has_a_row() -> None:
    rows = set(re.findall(r"^\| `(\w+)` \|", _section("Phases"), re.MULTILINE))
    assert rows == set(PHASES)


def test_the_events_table_is_exactly_the_fixed_list_of_reasons() -> None:
    rows = re.findall(r"^\| `(\w+)` \| (Normal|Warning) \|", _section("Events"), re.MULTILINE)
    assert dict(rows) == {reason: kind for reason, (kind, _) in REASONS.items()}
    assert all(re.fullmatch(r"(?:[A-Z][a-z]+)+", reason) for reason in REASONS)  # UpperCamelCase


def test_plan_is_in_the_cli_table() -> None:
    assert "| `greenlane plan -f FILE" in _section("CLI")
