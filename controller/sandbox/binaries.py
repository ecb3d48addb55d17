"""Finds the server binaries the sandbox runs, on this machine, without assuming where they live.

PATH always wins so a developer can point at their own builds; after that we look where
distributions put them (Debian keeps PostgreSQL's server programs in a versioned directory
that is never on PATH, and HAProxy in an sbin directory that non-root users often lack).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from controller.sandbox.errors import INSTALL_HINT, MissingDependencyError

# sbin directories are missing from many users' PATH even though the packages install there.
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
# Versioned PostgreSQL layouts: Debian/Ubuntu, then RHEL's PGDG packages.
_POSTGRES_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin")
_POSTGRES_PROGRAMS = ("initdb", "postgres", "pg_ctl", "pg_isready")


@dataclass(frozen=True)
class ServerBinaries:
    """Absolute paths of every server program one sandbox needs."""

    prometheus: Path
    promtool: Path
    haproxy: Path
    initdb: Path
    postgres: Path
    pg_ctl: Path
    pg_isready: Path
    postgres_exporter: Path


def _env_override(name: str) -> Path | None:
    """``GREENLANE_<NAME>`` lets CI or a developer pin one binary without touching PATH."""
    value = os.environ.get("GREENLANE_" + re.sub(r"[^A-Z0-9]", "_", name.upper()))
    return Path(value) if value else None


def find_program(names: Sequence[str], *, package: str, extra_dirs: Iterable[str] = _SBIN_DIRS) -> Path:
    """First of ``names`` found via its env override, PATH, then ``extra_dirs``."""
    for name in names:
        override = _env_override(name)
        if override is not None:
            if os.access(override, os.X_OK):
                return override
            raise MissingDependencyError(
                f"{override} (from the environment) is not an executable {name}: "
                f"fix or unset that variable, or install the Debian package `{package}` ({INSTALL_HINT})"
            )
    search = os.pathsep.join([os.environ.get("PATH", ""), *extra_dirs])
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return Path(found)
    raise MissingDependencyError(
        f"{' / '.join(names)} not found on PATH or in {', '.join(extra_dirs)}: install the Debian package "
        f"`{package}` ({INSTALL_HINT}) or set GREENLANE_{re.sub(r'[^A-Z0-9]', '_', names[0].upper())}"
    )


def _version_key(directory: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", directory))


def postgres_dirs(patterns: Iterable[str] = _POSTGRES_GLOBS) -> list[Path]:
    """Versioned PostgreSQL bin directories, newest first, holding all the programs we need."""
    dirs = [d for pattern in patterns for d in glob.glob(pattern)]
    dirs.sort(key=_version_key, reverse=True)
    return [Path(d) for d in dirs]


def find_postgres() -> dict[str, Path]:
    """initdb, postgres, pg_ctl and pg_isready from one installation, never mixed across versions.

    A ``postgres`` on PATH (often a symlink) names the installation; its real directory must hold the
    other programs too. Debian's PATH entries for the client tools are pg_wrapper scripts that pick a
    system cluster, which is why we never take those from PATH one by one.
    """
    override = _env_override("postgres")
    on_path = str(override) if override else shutil.which("postgres")
    candidates = [Path(os.path.realpath(on_path)).parent] if on_path else []
    for directory in [*candidates, *postgres_dirs()]:
        if all(os.access(directory / p, os.X_OK) for p in _POSTGRES_PROGRAMS):
            return {p: directory / p for p in _POSTGRES_PROGRAMS}
    raise MissingDependencyError(
        "PostgreSQL server programs (initdb, postgres, pg_ctl, pg_isready) not found beside a `postgres` on "
        f"PATH or in {', '.join(_POSTGRES_GLOBS)}: install the Debian package `postgresql` ({INSTALL_HINT})"
    )


def find_server_binaries() -> ServerBinaries:
    """Every server binary, or a MissingDependencyError naming the first one missing and how to install it."""
    pg = find_postgres()
    return ServerBinaries(
        prometheus=find_program(["prometheus"], package="prometheus"),
        promtool=find_program(["promtool"], package="prometheus"),
        haproxy=find_program(["haproxy"], package="haproxy"),
        initdb=pg["initdb"],
        postgres=pg["postgres"],
        pg_ctl=pg["pg_ctl"],
        pg_isready=pg["pg_isready"],
        postgres_exporter=find_program(
            ["prometheus-postgres-exporter", "postgres_exporter"], package="prometheus-postgres-exporter"
        ),
    )
