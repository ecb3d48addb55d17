"""App venvs: cached per interpreter, rebuilt when incomplete or when the interpreter changes."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from controller.sandbox.pythons import Interpreter
from controller.sandbox.venvs import MARKER, AppVenv, cache_key, default_cache_dir, ensure_venv


def test_cache_dir_honours_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "greenlane" / "venvs"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "greenlane" / "venvs"


@pytest.mark.servers
def test_key_changes_with_interpreter_and_requirements(python311: Interpreter, python312: Interpreter) -> None:
    base = cache_key(python312, "psycopg\n")
    assert base.startswith(f"py{python312.version}-")
    assert cache_key(python312, "psycopg\n") == base
    assert cache_key(python312, "psycopg\nprometheus_client\n") != base
    assert cache_key(python311, "psycopg\n") != base
    relabelled = dataclasses.replace(python312, version=python312.version + "1")
    assert cache_key(relabelled, "psycopg\n") != base


@pytest.mark.servers
def test_both_venvs_report_their_exact_version(app_venvs: dict[str, AppVenv]) -> None:
    for minor, venv in app_venvs.items():
        assert venv.version.startswith(minor + ".")
        out = subprocess.run(
            [
                str(venv.python),
                "-c",
                "import platform, psycopg, prometheus_client, psycopg_pool;print(platform.python_version())",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == venv.version


@pytest.mark.servers
@pytest.mark.slow
def test_cold_build_then_warm_reuse_then_rebuild_when_incomplete(python312: Interpreter, tmp_path: Path) -> None:
    cold = ensure_venv(python312, tmp_path)
    assert cold.built
    warm = ensure_venv(python312, tmp_path)
    assert (warm.built, warm.path) == (False, cold.path)
    assert warm.seconds < cold.seconds
    (cold.path / MARKER).unlink()  # as after an interrupted build
    assert ensure_venv(python312, tmp_path).built
