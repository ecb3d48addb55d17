"""Sandbox start-up and shutdown: nothing outlives it, on success or on a failed start."""

from __future__ import annotations

import pytest

from controller.sandbox import MissingDependencyError, Sandbox, SandboxConfig
from controller.sandbox.pythons import Interpreter
from tests.sandbox.helpers import child_pids, pid_alive, require

pytestmark = [pytest.mark.servers, pytest.mark.e2e]


def test_wrong_python_green_runs_and_everything_is_stopped_and_removed(
    python311: Interpreter,
    python312: Interpreter,
) -> None:
    before = child_pids()
    with require(Sandbox(SandboxConfig(green_python=python311.path, load_rps=5)).start) as sb:
        assert sb.green.python_version == python311.version  # reported, not refused: the rollout judges
        assert sb.green.deployment == "checkout-py312"
        pids = [sb.app_pid("blue"), sb.app_pid("green")]
        state = sb.state_dir
        assert all(pid is not None and pid_alive(pid) for pid in pids)
        assert child_pids() - before
        assert sb.start() is sb  # idempotent: still one platform, one state dir
        assert sb.state_dir == state
    assert not any(pid_alive(pid) for pid in pids if pid is not None)
    assert len(pids) == 2
    assert child_pids() - before == set()
    assert not state.exists()


def test_failed_start_stops_what_already_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, python311: Interpreter, python312: Interpreter
) -> None:
    monkeypatch.setenv("GREENLANE_EXPORTER_QUERIES", "/nonexistent/queries.yaml")
    before = child_pids()
    sb = Sandbox(SandboxConfig())
    with pytest.raises(MissingDependencyError, match="GREENLANE_EXPORTER_QUERIES"):
        sb.start()  # fails after PostgreSQL and both apps are already running
    assert child_pids() - before == set()


def test_keep_leaves_state_for_inspection(python311: Interpreter, python312: Interpreter) -> None:
    sb = require(Sandbox(SandboxConfig(keep=True, load_rps=5)).start)
    state = sb.state_dir
    sb.stop()
    try:
        assert (state / "prometheus.yml").is_file()
        assert (state / "logs" / "haproxy.log").is_file()
    finally:
        import shutil

        shutil.rmtree(state, ignore_errors=True)


def test_the_packaged_exporter_query_file_is_the_one_users_deploy() -> None:
    from controller.sandbox.servers.postgres import exporter_queries_path
    from tests.conftest import REPO

    shipped = exporter_queries_path()
    assert "controller" in shipped.parts and shipped.is_file()
    assert shipped.read_bytes() == (REPO / "config" / "prometheus" / "postgres-exporter-queries.yaml").read_bytes()
