"""Finds the Python interpreters the blue and green tracks run on.

The whole point of the demo is "3.11 versus 3.12", so an interpreter is only accepted once it has
told us its own version; a ``python3.12`` on PATH may be a pyenv shim that fails or a stale link.
An explicit path is taken as given (the wrong-python scenario relies on that) and only reported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from controller.sandbox.errors import MissingDependencyError

_PROBE = (
    "import json, platform, sys; "
    "print(json.dumps({'executable': sys.executable, 'version': platform.python_version()}))"
)
_PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Interpreter:
    """A probed interpreter: the real executable behind any shim, and its exact version (``3.12.1``)."""

    path: Path
    version: str

    @property
    def minor(self) -> str:
        """``3.12`` from ``3.12.1``: what ``expectPython`` compares with."""
        return ".".join(self.version.split(".")[:2])


def probe(executable: str | Path) -> Interpreter:
    """Asks the interpreter itself for its executable and version (a shim only knows its own path)."""
    try:
        out = subprocess.run(
            [str(executable), "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=True,
        ).stdout
        data = json.loads(out.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        raise MissingDependencyError(f"{executable} is not a working Python interpreter: {exc}") from exc
    return Interpreter(path=Path(data["executable"]), version=str(data["version"]))


def _pyenv_candidates(minor: str) -> list[Path]:
    """Interpreters of ``minor`` installed by pyenv, newest patch release first."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return []
    try:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=10, check=True)
        bare = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    pattern = re.compile(rf"^{re.escape(minor)}\.(\d+)$")  # plain CPython releases, no -dev / t builds
    matches = [(int(m.group(1)), v) for v in bare.stdout.split() if (m := pattern.match(v))]
    versions_dir = Path(root.stdout.strip()) / "versions"
    return [versions_dir / v / "bin" / f"python{minor}" for _, v in sorted(matches, reverse=True)]


def find_python(minor: str, explicit: str | Path | None = None) -> Interpreter:
    """An interpreter for ``minor`` (``"3.12"``): the explicit path, else PATH, else pyenv.

    The explicit path is not required to match ``minor``: a caller that wants the check compares
    ``Interpreter.minor`` itself and decides what a mismatch means.
    """
    if explicit is not None:
        return probe(explicit)
    tried: list[str] = []
    on_path = shutil.which(f"python{minor}")
    candidates = ([Path(on_path)] if on_path else []) + _pyenv_candidates(minor)
    for candidate in candidates:
        if not os.access(candidate, os.X_OK):
            continue
        try:
            found = probe(candidate)
        except MissingDependencyError as exc:
            tried.append(str(exc))
            continue
        if found.minor == minor:
            return found
        tried.append(f"{candidate} is Python {found.version}")
    detail = f" (tried: {'; '.join(tried)})" if tried else ""
    raise MissingDependencyError(
        f"no Python {minor} interpreter found on PATH (python{minor}) or via pyenv{detail}: "
        f"install one (`pyenv install {minor}` or `apt-get install python{minor}`) "
        "or pass its path explicitly"
    )
