"""Builds and caches one virtualenv per interpreter for the demo app.

A cached venv is only as good as the interpreter it points at: pyenv can rebuild 3.12.1 in place
and a venv made from the old build then fails in odd ways. So the cache key covers the interpreter's
path, version and file identity plus the requirements, and a reused venv must still import the
app's dependencies and report the same version before we trust it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog

from controller.sandbox.errors import SandboxError
from controller.sandbox.pythons import Interpreter, probe

log = structlog.get_logger(__name__)

APP_DIR = Path(__file__).resolve().parent / "app"
REQUIREMENTS = APP_DIR / "requirements.txt"
MARKER = "greenlane-venv.json"
_CHECK_IMPORTS = "import prometheus_client, psycopg, psycopg_pool"
_PIP_TIMEOUT_S = 600


@dataclass(frozen=True)
class AppVenv:
    """A ready venv: its python, the exact interpreter version, and whether we just built it."""

    path: Path
    python: Path
    version: str
    built: bool
    seconds: float


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/greenlane/venvs``, falling back to ``~/.cache`` as the XDG spec says."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "greenlane" / "venvs"


def cache_key(interpreter: Interpreter, requirements: str) -> str:
    """Changes whenever the interpreter (path, version, binary) or the requirements change."""
    st = interpreter.path.stat()
    ident = f"{interpreter.path}|{interpreter.version}|{st.st_size}|{st.st_mtime_ns}|{requirements}"
    digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
    return f"py{interpreter.version}-{digest}"


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Two demos or test workers building the same venv must not pip-install into it concurrently."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _usable(venv: Path, interpreter: Interpreter) -> bool:
    python = venv / "bin" / "python"
    if not (venv / MARKER).is_file() or not python.exists():
        return False
    try:
        if probe(python).version != interpreter.version:
            return False
        subprocess.run([str(python), "-c", _CHECK_IMPORTS], capture_output=True, timeout=60, check=True)
    except (SandboxError, OSError, subprocess.SubprocessError):
        return False
    return True


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise SandboxError(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n" + "\n".join(tail))


def _build(venv: Path, interpreter: Interpreter) -> None:
    if venv.exists():
        shutil.rmtree(venv)
    _run([str(interpreter.path), "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)])
    marker = {"interpreter": str(interpreter.path), "version": interpreter.version, "built_at": time.time()}
    (venv / MARKER).write_text(json.dumps(marker))  # written last: its presence means "complete"


def ensure_venv(interpreter: Interpreter, cache_dir: Path | None = None) -> AppVenv:
    """The app venv for ``interpreter``, reused from the cache when still valid, else (re)built."""
    started = time.monotonic()
    root = cache_dir or default_cache_dir()
    venv = root / cache_key(interpreter, REQUIREMENTS.read_text())
    with _locked(root / f"{venv.name}.lock"):
        built = not _usable(venv, interpreter)
        if built:
            log.info("building app venv", python=str(interpreter.path), version=interpreter.version, path=str(venv))
            _build(venv, interpreter)
    seconds = time.monotonic() - started
    log.info("app venv ready", version=interpreter.version, built=built, seconds=round(seconds, 2))
    return AppVenv(path=venv, python=venv / "bin" / "python", version=interpreter.version, built=built, seconds=seconds)
