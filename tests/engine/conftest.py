from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
import structlog

from tests.engine.report import FAULT_TABLE


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Injected failures log tracebacks by design; capture them instead of rendering thousands."""
    with structlog.testing.capture_logs() as logs:
        yield logs


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = FAULT_TABLE.lines()
    if lines:
        terminalreporter.section("fault injection: fault -> outcome")
        for line in lines:
            terminalreporter.write_line(line)
