"""Fixtures for the ship tests: real helm/kubectl binaries and rendered manifests.

The binaries are required: when they cannot be fetched the tests fail, because a chart that was
never rendered is not a tested chart. ``GREENLANE_ALLOW_SKIP=1`` turns that into a skip for machines
without any package index (say so in the PR when you use it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.ship.k8s_tools import K8sTools, ToolsUnavailable, ensure_tools


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a clean virtualenv with greenlane installed from its wheel (not editable, no checkout)."""
    root = tmp_path_factory.mktemp("installed")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("greenlane-*.whl")
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    return bin_dir


@pytest.fixture(scope="session")
def tools() -> K8sTools:
    try:
        return ensure_tools()
    except ToolsUnavailable as exc:
        if os.environ.get("GREENLANE_ALLOW_SKIP") == "1":
            pytest.skip(f"helm/kubectl unavailable: {exc}")
        pytest.fail(f"helm/kubectl unavailable (GREENLANE_ALLOW_SKIP=1 to skip): {exc}")
