"""One real Prometheus per test session, backfilled with every scenario's traces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.analysis import PrometheusSource
from tests.analysis.prometheus_server import backfill, running
from tests.analysis.scenarios import SCENARIOS
from tests.analysis.traces import render


@pytest.fixture(scope="session")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("prometheus")
    data = root / "data"
    backfill(render(SCENARIOS), data)
    with running(data) as url:
        yield url


@pytest.fixture
def source(prometheus_url: str) -> Iterator[PrometheusSource]:
    src = PrometheusSource(prometheus_url, timeout=10, attempts=2, backoff=0.05)
    yield src
    src.close()


def write_manifest(path: Path, document: object) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(document))
    return path
