"""A throwaway PostgreSQL cluster and its postgres_exporter, both on loopback TCP only.

PostgreSQL refuses to run as root, and CI runs as root on a fresh Debian: there we run initdb and
postgres as the ``postgres`` account the Debian package creates, owning only the data directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import tempfile
from importlib import resources
from pathlib import Path

from controller.sandbox.binaries import ServerBinaries
from controller.sandbox.errors import INSTALL_HINT, MissingDependencyError, SandboxProcessError
from controller.sandbox.processes import ManagedProcess, ProcessSpec, command_ok, http_ok

SUPERUSER = "postgres"
RUN_AS_WHEN_ROOT = "postgres"
QUERIES_ENV = "GREENLANE_EXPORTER_QUERIES"
QUERIES_RESOURCE = "data/postgres-exporter-queries.yaml"
"""Shipped inside the package (a non-editable ``pip install .`` has no repository ``config/``); the copy in
``config/prometheus/`` is what users deploy, and a test keeps the two identical."""


def exporter_queries_path() -> Path:
    """The query file postgres_exporter reads; ``GREENLANE_EXPORTER_QUERIES`` overrides the packaged one."""
    override = os.environ.get(QUERIES_ENV)
    path = Path(override) if override else Path(str(resources.files("controller.sandbox").joinpath(QUERIES_RESOURCE)))
    if not path.is_file():
        raise MissingDependencyError(f"postgres_exporter query file {path} not found; set {QUERIES_ENV}")
    return path


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(RUN_AS_WHEN_ROOT)
    except KeyError:
        raise MissingDependencyError(
            f"running as root, PostgreSQL needs an unprivileged '{RUN_AS_WHEN_ROOT}' account, which the "
            f"Debian package `postgresql` creates ({INSTALL_HINT}), or run as a normal user"
        ) from None


def _others_can_reach(path: Path) -> bool:
    """Every ancestor is searchable by "other": pytest's and many home tmp dirs are 0700 root."""
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.resolve().parents)


class PostgresServer:
    """initdb into ``data_dir`` then run postgres with settings tuned for a disposable demo."""

    def __init__(
        self, bins: ServerBinaries, *, data_dir: Path, log_dir: Path, port: int, max_connections: int = 300
    ) -> None:
        self.bins, self.log_dir, self.port = bins, log_dir, port
        self.max_connections = max_connections
        self.user = _run_as()
        username = self.user.pw_name if self.user else None
        self._own_tmp: Path | None = None
        if self.user and not _others_can_reach(data_dir):
            # The unprivileged account could not even reach data_dir: use a reachable temp dir.
            self._own_tmp = Path(tempfile.mkdtemp(prefix="greenlane-pgdata-"))
            self._own_tmp.chmod(0o711)
            data_dir = self._own_tmp / "data"
            if not _others_can_reach(data_dir):
                raise MissingDependencyError(
                    f"neither {data_dir.parent} nor the temp dir is reachable by user {username}: "
                    "set TMPDIR to a world-searchable directory"
                )
        self.data_dir = data_dir
        self.process = ManagedProcess(
            ProcessSpec(
                name="postgres",
                argv=[
                    str(bins.postgres),
                    "-D",
                    str(data_dir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"port={port}",
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    f"max_connections={max_connections}",
                ],
                user=username,
                stop_signal=signal.SIGINT,  # "fast" shutdown; SIGTERM would wait for every client
            ),
            log_dir,
        )

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            os.chown(self.data_dir, self.user.pw_uid, self.user.pw_gid)
        self.data_dir.chmod(0o700)
        init = ManagedProcess(
            ProcessSpec(
                name="initdb",
                user=self.user.pw_name if self.user else None,
                argv=[
                    str(self.bins.initdb),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--no-locale",
                    "--encoding=UTF8",
                    "--no-sync",
                ],
            ),
            self.log_dir,
        )
        init.start()
        code = init.wait(timeout_s=120)
        init.stop()
        if code != 0:
            raise SandboxProcessError(f"initdb failed ({code}):\n{init.log_tail()}")

    def start(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            self.initdb()
        self.process.start()

    def stop(self) -> None:
        """Stops the server, then removes a data dir we had to place outside the caller's state dir."""
        self.process.stop()
        if self._own_tmp is not None:
            shutil.rmtree(self._own_tmp, ignore_errors=True)
            self._own_tmp = None

    def wait_ready(self, timeout_s: float) -> None:
        probe = command_ok([str(self.bins.pg_isready), "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER])
        self.process.wait_ready(probe, timeout_s, "accepting connections")


class PostgresExporter:
    """postgres_exporter with our query file, so connections per application_name reach Prometheus."""

    def __init__(self, bins: ServerBinaries, *, dsn: str, log_dir: Path, port: int) -> None:
        self.port = port
        self.process = ManagedProcess(
            ProcessSpec(
                name="postgres-exporter",
                argv=[
                    str(bins.postgres_exporter),
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--extend.query-path={exporter_queries_path()}",
                    "--log.level=warn",
                ],
                env={"DATA_SOURCE_NAME": f"{dsn}?sslmode=disable&application_name=postgres_exporter"},
            ),
            log_dir,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def start(self) -> None:
        self.process.start()

    def wait_ready(self, timeout_s: float) -> None:
        self.process.wait_ready(http_ok(self.url, contains="\npg_up 1"), timeout_s, "reporting pg_up 1")
