"""Shared fixtures. Sections below are owned by the layer they serve."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# --- Kubernetes emulator fixtures (owner: kube/routers) -------------------------------------------
# `kube` (a running StrictEmulator) and `api_client` (official client pointed at it); see
# tests/kube/fixtures.py and tests/kube/emulator.py.
pytest_plugins = ["tests.kube.fixtures"]
# --- end Kubernetes emulator fixtures -------------------------------------------------------------


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def samples() -> list[Path]:
    found = sorted((REPO / "config" / "samples").glob("*.yaml"))
    assert found, "config/samples holds no sample rollouts"
    return found
