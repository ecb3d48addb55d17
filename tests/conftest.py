"""Shared fixtures. Sections below are owned by the layer they serve."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from controller.sandbox.binaries import ServerBinaries, find_server_binaries
from controller.sandbox.pythons import Interpreter, find_python
from controller.sandbox.venvs import AppVenv, ensure_venv
from tests.sandbox.helpers import require

REPO = Path(__file__).resolve().parent.parent

# --- Hypothesis ----------------------------------------------------------------------------------------------------
# No per-example deadline: Hypothesis' default 200 ms is wall-clock time, which a slow, busy CI machine exceeds on
# examples that are cheap on a quiet one, and one such flake fails the run. Everything else stays at Hypothesis'
# defaults (tests that derandomize or set their own examples keep doing so with their own @settings).
settings.register_profile("greenlane", deadline=None)
settings.load_profile("greenlane")
# --- end Hypothesis ------------------------------------------------------------------------------------------------

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


# ---- sandbox: real server binaries, interpreters and app venvs ----------------------------------
# A missing binary FAILS with its install hint (CI installs them); GREENLANE_ALLOW_SKIP=1 skips.


@pytest.fixture(scope="session")
def server_binaries() -> ServerBinaries:
    return require(find_server_binaries)


@pytest.fixture(scope="session")
def python311() -> Interpreter:
    return require(lambda: find_python("3.11"))


@pytest.fixture(scope="session")
def python312() -> Interpreter:
    return require(lambda: find_python("3.12"))


@pytest.fixture(scope="session")
def app_venvs(python311: Interpreter, python312: Interpreter) -> dict[str, AppVenv]:
    """Both app venvs from the user's real cache, so repeated test runs stay fast."""
    return {"3.11": ensure_venv(python311), "3.12": ensure_venv(python312)}
