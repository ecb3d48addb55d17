"""Finding servers and interpreters: overrides, PATH, versioned dirs, and messages that say what to do."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from controller.sandbox.binaries import find_program, find_server_binaries, postgres_dirs
from controller.sandbox.errors import MissingDependencyError
from controller.sandbox.pythons import Interpreter, find_python, probe
from tests.sandbox.helpers import require


def _exe(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_path_wins_over_extra_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = _exe(tmp_path / "bin" / "haproxy")
    _exe(tmp_path / "sbin" / "haproxy")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_program(["haproxy"], package="haproxy", extra_dirs=[str(tmp_path / "sbin")]) == on_path


def test_extra_dirs_cover_sbin_missing_from_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sbin = _exe(tmp_path / "sbin" / "haproxy")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_program(["haproxy"], package="haproxy", extra_dirs=[str(sbin.parent)]) == sbin


def test_env_override_names_one_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pinned = _exe(tmp_path / "custom" / "my-exporter")
    monkeypatch.setenv("GREENLANE_POSTGRES_EXPORTER", str(pinned))
    found = find_program(["prometheus-postgres-exporter", "postgres_exporter"], package="x", extra_dirs=[])
    assert found == pinned


def test_missing_program_names_package_and_install_script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependencyError) as err:
        find_program(["prometheus"], package="prometheus", extra_dirs=[])
    assert "`prometheus`" in str(err.value)
    assert "scripts/install-system-deps.sh" in str(err.value)
    assert "GREENLANE_PROMETHEUS" in str(err.value)


def test_postgres_dirs_newest_version_first(tmp_path: Path) -> None:
    for version in ("9.6", "15", "13"):
        (tmp_path / "postgresql" / version / "bin").mkdir(parents=True)
    found = postgres_dirs([str(tmp_path / "postgresql" / "*" / "bin")])
    assert [p.parent.name for p in found] == ["15", "13", "9.6"]


@pytest.mark.servers
def test_real_server_binaries_are_executable() -> None:
    bins = require(find_server_binaries)
    for path in vars(bins).values():
        assert os.access(path, os.X_OK), path
    assert bins.initdb.parent == bins.postgres.parent == bins.pg_isready.parent


def test_probe_reports_real_executable_and_exact_version() -> None:
    found = probe(sys.executable)
    assert found.version == ".".join(map(str, sys.version_info[:3]))
    assert found.minor == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_explicit_interpreter_is_taken_even_if_it_is_not_the_expected_minor() -> None:
    """The wrong-python scenario passes 3.11 as green; discovery reports it, the rollout judges it."""
    assert find_python("3.99", explicit=sys.executable).minor != "3.99"


def test_broken_explicit_interpreter_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MissingDependencyError, match="not a working Python interpreter"):
        find_python("3.12", explicit=_exe(tmp_path / "python3.12"))


def test_missing_minor_says_how_to_install_it() -> None:
    with pytest.raises(MissingDependencyError, match=r"pyenv install 3\.98"):
        find_python("3.98")


@pytest.mark.servers
def test_both_demo_interpreters_are_found(python311: Interpreter, python312: Interpreter) -> None:
    assert python311.minor == "3.11"
    assert python312.minor == "3.12"
    assert python311.path.is_absolute()
    assert python312.path.is_absolute()
